"""A waitress server on its own thread (the kiosk's screen, tests), stopped cleanly."""
from __future__ import annotations

import logging
import threading

from waitress import create_server

log = logging.getLogger(__name__)


class ThreadedServer:
    def __init__(self, app, host: str = "127.0.0.1", port: int = 0, threads: int = 8,
                 name: str = "web", **options):
        self.server = create_server(app, host=host, port=port, threads=threads,
                                    channel_timeout=30, **options)
        self.port = self.server.effective_port
        self._closing = False
        self.thread = threading.Thread(target=self._run, name=name, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        try:
            self.server.run()
        except (OSError, ValueError):
            # close() pulls the sockets out from under waitress's select loop; that is
            # how it stops, not a failure. Anything else while serving is one.
            if not self._closing:
                log.exception("web server stopped")

    def close(self) -> None:
        self._closing = True
        self.server.close()
        # waitress serves while any connection is open: a screen's live stream or a
        # browser's kept-alive connection held a stopping kiosk for the whole join (5 s,
        # before its door was locked). Closing them ends the loop; a stream's thread
        # asleep between keepalives ends at its next write (ClientDisconnected): not
        # waited for.
        for channel in list(self.server._map.values()):
            channel.close()
        self.server.task_dispatcher.shutdown(cancel_pending=True, timeout=0.2)
        self.thread.join(5)
