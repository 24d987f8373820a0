#!/usr/bin/env bash
# Prepare a fresh Debian/Ubuntu machine: system packages (for --dev) and the .venv.
# Usage: scripts/setup.sh [--dev]
set -euo pipefail
cd "$(dirname "$0")/.."

dev=false
[ "${1:-}" = "--dev" ] && dev=true

sudo_cmd=""
if [ "$(id -u)" -ne 0 ]; then sudo_cmd="sudo"; fi

install_system_packages() {
    local wanted missing=()
    wanted=$(grep -v '^\s*#' scripts/system-packages.txt | tr -s ' \n' ' ')
    for pkg in $wanted; do
        dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
    done
    if [ "${#missing[@]}" -gt 0 ]; then
        echo "setup: installing system packages: ${missing[*]}"
        $sudo_cmd apt-get update -qq
        DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq --no-install-recommends \
            "${missing[@]}" >/dev/null
    fi
}

if $dev; then
    install_system_packages
elif ! python3 -m venv --help >/dev/null 2>&1 || ! python3 -c 'import ensurepip' 2>/dev/null; then
    $sudo_cmd apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq python3-venv >/dev/null
fi

# onec-hbk-bsl (a BSL linter the 1C kit's tests run) needs Python 3.12+: its own venv.
install_bsl_linter() {
    [ -x .venv-hbk/bin/onec-hbk-bsl ] && return 0
    local py=""
    for candidate in "$HOME"/.pyenv/versions/3.1[2-9]*/bin/python python3.13 python3.12; do
        if "$candidate" -c 'import sys; sys.exit(sys.version_info < (3, 12))' >/dev/null 2>&1; then
            py=$candidate
            break
        fi
    done
    if [ -z "$py" ]; then
        echo "setup: no Python 3.12+ found; the onec-hbk-bsl checks of the 1C kit will not run" >&2
        return 0
    fi
    "$py" -m venv .venv-hbk
    .venv-hbk/bin/python -m pip install -q --disable-pip-version-check onec-hbk-bsl-core==0.8.53
}

python=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
    "$python" -m venv .venv
fi
requirements=requirements.txt
$dev && requirements=requirements-dev.txt
stamp=".venv/.installed-$(sha256sum requirements.txt requirements-dev.txt | sha256sum | cut -c1-16)-$requirements"
if [ ! -f "$stamp" ]; then
    .venv/bin/python -m pip install -q --disable-pip-version-check -r "$requirements"
    touch "$stamp"
fi

if $dev; then install_bsl_linter; fi
