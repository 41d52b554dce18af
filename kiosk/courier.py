"""Old name of kiosk/courier_session.py, kept only for bench/parcels/common.py (Parcel);
delete once it imports kiosk.courier_session."""
from kiosk.courier_session import IDLE_END_S, CourierSession, Parcel

__all__ = ["IDLE_END_S", "CourierSession", "Parcel"]
