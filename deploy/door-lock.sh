#!/bin/sh
# Drive the door relay's input to the level that keeps the relay off (door locked).
# Usage: door-lock.sh PIN high|low   (BCM pin; "high" for an active-low relay board)
# pinctrl (Raspberry Pi OS Bookworm, every Pi incl. the Pi 5) or raspi-gpio (older)
# leave the pin driven after they exit. Without either the wiring alone decides.
set -eu
pin=${1:?pin}
level=${2:?high or low}
case "$level" in
  high) d=dh ;;
  low) d=dl ;;
  *) echo "door-lock: level is high or low, not $level" >&2; exit 2 ;;
esac
if command -v pinctrl >/dev/null 2>&1; then
  pinctrl set "$pin" op "$d"
elif command -v raspi-gpio >/dev/null 2>&1; then
  raspi-gpio set "$pin" op "$d"
else
  echo "door-lock: no pinctrl or raspi-gpio; relying on config.txt and the wiring" >&2
fi
