"""Sync throughput and latency over a real Mosquitto, on loopback (127.0.0.1) only.

Run: .venv/bin/python -m bench.sync [--quick] [--out FILE]

1. Hub ingest: real HubLinks (one kiosk Store each, outbox pre-filled) send to a real
   HubSync through Mosquitto; timed from the links' start until every row is
   acknowledged end to end (the gate's outbox has no unacknowledged row left).
   Beside it, the broker's own rate for the same batch payloads: plain paho
   publishers, QoS 1, alone (until every PUBACK) and to a plain counting subscriber
   (until it has counted every message).
2. Draining a 100,000-event backlog from one gate.
3. Bundle propagation: the hub writes a new bundle (Compound.set_building), HubSync
   publishes it, and each of 10 gates' HubLinks verifies and writes it.

The hub (HubSync) and the counting subscriber run in a child process of their own, as
`hub serve` would; the gates' links run in this process, the broker in its own. The
whole compound, broker included, lives in temporary directories; every process this
bench starts is stopped in a `finally`, and every wait has a deadline.
"""
