"""A signed-in volunteer registers a walk-in visitor (at a gate or the parcel area);
kiosk/visitors.py keeps only the masked name and phone."""
from __future__ import annotations

from flask import Blueprint, abort, jsonify

from kiosk.visitors import register_visitor
from kiosk.web.guards import body, screen, volunteer

bp = Blueprint("visitor", __name__)


@bp.post("/api/visitor")
def visitor_register():
    v, data = volunteer(), body()
    name, host = str(data.get("name", "")).strip(), str(data.get("host", "")).strip()
    if not name or not host:
        abort(400, "a visitor needs a name and a host household")
    gate = screen().gate

    def register():
        register_visitor(gate.store, gate.now(), v.id, name[:40],
                         str(data.get("phone", ""))[:20], host[:20],
                         str(data.get("purpose", "")))
        gate.changed()
    gate.call(register)
    return jsonify({"ok": True})
