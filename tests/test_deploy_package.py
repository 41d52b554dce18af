"""The project as the installers install it: a wheel, not an editable checkout. The
wheel must carry the web pages' templates and static files (package data), or an
installed hub or gate serves no page at all (issue 12, item 10)."""
import os
import shutil
import subprocess
import sys
import time
import urllib.request
import zipfile
from pathlib import Path

import pytest

from hub import users
from hub.wheelhouse import _not_source
from tests.processes import Process, free_port, port_open, wait_until

ROOT = Path(__file__).resolve().parent.parent
PAGES = ["hub/web/templates/login.html", "hub/web/templates/base.html",
         "hub/web/static/app.css", "hub/web/static/app.js",
         "kiosk/web/templates/kiosk.html", "kiosk/web/static/kiosk.css",
         "kiosk/web/static/kiosk.js"]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    """The project's wheel, built offline from a copy of the checkout (what install-*.sh
    and `hub wheelhouse build` do, minus the download of setuptools)."""
    tmp = tmp_path_factory.mktemp("wheel")
    shutil.copytree(ROOT, tmp / "src", ignore=_not_source)
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps",
                    "--no-build-isolation", "--wheel-dir", tmp / "dist", tmp / "src"],
                   check=True, capture_output=True, timeout=300)
    return next((tmp / "dist").glob("gatehouse-*.whl"))


def test_the_wheel_carries_templates_and_static_files(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    assert not [p for p in PAGES if p not in names]
    # Every template and static file of the checkout, not just the ones named above.
    # The district's pages and the units `district units` writes from the package.
    for folder in ("hub/web/templates", "hub/web/static", "kiosk/web/templates",
                   "kiosk/web/static", "district/web/templates", "district/web/static",
                   "district/systemd"):
        for f in (ROOT / folder).iterdir():
            assert f"{folder}/{f.name}" in names, f"{folder}/{f.name}"
    assert not any(n.startswith(("tests/", "deploy/", "bench/")) for n in names)


def test_an_installed_copy_serves_the_admin_page(wheel, compound, tmp_path):
    site = tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps",
                    "--no-index", "--target", site, wheel], check=True, capture_output=True,
                   timeout=300)
    # The installed copy first on the path, run from elsewhere: the checkout is not used.
    env = {**os.environ, "PYTHONPATH": str(site)}
    where = subprocess.run(
        [sys.executable, "-c", "import hub, kiosk, flask; from importlib.resources import "
         "files; print(hub.__file__); print(flask.Flask('kiosk.web').jinja_env."
         "get_template('kiosk.html').filename); print(files('kiosk.web') / 'static' / "
         "'kiosk.js')"],
        env=env, cwd=tmp_path, capture_output=True, text=True, check=True)
    hub_file, kiosk_template, kiosk_js = where.stdout.split()
    assert hub_file.startswith(str(site)) and kiosk_template.startswith(str(site))
    assert Path(kiosk_js).is_file()
    users.add_user(compound.db, "admin", "correct-horse-battery", "admin", int(time.time()))
    port = free_port()
    web = Process([sys.executable, "-c", "from hub.cli import main; main()", "web", "--home",
                   compound.home.root, "--port", port, "--no-cookie-secure"],
                  tmp_path / "web.log", {"PYTHONPATH": str(site)})
    web.start()
    try:
        wait_until(lambda: port_open(port) or not web.running(), 30, message="hub web")
        assert web.running(), web.output()
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/login", timeout=10) as r:
            assert r.status == 200 and b"<form" in r.read()
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/static/app.css", timeout=10) as r:
            assert r.status == 200
    finally:
        web.stop()
    assert "TemplateNotFound" not in web.output()
