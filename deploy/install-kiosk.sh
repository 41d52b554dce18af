#!/bin/sh
# Install a Gatehouse gate on Raspberry Pi OS (Bookworm): door relay locked from boot,
# GPIO pin factory, camera, the kiosk service, Chromium in kiosk mode on the touch
# screen, time from the hub, bounded logs. Then enroll it with the hub's one-time code.
#
#   sudo HUB_IP=192.168.1.10 CAMERA=v4l2:0 ./deploy/install-kiosk.sh
#
# Settings (environment or /etc/gatehouse/install.env): HUB_IP (required: time server),
# CAMERA (v4l2:0 for a USB camera, picamera2 for a ribbon camera), DIRECTION (in|out),
# RELAY_PIN (17), RELAY_ACTIVE_HIGH (0: most relay boards switch on a low input),
# SCREEN=0 (no touch screen), ENROLL=code|camera|later (camera).
. "$(dirname "$0")/lib.sh"
need_root
os_check
: "${HUB_IP:?set HUB_IP to the hub's LAN address (time server, enrollment)}"
CAMERA=${CAMERA:-v4l2:0?width=640&height=480}
DIRECTION=${DIRECTION:-in}
RELAY_PIN=${RELAY_PIN:-17}
RELAY_ACTIVE_HIGH=${RELAY_ACTIVE_HIGH:-0}
if [ "$RELAY_ACTIVE_HIGH" = 1 ]; then LOCKED=low; FW=dl; else LOCKED=high; FW=dh; fi

say "door relay off from the first instant: config.txt gpio=$RELAY_PIN=op,$FW"
BOOTCFG=/boot/firmware/config.txt
[ -e "$BOOTCFG" ] || BOOTCFG=/boot/config.txt
if [ -e "$BOOTCFG" ]; then
  sed -i "/# gatehouse-door-lock\$/d" "$BOOTCFG"
  printf '[all]\ngpio=%s=op,%s # gatehouse-door-lock\n' "$RELAY_PIN" "$FW" >> "$BOOTCFG"
else
  echo "warning: no config.txt (not a Pi?): the relay is held only by the wiring until boot" >&2
fi
"$(dirname "$0")/door-lock.sh" "$RELAY_PIN" "$LOCKED" || true

say "apt packages"
PKGS="python3 python3-venv python3-dev libzbar0 espeak-ng fonts-noto-cjk v4l-utils
  ca-certificates systemd-timesyncd"
if is_pi; then
  # From apt, seen by the venv (--system-site-packages): lgpio (the Pi 5's only GPIO
  # library, fine on older Pis), picamera2 for ribbon cameras, pinctrl for door-lock.sh.
  PKGS="$PKGS python3-lgpio python3-picamera2 raspi-utils"
fi
[ "${SCREEN:-1}" = 1 ] && PKGS="$PKGS cage $(apt-cache show chromium-browser >/dev/null 2>&1 && echo chromium-browser || echo chromium)"
apt_install $PKGS

make_user
for g in gpio video input render; do getent group $g >/dev/null && adduser "$GH_USER" $g >/dev/null; done
install_app --system-site-packages

say "pin factory and camera"
PIN_FACTORY=lgpio
is_pi || PIN_FACTORY=mock
case "$(pi_model)" in "Raspberry Pi 5"*) PIN_FACTORY=lgpio ;; esac
install -d -o "$GH_USER" -g "$GH_USER" "$GH_HOME/kiosk"
CFG=$GH_HOME/kiosk/config.toml
if [ ! -e "$CFG" ]; then
  cat > "$CFG" <<CONF
# Gatehouse gate settings (kiosk/config.py has every default). gate_id is written
# by \`kiosk enroll\`.
direction = "$DIRECTION"
camera = "$CAMERA"
pin_factory = "$PIN_FACTORY"
web_port = 8000

[pins]
relay_pin = $RELAY_PIN
relay_active_high = $( [ "$RELAY_ACTIVE_HIGH" = 1 ] && echo true || echo false )
CONF
  chown "$GH_USER:$GH_USER" "$CFG"
fi
as_gh "$VENV/bin/kiosk" voice || echo "warning: no voice prompts (espeak-ng)" >&2

say "time from the hub ($HUB_IP); the kiosk says when its clock is not trusted"
install -d /etc/systemd/timesyncd.conf.d
cat > /etc/systemd/timesyncd.conf.d/gatehouse.conf <<CONF
[Time]
NTP=$HUB_IP
FallbackNTP=
CONF
systemctl enable --now systemd-timesyncd
systemctl restart systemd-timesyncd

journald_limits

say "systemd units"
CHROMIUM=$(command -v chromium-browser || command -v chromium || echo /usr/bin/chromium)
units gate --set RELAY_PIN="$RELAY_PIN" --set RELAY_LOCKED_LEVEL="$LOCKED" \
  --set PIN_FACTORY="$PIN_FACTORY" --set CHROMIUM="$CHROMIUM"
systemctl enable gatehouse-door-lock.service gatehouse-kiosk.service
[ "${SCREEN:-1}" = 1 ] && systemctl enable gatehouse-screen.service
# No console blanking on the touch screen.
if [ -e /boot/firmware/cmdline.txt ] && ! grep -q consoleblank /boot/firmware/cmdline.txt; then
  sed -i 's/$/ consoleblank=0/' /boot/firmware/cmdline.txt
fi

say "enrollment"
case "${ENROLL:-camera}" in
  camera)
    echo "Hold the hub's enrollment QR in front of the camera (2 minutes)..."
    as_gh "$VENV/bin/kiosk" enroll --camera "$CAMERA" ;;
  code)
    printf 'Paste the enrollment code: '; read -r CODE
    as_gh "$VENV/bin/kiosk" enroll --code "$CODE" ;;
  *) echo "later: sudo -u $GH_USER GATEHOUSE_HOME=$GH_HOME $VENV/bin/kiosk enroll --camera '$CAMERA'" ;;
esac

systemctl start gatehouse-door-lock.service gatehouse-kiosk.service
[ "${SCREEN:-1}" = 1 ] && systemctl start gatehouse-screen.service
say "done: reboot once to check the door stays locked through boot (docs/deploy.md)"
