"""Parcels: the hub's parcels per second, and a drop-off scan's way to its slot.

Run: .venv/bin/python -m bench.parcels [--quick] [--out FILE] [--sizes 5000,20000]
     [--repeats N]
(the default is 3 runs each of 5,000 and 20,000 parcels, 200 scans and a burst of 500:
about 2 minutes on a 2-core x86 machine; --quick, 1 run of 5,000 and 50 scans: ~20 s)

1. Hub ingest, in this process, on a real hub database (Compound.create in a temporary
   home; one shelf per building, a cold shelf and an open overflow shelf, room for every
   parcel): the gates' `parcel` events, built as kiosk/modes/courier.py (CourierMode.add_waybill) logs
   them, go through hub.ingest.ingest in batches of 500 (one message, one transaction
   each, as HubSync hands them over); every parcel gets its slot, pickup code and hold
   inside the ingest (hub/parcels/intake.py). Beside it, the same number of `volunteer`
   events (a tiny payload, nothing parcel-specific), so the cost of slotting shows.
   Whether slotting stays flat as the shelves fill: one batch of 500 into a hub
   already holding 9,500 and 19,500 live parcels (filled straight into the tables the
   way the slot rule, cold reserve included, would have placed them; the slots learn
   their occupants from the insert trigger). Then the timer pass
   (hub.parcels.worker.tick) once every hold has ended: releases, and one pickup
   message queued per household; timed as a whole and per write transaction (the
   longest is how long the gates' ingest could wait behind it).
2. Scan to slot, end to end with real processes on loopback: Mosquitto, `hub serve`,
   `kiosk run` (file camera showing a courier badge, mock pins). A signed-in volunteer
   keys waybills on the kiosk's screen API (POST /api/courier), one at a time; the
   time runs from right before the POST until the parcel's row in the hub database
   has a slot (a read-only connection polls every 2 ms). Then a burst: 500 waybills
   posted as fast as one client can, timed until all 500 are slotted.

Every process started here is stopped in a `finally`; every wait has a deadline.
"""
