#!/usr/bin/env bash
# Fetch the 54 Kokoro v1.0 voice style vectors from the npm package kokoro-js@1.2.1.
#
# No Python package ships them; the npm tarball does (package/voices/*.bin, float32 510x1x256).
# The tarball is checked against its pinned sha256 before anything is extracted, and the engine
# checks every voice file against its own pinned digest when it loads it (gradium.engines.kokoro).
#
# Usage: scripts/fetch_kokoro_voices.sh [DEST]
# DEST defaults to $GRADIUM_KOKORO_VOICES_DIR, else <python sys.prefix>/share/gradium/kokoro-voices,
# where the engine looks by default. $PYTHON names the interpreter (default .venv/bin/python).
# Idempotent: when DEST already holds this release's voices it returns at once, without npm.
set -euo pipefail
cd "$(dirname "$0")/.."

PACKAGE="kokoro-js@1.2.1"
TARBALL="kokoro-js-1.2.1.tgz"
TARBALL_SHA256="1f0d0383ef0349af0bd9440d81dc12abbea3a5392eb645283eda876f537f5860"
VOICE_COUNT=54

PYTHON="${PYTHON:-.venv/bin/python}"
if [ $# -ge 1 ]; then
  dest="$1"
elif [ -n "${GRADIUM_KOKORO_VOICES_DIR:-}" ]; then
  dest="$GRADIUM_KOKORO_VOICES_DIR"
else
  dest="$("$PYTHON" -c 'import sys; print(sys.prefix)')/share/gradium/kokoro-voices"
fi

# The stamp records which tarball the files came from; written last, so an interrupted run redoes all.
stamp="$dest/.source-sha256"
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$TARBALL_SHA256" ]; then
  count=$(find "$dest" -maxdepth 1 -name '*.bin' | wc -l)
  if [ "$count" -eq "$VOICE_COUNT" ]; then
    exit 0
  fi
fi

command -v npm >/dev/null || { echo "error: npm is needed to fetch $PACKAGE (apt-get install npm)" >&2; exit 1; }
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
(cd "$work" && npm pack --silent --cache "$work/npm-cache" "$PACKAGE" >/dev/null)
actual="$(sha256sum "$work/$TARBALL" | cut -d' ' -f1)"
if [ "$actual" != "$TARBALL_SHA256" ]; then
  echo "error: $TARBALL has sha256 $actual, expected $TARBALL_SHA256" >&2
  exit 1
fi
tar -xzf "$work/$TARBALL" -C "$work" package/voices
count=$(find "$work/package/voices" -maxdepth 1 -name '*.bin' | wc -l)
if [ "$count" -ne "$VOICE_COUNT" ]; then
  echo "error: $TARBALL holds $count voices, expected $VOICE_COUNT" >&2
  exit 1
fi
mkdir -p "$dest"
rm -f "$stamp"
cp "$work"/package/voices/*.bin "$dest"/
echo "$TARBALL_SHA256" >"$stamp"
echo "Kokoro voices: $VOICE_COUNT files in $dest"
