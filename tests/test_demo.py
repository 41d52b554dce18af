"""The README's run command: the demo starts broker, hub and two gates, and stops cleanly."""
import re
import subprocess
import sys


def test_demo_runs_a_morning_and_stops_cleanly(tmp_path):
    result = subprocess.run([sys.executable, "-m", "demo", "--home", str(tmp_path / "demo"),
                             "--seconds", "28"], capture_output=True, text=True, timeout=120)
    out = re.sub(r"\x1b\[[0-9;]*m", "", result.stdout)
    assert result.returncode == 0, result.stderr[-2000:]
    assert re.search(r"gate-north +in +ADMIT +张\*丰", out), out
    assert re.search(r"gate-north +in +REFER +李\* +HEALTH_YELLOW", out), out
    assert "building 7 sealed" in out
    assert re.search(r"gate-south +out +REFUSE +张\*丰 +BUILDING_SEALED", out), out
    assert "stopped unexpectedly" not in out and "door_held" not in out
    assert out.rstrip().endswith(f"stopped; the compound stays in {tmp_path / 'demo'}")
