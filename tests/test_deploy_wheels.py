"""The hub's wheelhouse: `hub wheelhouse build` fills <home>/hub/wheels with the pinned
wheels of both machines and the project's own, and the admin page serves that folder
at /wheels/, without login, read-only, and nothing outside it."""
import base64
import hashlib
import subprocess
import sys
import threading
import zipfile
from pathlib import Path

import pytest
from werkzeug.serving import make_server

from hub import wheelhouse
from hub.web import WebConfig, create_app

ROOT = Path(__file__).resolve().parent.parent


def tiny_wheel(folder: Path, name: str = "gh_tiny", version: str = "1.0") -> Path:
    """A minimal valid pure-Python wheel."""
    dist = f"{name}-{version}"
    files = {f"{name}.py": b"ANSWER = 42\n",
             f"{dist}.dist-info/METADATA":
                 f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n".encode(),
             f"{dist}.dist-info/WHEEL":
                 b"Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n"}
    record = "".join(
        f"{n},sha256={base64.urlsafe_b64encode(hashlib.sha256(d).digest()).rstrip(b'=').decode()},{len(d)}\n"
        for n, d in files.items()) + f"{dist}.dist-info/RECORD,,\n"
    path = folder / f"{dist}-py3-none-any.whl"
    with zipfile.ZipFile(path, "w") as z:
        for n, d in files.items():
            z.writestr(n, d)
        z.writestr(f"{dist}.dist-info/RECORD", record)
    return path


@pytest.fixture
def web(compound):
    folder = wheelhouse.wheelhouse_dir(compound.home)
    folder.mkdir(parents=True)
    tiny_wheel(folder)
    (folder / "sub").mkdir()
    (folder / "sub" / "inner-1.0-py3-none-any.whl").write_bytes(b"x")
    (folder / ".hidden-1.0-py3-none-any.whl").write_bytes(b"x")
    (folder / "notes.txt").write_text("not a wheel")
    app = create_app(WebConfig(home=compound.home, cookie_secure=False, secret_key=b"k" * 32))
    return app, folder


def test_wheels_are_listed_and_served_without_login(web):
    app, folder = web
    client = app.test_client()
    r = client.get("/wheels/")
    assert r.status_code == 200
    assert '<a href="gh_tiny-1.0-py3-none-any.whl">' in r.text
    assert "inner" not in r.text and "hidden" not in r.text and "notes.txt" not in r.text
    with client.get("/wheels/gh_tiny-1.0-py3-none-any.whl") as r:
        assert r.status_code == 200
        assert r.data == (folder / "gh_tiny-1.0-py3-none-any.whl").read_bytes()
    with client.head("/wheels/gh_tiny-1.0-py3-none-any.whl") as r:
        assert r.status_code == 200 and r.data == b""
    assert client.get("/wheels").status_code == 301       # relative links need the slash
    # The rest of the admin page still asks for a login.
    assert client.get("/").status_code in (302, 303)


def test_read_only_and_nothing_outside_the_folder(web, compound):
    app, _ = web
    client = app.test_client()
    for method in ("post", "put", "delete", "patch"):
        with getattr(client, method)("/wheels/gh_tiny-1.0-py3-none-any.whl", data=b"x") as r:
            assert r.status_code == 405, method
    assert client.post("/wheels/", data=b"x").status_code == 405
    secret = compound.home.hub_key.read_bytes()
    for path in ("/wheels/../hub.key", "/wheels/..%2fhub.key", "/wheels/%2e%2e/hub.key",
                 "/wheels/%2e%2e%2fhub.key", "/wheels/..%5chub.key", "/wheels/sub/inner-1.0-py3-none-any.whl",
                 "/wheels/.hidden-1.0-py3-none-any.whl", "/wheels/notes.txt",
                 "/wheels//etc/passwd", "/wheels/%2fetc%2fpasswd", "/wheels/hub.key",
                 "/wheels/..", "/wheels/gh_tiny-1.0-py3-none-any.whl%00.whl"):
        with client.get(path) as r:
            assert r.status_code in (301, 302, 303, 308, 400, 404), (path, r.status_code)
            assert secret not in r.data and b"root:" not in r.data, path


