#!/usr/bin/env bash
# Prepare a fresh Debian/Ubuntu machine: system packages (for --dev) and the .venv.
# Usage: scripts/setup.sh [--dev]
set -euo pipefail
cd "$(dirname "$0")/.."

dev=false
[ "${1:-}" = "--dev" ] && dev=true

# What the first run is doing (it takes a while): on stderr, so run.sh's own output stays clean.
say() { echo "setup: $*" >&2; }

sudo_cmd=""
if [ "$(id -u)" -ne 0 ]; then sudo_cmd="sudo"; fi

install_system_packages() {
    local wanted missing=()
    wanted=$(grep -v '^\s*#' scripts/system-packages.txt | tr -s ' \n' ' ')
    for pkg in $wanted; do
        dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
    done
    if [ "${#missing[@]}" -gt 0 ]; then
        say "Устанавливаю системные пакеты: ${missing[*]}"
        $sudo_cmd apt-get update -qq
        DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq --no-install-recommends \
            "${missing[@]}" >/dev/null
    fi
}

if $dev; then
    install_system_packages
elif ! python3 -m venv --help >/dev/null 2>&1 || ! python3 -c 'import ensurepip' 2>/dev/null; then
    say "Устанавливаю системный пакет python3-venv (нужен для .venv)…"
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
        say "не найден Python 3.12+: проверки набора 1С линтером onec-hbk-bsl не будут выполняться"
        return 0
    fi
    "$py" -m venv .venv-hbk
    .venv-hbk/bin/python -m pip install -q --disable-pip-version-check onec-hbk-bsl-core==0.8.53
}

python=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
    say "Первый запуск: создаю окружение Python в папке .venv…"
    "$python" -m venv .venv
fi
requirements=requirements.txt
$dev && requirements=requirements-dev.txt
stamp=".venv/.installed-$(sha256sum requirements.txt requirements-dev.txt | sha256sum | cut -c1-16)-$requirements"
if [ ! -f "$stamp" ]; then
    say "Устанавливаю пакеты программы из $requirements (нужен интернет, обычно до минуты)…"
    .venv/bin/python -m pip install -q --disable-pip-version-check -r "$requirements"
    touch "$stamp"
    say "Пакеты установлены."
fi

if $dev; then install_bsl_linter; fi

# --- wine for tests/test_installer_wine.py (issue 15) -------------------------------------
# The NSIS setup is a 32-bit Windows program: wine64 alone cannot start it, wine32 comes from
# the i386 architecture, which needs `dpkg --add-architecture i386` and its own apt update.
install_wine() {
    if command -v wine >/dev/null 2>&1 && dpkg-query -W -f='${Status}' wine32:i386 2>/dev/null |
            grep -q "install ok installed"; then
        return 0
    fi
    say "Устанавливаю wine (wine64 и wine32:i386) для проверки установщика Windows…"
    if ! dpkg --print-foreign-architectures | grep -qx i386; then
        $sudo_cmd dpkg --add-architecture i386
    fi
    $sudo_cmd apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq --no-install-recommends \
        wine wine64 wine32:i386 >/dev/null
}
if $dev; then install_wine; fi
