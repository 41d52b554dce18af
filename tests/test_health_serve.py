"""`hub serve` and `hub web` answer /healthz and /metrics on loopback ports of their own
(GATEHOUSE_HEALTH_PORT, GATEHOUSE_WEB_HEALTH_PORT), by loopback names only, and a port
already taken costs the probe, never the hub."""
import json
import urllib.error
import urllib.request

from tests.processes import BIN, Process, free_port, wait_until


def _get(port: int, path: str, host: str | None = None) -> tuple[int, bytes]:
    req = urllib.request.Request(f"http://127.0.0.1:{port}{path}",
                                 headers={"Host": host} if host else {})
    try:
        with urllib.request.urlopen(req, timeout=5) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()
    except OSError:
        return 0, b""


def test_hub_serve_answers_its_health_on_its_own_port(compound, broker_proc, tmp_path):
    port = free_port()
    hub = Process([BIN / "hub", "serve", "--home", compound.home.root], tmp_path / "hub.log",
                  {"GATEHOUSE_HEALTH_PORT": str(port)}).start()
    try:
        wait_until(lambda: _get(port, "/healthz")[0] == 200, 30,
                   message="hub serve's /healthz to say ok")
        doc = json.loads(_get(port, "/healthz")[1])
        assert doc["checks"]["broker"]["ok"] and doc["checks"]["database"]["ok"]
        status, text = _get(port, "/metrics")
        assert status == 200 and b"gatehouse_" in text          # from this machine
        assert _get(port, "/healthz", host="evil.example")[0] == 421   # a rebound name
        # A second hub on the same port: it runs, without its probe.
        second = Process([BIN / "hub", "serve", "--home", compound.home.root],
                         tmp_path / "hub2.log", {"GATEHOUSE_HEALTH_PORT": str(port)}).start()
        try:
            wait_until(lambda: "health server off" in second.output(), 30,
                       message="the second hub to say its health port is taken")
            assert second.running()
        finally:
            second.stop()
    finally:
        hub.stop()
    assert "Traceback" not in hub.output()
