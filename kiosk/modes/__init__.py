"""The kiosk's modes (docs/architecture.md, "Kiosk"): what a scan means at this kiosk.

base.py: the `Mode` interface and its typed `ModeContext`; stack.py: the routing and
precedence; registry.py: the one list of modes; one file per mode (entry.py,
courier.py, pickup.py). Nothing is imported here, so importing base.py does not pull
in every mode.
"""
