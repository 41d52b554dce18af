# Shared by install-hub.sh and install-kiosk.sh (sourced, not run).
# Settings come from the environment or /etc/gatehouse/install.env; every default is here.
set -eu

DEPLOY_DIR=$(cd "$(dirname "$0")" && pwd)
SRC_DIR=$(dirname "$DEPLOY_DIR")
[ -r /etc/gatehouse/install.env ] && . /etc/gatehouse/install.env

APP=${APP:-/opt/gatehouse}                 # where the project is installed
GH_USER=${GH_USER:-gatehouse}              # the system user every service runs as
GH_HOME=${GH_HOME:-/var/lib/gatehouse}     # GATEHOUSE_HOME: keys, config, databases
VENV=$APP/.venv

say() { printf '\n== %s\n' "$*"; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

need_root() { [ "$(id -u)" -eq 0 ] || die "run as root (sudo $0)"; }

os_check() {
  . /etc/os-release
  case "${VERSION_CODENAME:-}" in
    bookworm|trixie) ;;
    *) echo "warning: tested on Debian / Raspberry Pi OS bookworm, this is ${PRETTY_NAME:-unknown}" >&2 ;;
  esac
}

is_pi() { grep -qs "Raspberry Pi" /proc/device-tree/model; }
pi_model() { tr -d '\0' < /proc/device-tree/model 2>/dev/null || true; }

apt_install() {
  DEBIAN_FRONTEND=noninteractive apt-get update -q
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "$@"
}

make_user() {
  id "$GH_USER" >/dev/null 2>&1 ||
    adduser --system --group --home "$GH_HOME" --shell /usr/sbin/nologin "$GH_USER"
  install -d -o "$GH_USER" -g "$GH_USER" -m 0750 "$GH_HOME"
  install -d -m 0755 /etc/gatehouse
}

install_app() {
  # $1: extra venv options (--system-site-packages on a gate: picamera2, lgpio from apt)
  say "project into $APP, virtual environment $VENV"
  if [ "$SRC_DIR" != "$APP" ]; then
    install -d "$APP"
    tar -C "$SRC_DIR" --exclude=.venv --exclude=.git --exclude='__pycache__' -cf - . |
      tar -C "$APP" -xf -
  fi
  [ -x "$VENV/bin/python" ] || python3 -m venv ${1:-} "$VENV"
  "$VENV/bin/pip" install -q --upgrade pip
  "$VENV/bin/pip" install -q "$APP"
}

as_gh() { runuser -u "$GH_USER" -- env GATEHOUSE_HOME="$GH_HOME" "$@"; }

journald_limits() {
  say "log rotation: journald keeps ${JOURNAL_MAX:-200M} across reboots"
  install -d /etc/systemd/journald.conf.d
  cat > /etc/systemd/journald.conf.d/gatehouse.conf <<CONF
# Gatehouse: every service logs to the journal; keep it bounded (SD cards wear).
[Journal]
Storage=persistent
SystemMaxUse=${JOURNAL_MAX:-200M}
SystemMaxFileSize=20M
MaxRetentionSec=1month
CONF
  systemctl restart systemd-journald
}

units() {
  # $1: hub | gate; further arguments: --set NAME=VALUE for render_units.py
  role=$1; shift
  python3 "$APP/deploy/render_units.py" --out /etc/systemd/system --role "$role" \
    --set APP="$APP" --set HOME="$GH_HOME" --set USER="$GH_USER" "$@"
  systemctl daemon-reload
}
