"""Parcels at the hub, from the courier at the gate to the resident's door (issue 7).

states    the states and the one table of allowed changes (`move`)
intake    from a gate's drop-off or a group purchase to a slot, a code and a hold
shelving  shelves, tiers, slots; the slot rule; pickup codes from the day's counter
handout   pickups reported by parcel-area kiosks, returns, exceptions
runs      door runs to sealed buildings: run sheets and delivery by scan
audit_sheet  the daily walk of the shelves
notices   what residents are told (through hub.notify's outbox)
manifest  what parcel-area kiosks hand out from
worker    the timers: holds ending, waiting parcels, overdue
schema    the parcel tables (a migration set listed in hub/schema.py)

The package imports none of its modules: a reader imports the one it means, and the
schema can be listed without loading the parcel rules (no import circle through here).
"""
