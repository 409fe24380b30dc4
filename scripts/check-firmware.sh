#!/usr/bin/env bash
# Validate every ESPHome config under firmware_configs/ offline with `esphome config`.
#
# ESPHome lives in its own virtual environment (.venv-esphome): it pins paho-mqtt 1.x, the hub
# needs paho-mqtt 2.x, so the two never share a venv. The first run installs it (~1 min);
# later runs take about a second per file. Exits non-zero if any config fails to validate.
#
#   scripts/check-firmware.sh                 # every firmware_configs/esphome/*.yaml
#   scripts/check-firmware.sh path/to/x.yaml  # just these
set -euo pipefail
cd "$(dirname "$0")/.."

ESPHOME_VERSION=${ESPHOME_VERSION:-2026.6.5}   # >= 2026.7 needs Python 3.12
VENV=${ESPHOME_VENV:-.venv-esphome}
PY=${PYTHON:-python3}
DIR=firmware_configs/esphome

if [ ! -x "$VENV/bin/esphome" ] \
   || [ "$("$VENV/bin/esphome" version 2>/dev/null | awk '{print $2}')" != "$ESPHOME_VERSION" ]; then
  echo "check-firmware: installing esphome==$ESPHOME_VERSION into $VENV"
  "$PY" -m venv "$VENV"
  "$VENV/bin/python" -m pip install -q --upgrade pip
  "$VENV/bin/python" -m pip install -q "esphome==$ESPHOME_VERSION"
fi

# `!secret` needs a secrets.yaml beside the configs. Validate copies in a scratch directory
# with the dummy secrets.example.yaml, so a store's real secrets.yaml is never read or touched.
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cp "$DIR/secrets.example.yaml" "$work/secrets.yaml"

if [ $# -gt 0 ]; then files=("$@"); else
  files=()
  for f in "$DIR"/*.yaml; do
    case "$(basename "$f")" in secrets.yaml|secrets.example.yaml) continue ;; esac
    files+=("$f")
  done
fi

failed=0
for f in "${files[@]}"; do
  cp "$f" "$work/"
  if out=$("$VENV/bin/esphome" config "$work/$(basename "$f")" 2>&1); then
    echo "ok      $f"
  else
    echo "FAILED  $f"
    echo "$out" | tail -n 30 | sed 's/^/    /'
    failed=1
  fi
done
exit "$failed"
