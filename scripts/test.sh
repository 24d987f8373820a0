#!/usr/bin/env bash
# The whole test suite, with every real component it needs (Secret Service keyring, ...).
# Usage: scripts/test.sh [pytest args]
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh --dev
.venv/bin/ruff check .
exec sh scripts/with-keyring.sh .venv/bin/python -m pytest "$@"
