# Shared by install-hub.sh, install-kiosk.sh and upgrade.sh (sourced, not run).
# Settings come from the environment or /etc/gatehouse/install.env; every default is here.
set -eu

DEPLOY_DIR=$(cd "$(dirname "$0")" && pwd)
SRC_DIR=$(dirname "$DEPLOY_DIR")
[ -r /etc/gatehouse/install.env ] && . /etc/gatehouse/install.env

APP=${APP:-/opt/gatehouse}                 # where the project is installed
GH_USER=${GH_USER:-gatehouse}              # the system user every service runs as
GH_HOME=${GH_HOME:-/var/lib/gatehouse}     # GATEHOUSE_HOME: keys, config, databases
VENV=$APP/.venv
STAGE=${STAGE:-/var/cache/gatehouse/wheels}  # this run's wheels (per role), fetched first
# WHEELHOUSE: a folder or URL of wheels (the hub's http://HUB:8080/wheels/); when set,
# pip uses it alone, so a gate installs and upgrades without the internet.
WHEELHOUSE=${WHEELHOUSE:-}

say() { printf '\n== %s\n' "$*"; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }
warn() { printf 'warning: %s\n' "$*" >&2; }

need_root() { [ "$(id -u)" -eq 0 ] || die "run as root (sudo $0)"; }

os_check() {
  . /etc/os-release
  case "${VERSION_CODENAME:-}" in
    bookworm) ;;
    *) warn "made for Debian 12 / Raspberry Pi OS Bookworm, this is ${PRETTY_NAME:-unknown}" ;;
  esac
  # No 32-bit: numpy, opencv, zxing-cpp, cbor2 and cffi have no armv7l wheels.
  case "$(uname -m)" in
    aarch64|x86_64) ;;
    *) die "$(uname -m) is not supported: use the 64-bit Raspberry Pi OS (docs/deploy.md)" ;;
  esac
}

is_pi() { grep -qs "Raspberry Pi" /proc/device-tree/model; }
pi_model() { tr -d '\0' < /proc/device-tree/model 2>/dev/null || true; }
has_pkg() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "ok installed"; }

apt_install() {
  # Only what is missing, and no `apt-get update` when nothing is: installs offline.
  missing=""
  for p in "$@"; do has_pkg "$p" || missing="$missing $p"; done
  if [ -z "$missing" ]; then echo "apt: all present"; return 0; fi
  say "apt packages:$missing"
  DEBIAN_FRONTEND=noninteractive apt-get update -q || warn "apt-get update failed; trying the lists there are"
  # shellcheck disable=SC2086
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $missing
}

firmware_gpio() {
  # $1 config.txt, $2 pin, $3 dh|dl: the firmware drives the relay line off a few
  # seconds after power-on. Our block is a comment line (config.txt allows no comment
  # after a setting) and the two lines after it, replaced on every run; older installs
  # put the marker at the end of the gpio= line.
  sed -i -e '/^# gatehouse-door-lock:/,+2d' -e '/# gatehouse-door-lock$/d' "$1"
  printf '%s\n[all]\ngpio=%s=op,%s\n' \
    "# gatehouse-door-lock: relay off (door locked); install-kiosk.sh rewrites the next 2 lines" \
    "$2" "$3" >> "$1"
}

make_user() {
  id "$GH_USER" >/dev/null 2>&1 ||
    adduser --system --group --home "$GH_HOME" --shell /usr/sbin/nologin "$GH_USER"
  install -d -o "$GH_USER" -g "$GH_USER" -m 0750 "$GH_HOME"
  install -d -m 0755 /etc/gatehouse
}

copy_tree() {  # $1 -> $2: the project's files, without build leftovers
  tar -C "$1" --exclude=.venv --exclude=.git --exclude='__pycache__' --exclude=build \
    --exclude='*.egg-info' -cf - . | tar -C "$2" -xf -
}

pip_from() {
  if [ -n "$WHEELHOUSE" ]; then echo "--no-index --find-links $WHEELHOUSE"; fi
}

fetch_app() {
  # $1: gate | hub; $2: venv options (--system-site-packages on a gate: apt's
  # picamera2 and evdev). Everything that needs the network happens here, before
  # anything is stopped: the project's wheel and the pinned deploy/requirements/$1.txt.
  role=$1
  stage=$STAGE/$role
  say "fetch the $role's packages into $stage${WHEELHOUSE:+ from $WHEELHOUSE}"
  [ -x "$VENV/bin/python" ] || { install -d "$APP"; python3 -m venv ${2:-} "$VENV"; }
  if [ -n "${2:-}" ]; then  # a hub's venv on the same machine gains apt's modules
    sed -i 's/^include-system-site-packages = false/include-system-site-packages = true/' \
      "$VENV/pyvenv.cfg"
  fi
  rm -rf "$stage"
  install -d "$stage/src"
  copy_tree "$SRC_DIR" "$stage/src"
  # shellcheck disable=SC2046
  "$VENV/bin/pip" wheel -q --no-deps $(pip_from) -w "$stage" "$stage/src"
  # shellcheck disable=SC2046
  "$VENV/bin/pip" download -q --no-deps --only-binary=:all: $(pip_from) -d "$stage" \
    -r "$SRC_DIR/deploy/requirements/$role.txt"
  rm -rf "$stage/src"
}

install_app() {
  # $1: gate | hub. After fetch_app: from the staged wheels only, no network.
  role=$1
  say "install into $APP, virtual environment $VENV"
  [ "$SRC_DIR" = "$APP" ] || { install -d "$APP"; copy_tree "$SRC_DIR" "$APP"; }
  "$VENV/bin/pip" install -q --no-index --find-links "$STAGE/$role" \
    -r "$APP/deploy/requirements/$role.txt"
  # Non-editable, from the wheel (what a gate runs is what was tested); forced, since
  # a new checkout may carry the same version number.
  "$VENV/bin/pip" install -q --no-index --no-deps --force-reinstall "$STAGE/$role"/gatehouse-*.whl
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
