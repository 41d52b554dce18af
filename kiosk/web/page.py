"""The screen's page and what it loads beside its script: the camera preview and the
spoken prompts. Everything is served from the Pi."""
from __future__ import annotations

from flask import Blueprint, Response, abort, render_template, send_from_directory

from kiosk.scanner.preview import preview_jpeg
from kiosk.web.entry import REFERRAL_REASONS
from kiosk.web.guards import screen

bp = Blueprint("page", __name__)


@bp.get("/")
def page():
    s = screen()
    return render_template("kiosk.html", token=s.token, reasons=REFERRAL_REASONS,
                           gate=s.gate.config.gate_id)


@bp.get("/preview.jpg")
def preview():
    gate = screen().gate
    jpeg = preview_jpeg(gate.last_frame, list(gate.last_symbols))
    if jpeg is None:
        return Response(status=204)
    return Response(jpeg, mimetype="image/jpeg")


@bp.get("/voice/<name>.wav")
def voice(name: str):
    voice_dir = screen().voice_dir
    if voice_dir is None or not (voice_dir / f"{name}.wav").is_file():
        abort(404)
    return send_from_directory(voice_dir, f"{name}.wav")
