"""The hub's wheelhouse over HTTP, for gates that have no internet (docs/deploy.md).

`/wheels/` lists the wheels `hub wheelhouse build` put in <home>/hub/wheels as plain
links, which is what `pip install --no-index --find-links http://<hub>:8080/wheels/`
reads; `/wheels/<file>` sends one. Wheels are public code, so there is no login, but
the app only reads: GET and HEAD, plain file names of that one folder (no sub-folders,
no dot files, nothing outside it).
"""
from __future__ import annotations

import html
import re
from pathlib import Path

from werkzeug.middleware.dispatcher import DispatcherMiddleware
from werkzeug.utils import redirect, send_file
from werkzeug.wrappers import Request, Response

from hub.wheelhouse import wheelhouse_dir

# A wheel or sdist name: no slash, no leading dot, so no way out of the folder.
NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.+!-]*\.(whl|tar\.gz|zip)\Z")


def wheel_files(folder: Path) -> list[str]:
    if not folder.is_dir():
        return []
    return sorted(p.name for p in folder.iterdir() if NAME.match(p.name) and p.is_file())


def create_wheels_app(folder: Path):
    @Request.application
    def app(request: Request) -> Response:
        if request.method not in ("GET", "HEAD"):
            return Response("read-only\n", 405, {"Allow": "GET, HEAD"}, mimetype="text/plain")
        path = request.environ.get("PATH_INFO", "")
        if path == "":  # relative links in the listing need the trailing slash
            return redirect(request.script_root + "/", 301)
        name = path[1:]
        if name == "":
            links = "\n".join(f'<a href="{html.escape(n)}">{html.escape(n)}</a><br>'
                              for n in wheel_files(folder))
            return Response(f"<!doctype html>\n<title>Gatehouse wheels</title>\n{links}\n",
                            mimetype="text/html")
        if not NAME.match(name) or not (folder / name).is_file():
            return Response("no such wheel\n", 404, mimetype="text/plain")
        return send_file(folder / name, request.environ, mimetype="application/octet-stream",
                         max_age=3600)
    return app


def mount(wsgi_app, config):
    """Put the wheelhouse at /wheels, beside (not behind) the admin page's login."""
    return DispatcherMiddleware(wsgi_app,
                                {"/wheels": create_wheels_app(wheelhouse_dir(config.home))})
