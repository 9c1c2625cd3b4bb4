#!/usr/bin/env bash
# Set up everything the tests need, then run lint, type checks and the whole test suite.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/apt.sh
bash scripts/install.sh

# PostgreSQL for tests/test_replicas.py: its fixture starts a throwaway cluster from Debian's binaries
# (no service is used). As root (CI) a missing PostgreSQL then fails the tests instead of skipping.
if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
  apt_install postgresql || echo "note: PostgreSQL not installed (apt-get install postgresql); the replica tests will skip" >&2
fi
if [ "$(id -u)" = 0 ]; then
  export GRADIUM_REQUIRE_POSTGRES=1
fi

# The studio's browser tests (tests/test_studio.py) drive Debian's Chromium through Playwright;
# Playwright's own browser download is not used.
if ! command -v chromium >/dev/null; then
  apt_install chromium || { echo "error: the studio tests need Chromium (apt-get install chromium)" >&2; exit 1; }
fi

# The official clients are test peers. They live in their own virtualenv because the official
# client package is also named "gradium".
[ -x .peers/official/bin/python ] || python3 -m venv .peers/official
.peers/official/bin/python -m pip install -q "gradium==0.6.4" "cartesia==2.0.17"
# The OpenAI Python SDK drives the /v1/audio routes (tests/test_openai_api.py).
[ -x .peers/openai/bin/python ] || python3 -m venv .peers/openai
.peers/openai/bin/python -m pip install -q "openai==3.51.0"
# Voice-agent frameworks drive the Gradium and Cartesia routes (tests/test_frameworks.py).
[ -x .peers/frameworks/bin/python ] || python3 -m venv .peers/frameworks
.peers/frameworks/bin/python -m pip install -q "pipecat-ai[gradium,cartesia]==1.14.0" \
    "livekit-agents==1.8.9" "livekit-plugins-gradium==1.8.9" "livekit-plugins-cartesia==1.8.9"

.venv/bin/ruff check src tests benchmarks scripts
.venv/bin/mypy
.venv/bin/pytest -q "$@"
