#!/usr/bin/env bash
# Set up this machine to run tablehub from this checkout: the Debian packages it needs and a
# virtual environment with the package and its extras. Safe to run again; fast when done.
# Works on Debian 12 and Raspberry Pi OS bookworm.
set -euo pipefail
cd "$(dirname "$0")/.."

APT_PACKAGES=(mosquitto mosquitto-clients sqlite3 chromium chromium-driver
              fonts-noto-cjk fonts-wqy-microhei python3-venv)
PY=${PYTHON:-python3}
VENV=${VENV:-.venv}

sudo_() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

missing=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  sudo_ apt-get update -qq
  sudo_ env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# The system broker is not needed (tests and the demo start their own on a free port).
stamp="$VENV/.tablehub-installed"
if [ ! -x "$VENV/bin/python" ]; then
  echo "setup: creating $VENV"
  "$PY" -m venv "$VENV"
fi
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
  echo "setup: installing tablehub and its extras into $VENV"
  "$VENV/bin/python" -m pip install -q --upgrade pip
  "$VENV/bin/python" -m pip install -q -e ".[printer,scale,gpio,cloud,test]"
  touch "$stamp"
fi
