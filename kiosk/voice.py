"""Spoken prompts for the gate, generated once at install time with espeak-ng.

The 2022 gate terminals announced status and test age; volunteers in face shields
hear better than they read. The screen plays these files when voice is on.
"""
from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

PROMPTS = {
    "admit": "绿码，请通行",
    "refer": "请稍候，志愿者核实",
    "refuse": "禁止通行",
    "show_pass": "请出示出入证",
    "show_health": "请出示健康码",
    "wrong_parcel": "拿错了，请放回",
    **{f"test_{n}": f"核酸{'零一二三四五六七'[n]}天" for n in range(8)},
}


def generate(folder: Path, voice: str = "cmn", speed: int = 150) -> list[Path]:
    """Write one WAV per prompt into folder with espeak-ng; FileNotFoundError without it."""
    exe = shutil.which("espeak-ng")
    if exe is None:
        raise FileNotFoundError("espeak-ng is not installed: apt-get install espeak-ng")
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for name, text in PROMPTS.items():
        path = folder / f"{name}.wav"
        subprocess.run([exe, "-v", voice, "-s", str(speed), "-w", str(path), text],
                       check=True, capture_output=True, timeout=60)
        written.append(path)
    return written
