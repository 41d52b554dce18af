"""asyncio.run() for the review's tests, also after a session-scoped sync Playwright
(tests/browser_fixtures.py) left its event loop running in this worker's main thread,
where asyncio.run() refuses: each call runs in a thread of its own."""
from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any


def in_thread(fn: Callable[..., Any], *args: Any) -> Any:
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(fn, *args).result()


def run_async(make: Callable[[], Any]) -> Any:
    """asyncio.run(make()) in a fresh thread (the coroutine is made there too)."""
    import asyncio
    return in_thread(lambda: asyncio.run(make()))
