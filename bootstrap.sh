#!/usr/bin/env bash
# Set up everything mwi needs on this machine (idempotent), then run it.
#
#   ./bootstrap.sh sweep [mwi sweep options]   the default sweep on this computer (local target)
#   ./bootstrap.sh test  [pytest options]      ruff, mypy, then the test suite
#
# Steps: system packages (adb, chromium, node/npm; installed with apt-get when run as root,
# otherwise the exact command is printed), a Python venv in .venv with pinned packages,
# the pinned JS runtimes (npm ci in pages/, copied to pages/vendor/), then the command.
set -euo pipefail
cd "$(dirname "$0")"
ROOT=$PWD
VENV=${MWI_VENV:-$ROOT/.venv}
STAMPS=$ROOT/.mwi-stamps
mkdir -p "$STAMPS"

say() { printf 'bootstrap: %s\n' "$*" >&2; }
die() { printf 'bootstrap: error: %s\n' "$*" >&2; exit 1; }

cmd=${1:-}
case "$cmd" in
  sweep|test) shift ;;
  *) die "usage: ./bootstrap.sh sweep|test [options]  (sweep: measure on this computer; test: run the tests)" ;;
esac

# ---- 1. system packages --------------------------------------------------------------
find_chromium() {
  for c in "${MWI_CHROMIUM:-}" chromium chromium-browser google-chrome; do
    [ -n "$c" ] && command -v "$c" >/dev/null 2>&1 && { command -v "$c"; return 0; }
  done
  return 1
}
missing=()
command -v adb >/dev/null 2>&1 || missing+=(adb)
find_chromium >/dev/null || missing+=(chromium)
command -v node >/dev/null 2>&1 || missing+=(nodejs)
command -v npm >/dev/null 2>&1 || missing+=(npm)
python3 -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)' 2>/dev/null || missing+=(python3)
python3 -c 'import ensurepip, venv' 2>/dev/null || missing+=(python3-venv)
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    say "installing system packages: ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  else
    die "missing system packages: ${missing[*]}. Install them with: sudo apt-get install ${missing[*]}   (Python >= 3.11 is needed)"
  fi
fi

# ---- 2. Python environment -------------------------------------------------------------
stamp_of() { cat "$@" 2>/dev/null | sha256sum | cut -c1-16; }
if [ ! -x "$VENV/bin/python" ]; then
  say "creating $VENV"
  python3 -m venv "$VENV"
fi
PY_STAMP=$(stamp_of pyproject.toml requirements-build.txt)
if [ "$(cat "$STAMPS/python" 2>/dev/null)" != "$PY_STAMP" ]; then
  say "installing Python packages (first run: a few minutes)"
  "$VENV/bin/python" -m pip install -q --upgrade pip
  "$VENV/bin/python" -m pip install -q -e ".[build,test,cluster]"
  # tensorflowjs' own pins would downgrade TensorFlow: its converter is installed alone.
  "$VENV/bin/python" -m pip install -q --no-deps -r requirements-build.txt
  echo "$PY_STAMP" > "$STAMPS/python"
fi
export ADBUTILS_ADB_PATH=${ADBUTILS_ADB_PATH:-$(command -v adb)}

# ---- 3. JS runtimes for the test pages ---------------------------------------------------
"$VENV/bin/python" -m mobile_webinfer.web.vendor

# ---- 4. run -----------------------------------------------------------------------------
case "$cmd" in
  sweep) exec "$VENV/bin/mwi" sweep "$@" ;;
  test)
    # checked habits first (config in pyproject.toml): lint + import order, then types
    say "ruff check mobile_webinfer"
    "$VENV/bin/ruff" check mobile_webinfer
    say "mypy (mobile_webinfer)"
    "$VENV/bin/mypy"
    exec "$VENV/bin/python" -m pytest "$@" ;;
esac