def test_pip_installs_from_the_served_wheelhouse(web, tmp_path):
    app, _ = web
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_port}/wheels/"
        r = subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-index",
                            "--find-links", url, "--target", tmp_path / "t", "gh_tiny==1.0"],
                           capture_output=True, text=True, timeout=120, check=False)
        assert r.returncode == 0, r.stderr
        assert (tmp_path / "t" / "gh_tiny.py").read_text() == "ANSWER = 42\n"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def test_build_downloads_both_machines_pins_and_builds_the_project(tmp_path):
    calls = []

    def run(cmd, check):
        calls.append(cmd)
        if cmd[3] == "wheel":   # the project, built from a copy of the checkout
            assert Path(cmd[-1]) != ROOT and (Path(cmd[-1]) / "pyproject.toml").exists()
            (Path(cmd[cmd.index("--wheel-dir") + 1]) / "gatehouse-0.1.0-py3-none-any.whl").touch()
        return subprocess.CompletedProcess(cmd, 0)
    dest = tmp_path / "wheels"
    dest.mkdir()
    (dest / "gatehouse-0.0.9-py3-none-any.whl").touch()   # an old build goes
    names = wheelhouse.build(ROOT, dest, run=run)
    assert names == ["gatehouse-0.1.0-py3-none-any.whl"]
    downloads = [c for c in calls if c[3] == "download"]
    assert len(downloads) == 4                      # {aarch64, x86_64} x {gate, hub}
    for arch in ("aarch64", "x86_64"):
        for role in ("gate", "hub"):
            assert any(f"manylinux_2_34_{arch}" in c and f"manylinux2014_{arch}" in c and
                       str(ROOT / "deploy" / "requirements" / f"{role}.txt") in c
                       for c in downloads), (arch, role)
    for c in downloads:
        assert "--no-deps" in c and "--only-binary=:all:" in c
        assert c[c.index("--python-version") + 1] == "3.11"


def test_requirements_are_exact_and_agree_between_gate_and_hub():
    def pins(role):
        out = {}
        for line in (ROOT / "deploy" / "requirements" / f"{role}.txt").read_text().splitlines():
            if line and not line.startswith("#"):
                name, sep, version = line.partition("==")
                assert sep and version, line
                out[name.lower().replace("_", "-")] = version
        return out
    gate, hub = pins("gate"), pins("hub")
    assert gate["numpy"].startswith("1.26.") and gate["opencv-python-headless"].startswith("4.11.")
    assert {"lgpio", "gpiozero", "zxing-cpp", "pyzbar"} <= gate.keys()
    # A hub installs no camera or GPIO stack.
    assert not {"numpy", "opencv-python-headless", "zxing-cpp", "pyzbar", "gpiozero",
                "lgpio"} & hub.keys()
    assert {"openpyxl", "segno", "flask", "paho-mqtt"} <= hub.keys()
    # One machine may hold both: what they share, they pin alike.
    assert {k: gate[k] for k in gate.keys() & hub.keys()} == \
        {k: hub[k] for k in gate.keys() & hub.keys()}


def test_wheelhouse_build_command(compound, monkeypatch, tmp_path):
    """`hub wheelhouse build` (also `python -m hub.wheelhouse build`) fills the hub's folder."""
    from click.testing import CliRunner
    seen = {}

    def build(project, dest, arches):
        seen.update(project=project, dest=dest, arches=arches)
        dest.mkdir(parents=True)
        (dest / "x-1-py3-none-any.whl").write_bytes(b"x" * 1000)
        return ["x-1-py3-none-any.whl"]
    monkeypatch.setattr(wheelhouse, "build", build)
    r = CliRunner().invoke(wheelhouse.wheelhouse_group,
                           ["build", "--home", str(compound.home.root), "--project", str(ROOT),
                            "--arch", "aarch64"])
    assert r.exit_code == 0, r.output
    assert seen == {"project": ROOT, "dest": compound.home.hub / "wheels",
                    "arches": ("aarch64",)}
    assert "1 files" in r.output and "/wheels/" in r.output
    # A folder that is not the project: said so, nothing built.
    seen.clear()
    r = CliRunner().invoke(wheelhouse.wheelhouse_group,
                           ["build", "--home", str(compound.home.root), "--project",
                            str(tmp_path)])
    assert r.exit_code != 0 and "--project" in r.output and seen == {}
