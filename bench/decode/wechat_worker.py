"""Runs inside the WeChat peer's own venv (opencv-contrib): frames in on stdin, reads out.

Standalone on purpose: that venv has opencv-contrib and numpy only, not the project.
Protocol, one frame at a time: a JSON line {"h", "w", "c"} then h*w*c bytes (uint8);
answer: a JSON line {"texts": [...], "points": [[[x, y] x4] ...], "ms": decode time}.
"""

import json
import sys
import time
from pathlib import Path

import cv2
import numpy as np


def main() -> None:
    models = Path(sys.argv[1])
    cv2.setNumThreads(1)
    detector = cv2.wechat_qrcode_WeChatQRCode(
        str(models / "detect.prototxt"), str(models / "detect.caffemodel"),
        str(models / "sr.prototxt"), str(models / "sr.caffemodel"),
    )
    stdin, stdout = sys.stdin.buffer, sys.stdout
    stdout.write(json.dumps({"ready": cv2.__version__}) + "\n")
    stdout.flush()
    while True:
        header = stdin.readline()
        if not header:
            return
        shape = json.loads(header)
        size = shape["h"] * shape["w"] * shape["c"]
        image = np.frombuffer(stdin.read(size), np.uint8).reshape(shape["h"], shape["w"], shape["c"])
        if shape["c"] == 1:
            image = image[:, :, 0]
        start = time.perf_counter()
        texts, points = detector.detectAndDecode(image)
        ms = (time.perf_counter() - start) * 1000
        stdout.write(json.dumps({
            "texts": list(texts),
            "points": [np.asarray(p).reshape(-1, 2).round().astype(int).tolist() for p in points],
            "ms": ms,
        }) + "\n")
        stdout.flush()


if __name__ == "__main__":
    main()
