#!/usr/bin/env bash
# Set up gradium on a fresh Debian machine: optional apt engines, a virtualenv, the package.
set -euo pipefail
cd "$(dirname "$0")/.."

# flite gives much clearer English voices (round-trip WER 4-10% against 25-67% for espeak-ng).
# It is apt-only; without it the server falls back to espeak-ng for every voice.
if ! ldconfig -p 2>/dev/null | grep -q libflite_cmu_us_rms; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    (apt-get update -qq && apt-get install -y -qq flite >/dev/null) || echo "warning: flite not installed" >&2
  elif command -v sudo >/dev/null && sudo -n true 2>/dev/null; then
    (sudo apt-get update -qq && sudo apt-get install -y -qq flite >/dev/null) || echo "warning: flite not installed" >&2
  else
    echo "note: flite not installed (needs apt as root); English voices use espeak-ng" >&2
  fi
fi

[ -x .venv/bin/python ] || python3 -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q -e ".[dev,bench]"
