#!/bin/sh
# Install a Gatehouse gate on Raspberry Pi OS Bookworm 64-bit (Pi 4, Pi 5), or on
# Debian 12 with a GPIO chip: the door relay held locked from boot and after every end
# of the kiosk, the kiosk service, Chromium in kiosk mode on the touch screen, time from
# the hub, bounded logs; then enrollment with the hub's one-time code. Run it again to
# change a setting: the pins are rewritten everywhere (config.txt, units, kiosk config).
#
#   sudo HUB_IP=192.168.1.10 CAMERA=v4l2:0 ./deploy/install-kiosk.sh
#
# Settings (environment or /etc/gatehouse/install.env):
#   HUB_IP        the hub's LAN address (time server, enrollment); required
#   HUB_WEB_PORT  the hub's admin page port (8080)
#   CAMERA        v4l2:0 for a USB camera, picamera2 for a ribbon camera
#   DIRECTION     in | out
#   RELAY_PIN     BCM number of the relay input (17)
#   RELAY_ACTIVE_HIGH  0: the board switches on a low input (most boards); 1: on high
#   PIN_FACTORY   lgpio (the default on a Pi; elsewhere say it, with RELAY_CHIP), or
#                 mock: simulated pins for a gate with no door (said on screen)
#   RELAY_CHIP    N of /dev/gpiochipN holding the relay line (Pi 5: 4, else 0)
#   SCREEN        0: no touch screen
#   ENROLL        camera | code | later (camera; later when already enrolled);
#                 ENROLL_CODE=TEXT enrolls without asking; ENROLL_WAIT seconds (600)
#   WHEELHOUSE    a folder or URL of wheels (http://HUB_IP:8080/wheels/): no internet
. "$(dirname "$0")/lib.sh"
need_root
os_check
: "${HUB_IP:?set HUB_IP to the hub's LAN address (time server, enrollment)}"
CAMERA_GIVEN=${CAMERA:+1}
DIRECTION_GIVEN=${DIRECTION:+1}
CAMERA=${CAMERA:-v4l2:0?width=640&height=480}
DIRECTION=${DIRECTION:-in}
RELAY_PIN=${RELAY_PIN:-17}
RELAY_ACTIVE_HIGH=${RELAY_ACTIVE_HIGH:-0}
SCREEN=${SCREEN:-1}
if [ "$RELAY_ACTIVE_HIGH" = 1 ]; then LOCKED=low FW=dl ACTIVE=true
else LOCKED=high FW=dh ACTIVE=false; fi

# The pins first, before anything changes: a gate never ends up on simulated pins (a
# screen that "works" with no door) unless PIN_FACTORY=mock says so.
if [ -z "${PIN_FACTORY:-}" ]; then
  is_pi || die "not a Raspberry Pi (no /proc/device-tree/model): give PIN_FACTORY=lgpio RELAY_CHIP=N for this machine's /dev/gpiochipN, or PIN_FACTORY=mock for a gate with no door"
  PIN_FACTORY=lgpio
fi
case "$PIN_FACTORY" in
  lgpio)
    if [ -z "${RELAY_CHIP:-}" ]; then
      # A Pi 5's header is the RP1 chip, gpiochip4 (newer kernels keep that name as a link).
      RELAY_CHIP=0
      case "$(pi_model)" in "Raspberry Pi 5"*) [ -e /dev/gpiochip4 ] && RELAY_CHIP=4 ;; esac
    fi
    [ -e "/dev/gpiochip$RELAY_CHIP" ] ||
      die "no /dev/gpiochip$RELAY_CHIP: set RELAY_CHIP to the chip of the relay line (ls /dev/gpiochip*)" ;;
  mock)
    RELAY_CHIP=${RELAY_CHIP:-0}
    warn "PIN_FACTORY=mock: SIMULATED PINS, this gate drives no door (its screen and the office say so)" ;;
  *) die "PIN_FACTORY is lgpio (real pins) or mock (no door), not $PIN_FACTORY" ;;
