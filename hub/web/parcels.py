"""The parcel area's pages (issue 7): one blueprint at /parcels made of four parts.

parcels_board  the shelf board, search, a parcel's page and its exceptions
parcels_runs   door runs to sealed buildings: run sheets and delivery by scanner
parcels_audit  the daily audit sheet of the shelves
parcels_setup  shelves and the parcel settings (Perm.SHELVES)
"""
from __future__ import annotations

from flask import Blueprint

from hub.web import parcels_audit, parcels_board, parcels_runs, parcels_setup

bp = Blueprint("parcels", __name__, url_prefix="/parcels")
for part in (parcels_runs.bp, parcels_audit.bp, parcels_setup.bp, parcels_board.bp):
    bp.register_blueprint(part)
