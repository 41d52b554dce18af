#!/bin/sh
# Upgrade Gatehouse in place from this checkout: back up, install, migrate, restart.
# Run on the hub and on every gate: sudo ./deploy/upgrade.sh
. "$(dirname "$0")/lib.sh"
need_root
HUB=0; [ -e "$GH_HOME/hub/hub.db" ] && HUB=1
GATE=0; [ -e /etc/systemd/system/gatehouse-kiosk.service ] && GATE=1
if [ $HUB = 1 ]; then
  say "stop the hub, back up its database"
  systemctl stop gatehouse-web.service gatehouse-hub.service
  as_gh "$VENV/bin/hub" backup --keep "${BACKUP_KEEP:-14}"
fi
# The door stays locked while the kiosk is stopped (door-lock service, wiring).
[ $GATE = 1 ] && systemctl stop gatehouse-screen.service gatehouse-kiosk.service
install_app "$( [ $GATE = 1 ] && echo --system-site-packages )"
if [ $HUB = 1 ]; then
  say "migrate the hub database"
  as_gh "$VENV/bin/hub" migrate --no-backup
  systemctl daemon-reload
  systemctl start gatehouse-hub.service gatehouse-web.service
fi
if [ $GATE = 1 ]; then
  # The kiosk's own database migrates when `kiosk run` opens it. Units are not
  # re-rendered here (they hold this gate's pins): run install-kiosk.sh for that.
  systemctl start gatehouse-kiosk.service gatehouse-screen.service
fi
say "upgraded"