esac

say "door relay off from the firmware on: config.txt gpio=$RELAY_PIN=op,$FW"
BOOTCFG=/boot/firmware/config.txt
[ -e "$BOOTCFG" ] || BOOTCFG=/boot/config.txt
if [ -e "$BOOTCFG" ]; then
  firmware_gpio "$BOOTCFG" "$RELAY_PIN" "$FW"
else
  warn "no config.txt (not a Pi): until door-lock.service runs, only the wiring holds the relay off"
fi

PKGS="python3 python3-venv libzbar0 espeak-ng fonts-noto-cjk v4l-utils ca-certificates
  python3-evdev"
# A hub on this machine serves time with chrony: installing timesyncd would remove it.
has_pkg chrony || PKGS="$PKGS systemd-timesyncd"
if is_pi; then
  PKGS="$PKGS raspi-utils"   # pinctrl, for door-lock.sh
  case "$CAMERA" in picamera2*) PKGS="$PKGS python3-picamera2" ;; esac
else
  PKGS="$PKGS gpiod"         # gpioset, for door-lock.sh
fi
if [ "$SCREEN" = 1 ]; then
  PKGS="$PKGS cage $(apt-cache show chromium-browser >/dev/null 2>&1 && echo chromium-browser || echo chromium)"
fi
# shellcheck disable=SC2086
apt_install $PKGS
"$DEPLOY_DIR/door-lock.sh" "$RELAY_PIN" "$LOCKED" "$RELAY_CHIP" || true

make_user
if ! getent group gpio >/dev/null; then
  # Debian has no gpio group (Pi OS has, with its udev rule): the kiosk opens the chip
  # as user $GH_USER, never as root.
  addgroup --system gpio
  install -d /etc/udev/rules.d
  echo 'SUBSYSTEM=="gpio", KERNEL=="gpiochip*", GROUP="gpio", MODE="0660"' \
    > /etc/udev/rules.d/60-gatehouse-gpio.rules
  udevadm control --reload || true
  udevadm trigger --subsystem-match=gpio --action=add || true
  udevadm settle || true
  chgrp gpio /dev/gpiochip* 2>/dev/null && chmod g+rw /dev/gpiochip* || true  # now, too
fi
for g in gpio video input render; do
  getent group $g >/dev/null && adduser "$GH_USER" $g >/dev/null
done
fetch_app gate --system-site-packages
install_app gate

say "kiosk settings: pins $PIN_FACTORY (gpiochip$RELAY_CHIP), relay GPIO $RELAY_PIN, locked $LOCKED"
install -d -o "$GH_USER" -g "$GH_USER" "$GH_HOME/kiosk"
CFG=$GH_HOME/kiosk/config.toml
if [ ! -e "$CFG" ]; then
  printf '# Gatehouse gate settings (kiosk/config.py has every default). install-kiosk.sh\n# rewrites the pin lines; gate_id is written by `kiosk enroll`.\nweb_port = 8000\n' > "$CFG"
  CAMERA_GIVEN=1 DIRECTION_GIVEN=1
fi
# The pins always (the door-lock unit and config.txt just changed with them); camera and
# direction only when given, so a technician's own edits stay.
set -- pin_factory="\"$PIN_FACTORY\"" relay_chip="$RELAY_CHIP" \
  pins.relay_pin="$RELAY_PIN" pins.relay_active_high="$ACTIVE"
[ -n "$CAMERA_GIVEN" ] && set -- "$@" camera="\"$CAMERA\""
[ -n "$DIRECTION_GIVEN" ] && set -- "$@" direction="\"$DIRECTION\""
python3 "$DEPLOY_DIR/kiosk_config.py" "$CFG" "$@"
chown "$GH_USER:$GH_USER" "$CFG"
as_gh "$VENV/bin/kiosk" voice || warn "no voice prompts (espeak-ng)"

