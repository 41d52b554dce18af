"""The bench's own Python packages (nats-py, pika, psycopg) when the project's venv lacks
them: installed once with pip into ~/.cache/gatehouse-bench/district-<key>
(GATEHOUSE_BENCH_CACHE moves it), keyed on the pins, and put at the END of sys.path so
the project's own packages always win."""
from __future__ import annotations

import hashlib
import importlib.util
import os
import subprocess
import sys
from pathlib import Path

PINS = ("nats-py==2.9.0", "pika==1.3.2", "psycopg[binary]==3.2.3")
MODULES = ("nats", "pika", "psycopg")


def cache_dir() -> Path:
    root = os.environ.get("GATEHOUSE_BENCH_CACHE") or Path.home() / ".cache" / "gatehouse-bench"
    key = hashlib.sha256(" ".join(PINS).encode()).hexdigest()[:12]
    return Path(root) / f"district-{key}"


def ensure() -> Path | None:
    """Make nats, pika and psycopg importable; the folder used (None: the venv has them)."""
    if all(importlib.util.find_spec(m) for m in MODULES):
        return None
    target = cache_dir()
    done = target / ".complete"
    if not done.exists():
        print(f"(installing {' '.join(PINS)} for the bench into {target}, once)", file=sys.stderr)
        subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--target", str(target),
                        *PINS], check=True, timeout=900)
        done.write_text(" ".join(PINS) + "\n")
    if str(target) not in sys.path:
        sys.path.append(str(target))
    return target


def env() -> dict[str, str]:
    """PYTHONPATH for a child process that needs the same packages (appended, as above)."""
    target = ensure()
    paths = [p for p in (os.environ.get("PYTHONPATH", ""),) if p]
    root = str(Path(__file__).resolve().parents[2])
    paths = [root, *paths] + ([str(target)] if target else [])
    return {"PYTHONPATH": os.pathsep.join(paths)}
