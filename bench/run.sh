#!/usr/bin/env bash
# One command for every benchmark: prepares the environments, runs bench/run.py, prints the tables.
# Usage: bash bench/run.sh [--quick] [--only SECTION[,SECTION...]] [--keep]
# Full runs write bench/results/latest.* (committed); --quick writes bench/results/quick/ (git-ignored).
# Needs: the project's .venv with the dev requirements (scripts/setup.sh --dev; trustme makes the
# test certificates), curl and jq (the tutorial's token script). bench/.venv holds the tutorial's
# stack (bench/requirements.txt) and is created here on first use.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ ! -x .venv/bin/python ] || ! .venv/bin/python -c 'import trustme' 2>/dev/null; then
    bash scripts/setup.sh --dev
fi
for tool in curl jq; do
    command -v "$tool" >/dev/null || { echo "bench: $tool is required (apt-get install $tool)" >&2; exit 2; }
done

python=${PYTHON:-python3}
stamp="bench/.venv/.installed-$(sha256sum bench/requirements.txt | cut -c1-16)"
if [ ! -f "$stamp" ]; then
    echo "bench: preparing bench/.venv (tutorial's FastAPI stack)" >&2
    rm -rf bench/.venv
    "$python" -m venv bench/.venv
    bench/.venv/bin/python -m pip install -q --disable-pip-version-check -r bench/requirements.txt
    touch "$stamp"
fi

exec .venv/bin/python bench/run.py "$@"