say "time from the hub ($HUB_IP); the kiosk says when its clock is not trusted"
if has_pkg chrony; then
  if ip -o addr show 2>/dev/null | grep -q " inet6\? $HUB_IP/" || [ "$HUB_IP" = 127.0.0.1 ]; then
    echo "chrony: this machine is the hub, its chrony serves the time"
  else
    echo "server $HUB_IP iburst" > /etc/chrony/conf.d/gatehouse-gate.conf
    systemctl restart chrony
  fi
else
  install -d /etc/systemd/timesyncd.conf.d
  printf '[Time]\nNTP=%s\nFallbackNTP=\n' "$HUB_IP" > /etc/systemd/timesyncd.conf.d/gatehouse.conf
  systemctl enable systemd-timesyncd
  systemctl restart systemd-timesyncd
fi

journald_limits
if [ -e /dev/watchdog0 ]; then
  say "hardware watchdog: a hung kernel or systemd reboots the gate (a Pi's allows 15 s at most)"
  install -d /etc/systemd/system.conf.d
  printf '[Manager]\nRuntimeWatchdogSec=14s\n' > /etc/systemd/system.conf.d/gatehouse-watchdog.conf
  systemctl daemon-reexec
fi

say "systemd units"
CHROMIUM=$(command -v chromium-browser || command -v chromium || echo /usr/bin/chromium)
units gate --set RELAY_PIN="$RELAY_PIN" --set RELAY_LOCKED_LEVEL="$LOCKED" \
  --set RELAY_CHIP="$RELAY_CHIP" --set PIN_FACTORY="$PIN_FACTORY" --set CHROMIUM="$CHROMIUM"
systemctl enable gatehouse-door-lock.service gatehouse-kiosk.service
if [ "$SCREEN" = 1 ]; then
  systemctl enable gatehouse-screen.service
  # No console blanking on the touch screen.
  if [ -e /boot/firmware/cmdline.txt ] && ! grep -q consoleblank /boot/firmware/cmdline.txt; then
    sed -i 's/$/ consoleblank=0/' /boot/firmware/cmdline.txt
  fi
fi

say "enrollment"
if [ -n "${ENROLL_CODE:-}" ]; then ENROLL=code
elif [ -e "$GH_HOME/kiosk/mqtt.json" ]; then ENROLL=${ENROLL:-later}
fi
ENROLL_PY="$VENV/bin/python $APP/deploy/enroll.py --wait ${ENROLL_WAIT:-600}"
LATER="sudo -u $GH_USER GATEHOUSE_HOME=$GH_HOME $VENV/bin/kiosk enroll --camera '$CAMERA'"
case "${ENROLL:-camera}" in
  camera)
    echo "Hold the hub's enrollment QR in front of the camera (2 minutes)..."
    as_gh $ENROLL_PY --camera "$CAMERA" || warn "not enrolled; later: $LATER" ;;
  code)
    if [ -z "${ENROLL_CODE:-}" ]; then printf 'Paste the enrollment code: '; read -r ENROLL_CODE; fi
    as_gh $ENROLL_PY --code "$ENROLL_CODE" || warn "not enrolled; later: $LATER" ;;
  *) [ -e "$GH_HOME/kiosk/mqtt.json" ] && echo "already enrolled" || echo "later: $LATER" ;;
esac
[ -e "$GH_HOME/kiosk/hub.pub" ] || [ -e "$GH_HOME/hub/hub.pub" ] ||
  warn "not enrolled: the kiosk starts once it is (the door stays locked); after enrolling:
  sudo systemctl start gatehouse-kiosk"

say "start: door locked, then the kiosk"
systemctl stop gatehouse-kiosk.service
systemctl restart gatehouse-door-lock.service
systemctl start gatehouse-kiosk.service ||
  warn "the kiosk did not start: journalctl -u gatehouse-kiosk -b"
[ "$SCREEN" = 1 ] && systemctl restart --no-block gatehouse-screen.service
say "done: reboot once with a meter on the lock: it must stay locked (docs/deploy.md)"
