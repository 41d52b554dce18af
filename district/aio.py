"""Running a coroutine to its end from plain code: the command line, `district run`,
the tests' fixtures."""
from __future__ import annotations

import asyncio
from asyncio.runners import run as _asyncio_run   # the original, whatever patches asyncio.run
from collections.abc import Coroutine
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

T = TypeVar("T")


def run(coro: Coroutine[Any, Any, T]) -> T:
    """asyncio.run, also from a thread whose event loop is already running (Playwright's
    sync API keeps one running in a test process's main thread): then in a thread of
    its own."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return _asyncio_run(coro)
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(_asyncio_run, coro).result()
