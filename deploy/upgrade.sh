#!/bin/sh
# Upgrade Gatehouse in place from this checkout: fetch, then back up, install, migrate,
# restart. Everything that needs the network (or the hub's wheelhouse, WHEELHOUSE=) is
# fetched first, while the old version still runs: a failed download stops nothing.
# Run on the hub and on every gate: sudo ./deploy/upgrade.sh
. "$(dirname "$0")/lib.sh"
need_root
HUB=0; [ -e "$GH_HOME/hub/hub.db" ] && HUB=1
GATE=0; [ -e /etc/systemd/system/gatehouse-kiosk.service ] && GATE=1
[ $HUB = 1 ] || [ $GATE = 1 ] || die "no hub or gate installed here"
SCREEN=0; systemctl -q is-enabled gatehouse-screen.service 2>/dev/null && SCREEN=1

if [ $GATE = 1 ]; then fetch_app gate --system-site-packages; fi
if [ $HUB = 1 ]; then fetch_app hub; fi

if [ $HUB = 1 ]; then
  say "stop the hub, back up its database"
  systemctl stop gatehouse-web.service gatehouse-hub.service
  as_gh "$VENV/bin/hub" backup --keep "${BACKUP_KEEP:-14}"
fi
if [ $GATE = 1 ]; then
  # The door stays locked while the kiosk is stopped (ExecStopPost=, door-lock, wiring).
  systemctl stop gatehouse-screen.service gatehouse-kiosk.service
  install_app gate
fi
if [ $HUB = 1 ]; then
  install_app hub
  say "migrate the hub database"
  as_gh "$VENV/bin/hub" migrate --no-backup
  systemctl daemon-reload
  systemctl start gatehouse-hub.service gatehouse-web.service
fi
if [ $GATE = 1 ]; then
  # The kiosk's own database migrates when `kiosk run` opens it. Units are not
  # re-rendered here (they hold this gate's pins): run install-kiosk.sh for that.
  systemctl start gatehouse-kiosk.service
  if [ $SCREEN = 1 ]; then systemctl start gatehouse-screen.service; fi
fi
say "upgraded"
