#!/bin/sh
# Install the Gatehouse hub on Debian 12 or Raspberry Pi OS Bookworm (64-bit): broker,
# hub, admin page, nightly backups, the time server the gates follow, and the folder the
# gates' wheels are served from (`hub wheelhouse build`). No camera or GPIO packages.
#
#   sudo COMPOUND="示范小区" HUB_IP=192.168.1.10 LAN=192.168.1.0/24 ./deploy/install-hub.sh
#
# Settings (environment or /etc/gatehouse/install.env): COMPOUND, HUB_IP (the address
# gates use), LAN (who may ask for time), MQTT_PORT (1883), WEB_PORT (8080), TLS (1: a
# TLS listener on TLS_PORT, 8883, with the hub as CA; gates enrolled get it by default;
# TLS=0: plain MQTT only), BACKUP_KEEP (14), ADMIN (admin),
# ADMIN_PASSWORD (asked when not given), WHEELHOUSE (a folder or URL of wheels:
# install without the internet).
. "$(dirname "$0")/lib.sh"
need_root
os_check
: "${HUB_IP:?set HUB_IP to the hub's LAN address (the gates connect to it)}"
COMPOUND=${COMPOUND:-示范小区}
LAN=${LAN:-$(echo "$HUB_IP" | sed 's/\.[0-9]*$/.0\/24/')}
MQTT_PORT=${MQTT_PORT:-1883}
WEB_PORT=${WEB_PORT:-8080}
ADMIN=${ADMIN:-admin}

apt_install python3 python3-venv mosquitto mosquitto-clients chrony sqlite3 ca-certificates
# Our broker runs as gatehouse-broker.service with the compound's config.
systemctl disable --now mosquitto.service 2>/dev/null || true

make_user
fetch_app hub
install_app hub

say "compound, broker config"
[ -e "$GH_HOME/hub/hub.key" ] || as_gh "$VENV/bin/hub" init --name "$COMPOUND"
[ -e "$GH_HOME/hub/mqtt.json" ] ||
  as_gh "$VENV/bin/hub" broker config --port "$MQTT_PORT" --bind 0.0.0.0 --host "$HUB_IP"
if [ "${TLS:-1}" = 1 ]; then
  # Every name a gate may be given for the hub: its LAN addresses and host name (a gate
  # on another machine) and loopback (a gate on this one). Gates check the name.
  NAMES="$HUB_IP $(hostname -I 2>/dev/null || true) $(hostname) $(hostname).local localhost 127.0.0.1"
  say "TLS listener on ${TLS_PORT:-8883} for: $NAMES"
  # shellcheck disable=SC2046
  as_gh "$VENV/bin/hub" broker tls --port "${TLS_PORT:-8883}" \
    $(for n in $NAMES; do printf -- '--host %s ' "$n"; done)
  # A running broker (a re-run) takes a new listener or certificate only on a restart.
  systemctl try-restart gatehouse-broker.service 2>/dev/null || true
fi

say "time server for the gates (chrony; serves its own clock when the internet is gone)"
cat > /etc/chrony/conf.d/gatehouse.conf <<CONF
# Gatehouse: the gates set their clocks from the hub (they have no RTC).
allow $LAN
local stratum 10 orphan
CONF
systemctl restart chrony

journald_limits

say "systemd units"
units hub --set WEB_PORT="$WEB_PORT" --set BACKUP_KEEP="${BACKUP_KEEP:-14}"
[ -e /etc/gatehouse/gatehouse.env ] || cat > /etc/gatehouse/gatehouse.env <<CONF
# Read by the Gatehouse services. Plain HTTP on the office LAN needs a non-secure cookie.
GATEHOUSE_WEB_ARGS=--no-cookie-secure
CONF
systemctl enable --now gatehouse-broker.service gatehouse-hub.service \
  gatehouse-backup.timer

say "the first admin user of the admin page"
if ! as_gh "$VENV/bin/hub" user list | grep -q .; then
  if [ -n "${ADMIN_PASSWORD:-}" ]; then
    as_gh "$VENV/bin/hub" user add "$ADMIN" --role admin --password "$ADMIN_PASSWORD"
  elif [ -t 0 ]; then
    as_gh "$VENV/bin/hub" user add "$ADMIN" --role admin
  fi
fi
if as_gh "$VENV/bin/hub" user list | grep -q .; then
  systemctl enable --now gatehouse-web.service
else  # `hub web` refuses to start without a user
  warn "no admin user (no terminal to ask, no ADMIN_PASSWORD): the admin page is off;
  sudo -u $GH_USER GATEHOUSE_HOME=$GH_HOME $VENV/bin/hub user add $ADMIN --role admin
  sudo systemctl enable --now gatehouse-web"
fi

say "done"
cat <<MSG
Admin page:   http://$HUB_IP:$WEB_PORT/   (user $ADMIN)
Enroll gates: 新门岗 on the admin page, or
              sudo -u $GH_USER GATEHOUSE_HOME=$GH_HOME $VENV/bin/hub gate enroll gate-north \\
                   --hub-url http://$HUB_IP:$WEB_PORT --terminal
Keys to copy to offline media NOW: $GH_HOME/hub/hub.key $GH_HOME/binding.key
Wheels:       sudo -u $GH_USER GATEHOUSE_HOME=$GH_HOME $VENV/bin/hub wheelhouse build
              (with internet; gates then install with WHEELHOUSE=http://$HUB_IP:$WEB_PORT/wheels/)
Backups:      $GH_HOME/hub/backups (nightly, $((${BACKUP_KEEP:-14})) kept)
MSG
