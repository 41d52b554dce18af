"""A receiver that trickles its answer cannot hold the hub's outbox (found by the attacking
review of session 4): a byte a second never tripped the senders' 5 s socket timeout, the
one outbox thread waited for ever and no resident's pickup code left the hub."""
from __future__ import annotations

import socket
import threading

from hub import notify
from hub.alert_delivery import AlertDelivery, config_path
from hub.alert_kinds import AlertKind
from hub.alert_rules import AlertRoute, AlertRules, RouteChannel, save_rules
from tests.test_alert_delivery import T, db, raise_alert  # noqa: F401


def test_a_trickling_alert_endpoint_does_not_hold_the_outbox_forever(db, tmp_path):  # noqa: F811
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(5)
    port = srv.getsockname()[1]
    stop = threading.Event()

    def serve():
        conn, _ = srv.accept()
        conn.recv(65536)
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n")
        while not stop.wait(1.0):        # one byte a second: never 5 s of silence
            try:
                conn.sendall(b" ")
            except OSError:
                return
        conn.close()
    threading.Thread(target=serve, daemon=True).start()
    path = config_path(tmp_path / "hub")
    save_rules(path, AlertRules((AlertRoute("office", RouteChannel.WECOM,
                                            f"http://127.0.0.1:{port}/cgi-bin/webhook/send?key=k",
                                            burst_s=0),)))
    alerts = AlertDelivery(path)
    alerts.run(db, T)
    raise_alert(db, T + 1, kind=AlertKind.DOOR_FORCED)
    sent = tmp_path / "sent.jsonl"
    done = threading.Event()

    def worker_pass():   # what hub serve's one notify thread does every 5 s
        notify.outbox_pass(db_copy(), notify.FileSender(sent), AlertDelivery(path), T + 2)
        done.set()

    def db_copy():
        from hub import schema
        return schema.open_db(tmp_path / "hub" / "hub.db")
    t = threading.Thread(target=worker_pass, daemon=True)
    t.start()
    try:
        # The pass ends (the post's whole-answer deadline, 15 s), the row waits to be
        # tried again.
        assert done.wait(60), "outbox pass still stuck on the alert receiver after 60 s"
    finally:
        stop.set()
        srv.close()
