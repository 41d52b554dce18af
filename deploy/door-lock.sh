#!/bin/sh
# Drive the door relay's input to the level that keeps the relay off (door locked).
# Usage: door-lock.sh PIN high|low [CHIP]   (BCM pin; "high" for an active-low board)
# Run at boot (gatehouse-door-lock.service) and after every end of `kiosk run`
# (ExecStopPost=): a Pi's kernel keeps a released line at its last level, so a kiosk
# killed mid-pulse would leave the door open until something drives the line again.
# Tools, first found: pinctrl (Raspberry Pi OS), gpioset (Debian's gpiod, libgpiod v1),
# raspi-gpio (older Pi OS). pinctrl and raspi-gpio address the Pi's header by BCM
# number; gpioset needs the chip: CHIP, else $RELAY_CHIP, else gpiochip4 on a Pi 5 and
# gpiochip0 elsewhere. The level stays after they exit on a Pi (see above).
set -eu
pin=${1:?pin}
level=${2:?high or low}
case "$level" in
  high) d=dh v=1 ;;
  low) d=dl v=0 ;;
  *) echo "door-lock: level is high or low, not $level" >&2; exit 2 ;;
esac
chip=${3:-${RELAY_CHIP:-}}

if command -v pinctrl >/dev/null 2>&1; then
  pinctrl set "$pin" op "$d"
elif command -v gpioset >/dev/null 2>&1; then
  if [ -z "$chip" ]; then
    chip=0
    tr -d '\0' 2>/dev/null < /proc/device-tree/model | grep -q "Raspberry Pi 5" && chip=4
  fi
  case "$chip" in /*) dev=$chip ;; gpiochip*) dev=/dev/$chip ;; *) chip=gpiochip$chip dev=/dev/$chip ;; esac
  if [ ! -e "$dev" ]; then  # a mock-pin gate; a real gate's kiosk refuses to start too
    echo "door-lock: no $dev: nothing to drive" >&2
    exit 0
  fi
  # libgpiod v1 (Debian 12), else v2's spelling (Debian 13).
  gpioset --mode=exit "$chip" "$pin=$v" 2>/dev/null || gpioset -t0 -c "$chip" "$pin=$v"
elif command -v raspi-gpio >/dev/null 2>&1; then
  raspi-gpio set "$pin" op "$d"
else
  echo "door-lock: no pinctrl, gpioset or raspi-gpio; only config.txt and the wiring hold the relay off" >&2
  exit 0
fi
echo "door-lock: GPIO $pin driven $level (relay off, door locked)"
