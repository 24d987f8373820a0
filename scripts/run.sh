#!/usr/bin/env bash
# Run the bridge from a checkout (creates .venv on first use).
# Usage: scripts/run.sh [--demo] [--headless] [--port N] ...
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh >&2
exec .venv/bin/python tray_app.py "$@"
