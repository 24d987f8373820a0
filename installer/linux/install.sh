#!/usr/bin/env bash
# Install "Мост ГигаЧат для 1С" for the current user on Linux (no root needed), or remove it.
#
#   installer/linux/install.sh                  install or update
#   installer/linux/install.sh --no-autostart   ... without starting at login
#   installer/linux/install.sh --check          only check the system packages
#   installer/linux/install.sh --uninstall [--delete-key | --keep-key]
#   sudo installer/linux/install.sh --system [--preset NAME=VALUE ...]   for all users
#   sudo installer/linux/install.sh --system --uninstall
#
# --system (a terminal server): one program and venv under /opt/gigachat-bridge, the launcher
# /usr/local/bin/gigachat-bridge, the menu entry in /usr/share/applications and an autostart
# entry in /etc/xdg/autostart (every user's session starts its own bridge). The administrator's
# presets go to /opt/gigachat-bridge/app/policy.json, which user settings cannot override;
# multi_user=true unless a preset says otherwise. (GIGACHAT_SYSTEM_DIR, GIGACHAT_SYSTEM_BIN,
# GIGACHAT_SYSTEM_APPLICATIONS and GIGACHAT_SYSTEM_AUTOSTART move these folders, for tests.)
# Uninstall stops the running bridges of this installation and waits until they are gone.
#
# Layout (XDG_DATA_HOME / XDG_CONFIG_HOME respected):
#   ~/.local/share/gigachat-bridge/{venv,app}     the program and its Python environment
#   ~/.local/bin/gigachat-bridge                  launcher
#   ~/.local/share/applications/GigaChatBridge.desktop   menu entry with the icon
#   ~/.config/autostart/GigaChatBridge.desktop    start at login (same file the tray menu writes)
# Environment: PYTHON=/path/to/python3.11+ to choose the interpreter.
set -euo pipefail

SOURCE_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
DATA_HOME=${XDG_DATA_HOME:-$HOME/.local/share}
CONFIG_HOME=${XDG_CONFIG_HOME:-$HOME/.config}
STATE_HOME=${XDG_STATE_HOME:-$HOME/.local/state}
APP_DIR=$DATA_HOME/gigachat-bridge
BIN_DIR=$HOME/.local/bin
LAUNCHER=$BIN_DIR/gigachat-bridge
DESKTOP_FILE=GigaChatBridge.desktop   # gigachat/desktop/autostart.py uses the same name
MENU_ENTRY=$DATA_HOME/applications/$DESKTOP_FILE
AUTOSTART_ENTRY=$CONFIG_HOME/autostart/$DESKTOP_FILE
PRODUCT="Мост ГигаЧат для 1С"
MARKER="# written by GigaChatBridge installer/linux/install.sh"
MIN_PYTHON="3.11"
SYSTEM=false
PRESETS=()

use_system_layout() {
    SYSTEM=true
    APP_DIR=${GIGACHAT_SYSTEM_DIR:-/opt/gigachat-bridge}
    BIN_DIR=${GIGACHAT_SYSTEM_BIN:-/usr/local/bin}
    LAUNCHER=$BIN_DIR/gigachat-bridge
    MENU_ENTRY=${GIGACHAT_SYSTEM_APPLICATIONS:-/usr/share/applications}/$DESKTOP_FILE
    AUTOSTART_ENTRY=${GIGACHAT_SYSTEM_AUTOSTART:-/etc/xdg/autostart}/$DESKTOP_FILE
    if [ "$(id -u)" -ne 0 ] && [ -z "${GIGACHAT_SYSTEM_DIR:-}" ]; then
        die "установка для всех пользователей требует прав root: sudo $0 --system"
    fi
}

say() { printf '%s\n' "$*"; }
warn() { printf 'ВНИМАНИЕ: %s\n' "$*" >&2; }
die() { printf 'ОШИБКА: %s\n' "$*" >&2; exit 1; }

usage() {
    cat <<EOF
Установка «$PRODUCT» для текущего пользователя (права root не нужны).

  $0                    установить или обновить
  $0 --no-autostart     установить без запуска при входе в систему
  $0 --check            только проверить системные пакеты
  sudo $0 --system      установить для всех пользователей компьютера (сервер терминалов):
                        программа в /opt, автозапуск в сеансе каждого пользователя
      --preset ИМЯ=ЗНАЧЕНИЕ   настройка администратора (policy.json), например
                        --preset proxy=http://proxy:3128 --preset port_range=8100-8999
  sudo $0 --system --uninstall   удалить установку для всех пользователей
  $0 --uninstall        удалить программу, ярлыки и автозапуск
      --delete-key      ... и заодно удалить сохранённый ключ и настройки
      --keep-key        ... ключ и настройки оставить (не спрашивать)

Интерпретатор Python ($MIN_PYTHON или новее) можно указать переменной PYTHON.
EOF
}

# --- checks -------------------------------------------------------------------

python_ok() {  # python_ok CMD: version >= MIN_PYTHON
    "$1" -c "import sys; sys.exit(0 if sys.version_info >= (${MIN_PYTHON/./, }) else 1)" 2>/dev/null
}

pick_python() {
    if [ -n "${PYTHON:-}" ]; then
        command -v "$PYTHON" >/dev/null 2>&1 || die "PYTHON=$PYTHON: такой программы нет."
        python_ok "$PYTHON" || die "PYTHON=$PYTHON: нужен Python $MIN_PYTHON или новее."
        printf '%s' "$PYTHON"
        return
    fi
    # Debian's own python3 first: only it sees python3-gi (the tray with a menu).
    local candidate
    for candidate in /usr/bin/python3 python3 python3.13 python3.12 python3.11; do
        if command -v "$candidate" >/dev/null 2>&1 && python_ok "$candidate"; then
            printf '%s' "$(command -v "$candidate")"
            return
        fi
    done
    die "Не найден Python $MIN_PYTHON или новее. Установите его (Debian 12 / Ubuntu 24.04: \
sudo apt install python3 python3-venv; Ubuntu 22.04: sudo apt install python3.11 python3.11-venv \
и запустите с PYTHON=python3.11)."
}

check_venv() {  # required: the venv module with ensurepip
    local py=$1 version
    if ! "$py" -c "import venv, ensurepip" 2>/dev/null; then
        version=$("$py" -c 'import sys; print("%d.%d" % sys.version_info[:2])')
        die "У Python нет модуля venv. Установите пакет: sudo apt install python3-venv \
(или python$version-venv) и запустите установку снова."
    fi
}

has_secret_service() {
    local tool
    for tool in gnome-keyring-daemon kwalletd6 kwalletd5 ksecretd keepassxc; do
        command -v "$tool" >/dev/null 2>&1 && return 0
    done
    # Some other provider that is already running or D-Bus-activatable.
    command -v dbus-send >/dev/null 2>&1 && [ -n "${DBUS_SESSION_BUS_ADDRESS:-}" ] &&
        dbus-send --session --print-reply --dest=org.freedesktop.DBus /org/freedesktop/DBus \
            org.freedesktop.DBus.ListActivatableNames 2>/dev/null | grep -q '"org.freedesktop.secrets"'
}

has_tray_backend() {  # pystray's AppIndicator backend: python3-gi + the indicator typelib
    "$1" - <<'EOF' 2>/dev/null
import gi
for name in ("AyatanaAppIndicator3", "AppIndicator3"):
    try:
        gi.require_version(name, "0.1")
        break
    except ValueError:
        continue
else:
    raise SystemExit(1)
EOF
}

check_optional() {  # warn, never fail
    local py=$1 missing=0
    if has_secret_service; then
        say "  хранилище паролей (Secret Service): есть"
    else
        missing=1
        warn "не найдено хранилище паролей (Secret Service): ключ ГигаЧат будет негде сохранить.
  Установите: sudo apt install gnome-keyring  (в KDE — KWallet; подойдёт и KeePassXC
  с включённой интеграцией Secret Service). Без хранилища ключ можно задать переменной
  окружения GIGACHAT_CREDENTIALS."
    fi
    if has_tray_backend "$py"; then
        say "  значок в трее (python3-gi, AppIndicator): есть"
    else
        missing=1
        warn "нет библиотек для значка в трее с меню.
  Установите: sudo apt install python3-gi gir1.2-ayatanaappindicator3-0.1
  (в GNOME ещё расширение: sudo apt install gnome-shell-extension-appindicator).
  Без них значок будет простым или его не будет; мост всё равно работает."
    fi
    if "$py" -c "import tkinter" 2>/dev/null; then
        say "  окна ввода ключа и настроек (python3-tk): есть"
    else
        missing=1
        warn "нет модуля tkinter для окон ввода ключа и настроек.
  Установите: sudo apt install python3-tk  (или введите ключ командой: gigachat-bridge --set-key)."
    fi
    return $missing
}

# --- helpers --------------------------------------------------------------------

sh_quote() { printf "'%s'" "$(printf '%s' "$1" | sed "s/'/'\\\\''/g")"; }

desktop_quote() {  # a path as one argument of a .desktop Exec line
    case $1 in
        *[\"\`\$\\]*) die "путь «$1» содержит символы \" \` \$ или \\: выберите другую папку." ;;
        *[[:space:]]*) printf '"%s"' "$1" ;;
        *) printf '%s' "$1" ;;
    esac
}

write_desktop_entry() {  # write_desktop_entry FILE EXEC ICON [extra lines]
    local file=$1 exec_line=$2 icon=$3 extra=${4:-}
    mkdir -p "$(dirname "$file")"
    {
        printf '[Desktop Entry]\n'
        printf 'Type=Application\n'
        printf 'Name=%s\n' "$PRODUCT"
        printf 'Comment=Локальный адрес ГигаЧат для 1С; ключ в системном хранилище\n'
        printf 'Exec=%s\n' "$exec_line"
        printf 'Icon=%s\n' "$icon"
        printf 'Terminal=false\n'
        printf 'Categories=Office;\n'
        [ -z "$extra" ] || printf '%s\n' "$extra"
    } > "$file.tmp"
    mv "$file.tmp" "$file"
}

running_pids() {  # bridges started from this installation (every user's with --system)
    local owner=(-u "$(id -u)")
    if $SYSTEM; then owner=(); fi
    pgrep "${owner[@]}" -f -- "$APP_DIR/app/tray_app.py" 2>/dev/null || true
}

stop_running() {  # SIGTERM, then wait until they are gone (SIGKILL after 20 s)
    local pids i
    pids=$(running_pids)
    [ -n "$pids" ] || return 0
    say "Останавливаю запущенный мост..."
    # shellcheck disable=SC2086
    kill $pids 2>/dev/null || true
    for i in $(seq 100); do
        if [ -z "$(running_pids)" ]; then
            say "  мост остановлен."
            return 0
        fi
        sleep 0.2
    done
    warn "мост не остановился за 20 с: завершаю его принудительно."
    pids=$(running_pids)
    # shellcheck disable=SC2086
    [ -z "$pids" ] || kill -KILL $pids 2>/dev/null || true
    for i in $(seq 50); do
        [ -n "$(running_pids)" ] || return 0
        sleep 0.2
    done
    die "не удалось остановить запущенный мост (процессы: $(running_pids | tr '\n' ' '))"
}

write_policy() {  # the administrator's presets as policy.json next to the program
    local policy=$APP_DIR/app/policy.json
    local presets=("${PRESETS[@]}")
    if $SYSTEM && ! printf '%s\n' "${presets[@]}" | grep -q '^multi_user='; then
        presets+=("multi_user=true")
    fi
    if [ "${#presets[@]}" -eq 0 ]; then
        return 0
    fi
    "$APP_DIR/venv/bin/python" - "$policy" "${presets[@]}" <<'PRESETS_PY' || die "неверная настройка --preset"
import json, sys
path, pairs = sys.argv[1], sys.argv[2:]
values = {}
for pair in pairs:
    name, sep, value = pair.partition("=")
    if not sep or not name:
        sys.exit(f"ОШИБКА: --preset {pair}: нужно ИМЯ=ЗНАЧЕНИЕ")
    flags = ("verify_tls", "allow_remote", "api_key_enabled", "log_bodies")
    values[name] = {"true": True, "false": False}.get(value, value) if name in flags else value
with open(path, "w", encoding="utf-8") as out:
    json.dump(values, out, ensure_ascii=False, indent=2)
PRESETS_PY
    chmod 644 "$policy"
    (cd "$APP_DIR/app" && "$APP_DIR/venv/bin/python" -c \
        'from gigachat.core.settings import load_settings; load_settings(environ={})' >/dev/null) ||
        die "настройки администратора в $policy не прошли проверку (см. сообщение выше)"
    say "  Настройки администратора: $policy"
}

link_system_gi() {  # link_system_gi PY: make the system's gi (python3-gi), and only it, importable
    local py=$1 gi_dir site
    site=$("$APP_DIR/venv/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
    rm -rf "$APP_DIR/venv/system-gi" "$site/gigachat-system-gi.pth"
    gi_dir=$("$py" -c 'import gi, os; print(os.path.dirname(gi.__file__))' 2>/dev/null) || return 0
    mkdir -p "$APP_DIR/venv/system-gi"
    ln -s "$gi_dir" "$APP_DIR/venv/system-gi/gi"
    printf '%s\n' "$APP_DIR/venv/system-gi" > "$site/gigachat-system-gi.pth"
}

# --- install ---------------------------------------------------------------------

install() {
    local autostart=$1 py
    say "Установка «$PRODUCT» в $APP_DIR"
    py=$(pick_python)
    check_venv "$py"
    say "Python: $py ($("$py" -c 'import platform; print(platform.python_version())'))"
    say "Проверка системных пакетов:"
    check_optional "$py" || true

    if $SYSTEM; then umask 022; fi  # everyone reads the program; only root changes it
    mkdir -p "$APP_DIR"
    # The program files: a fresh copy, swapped in at the end.
    rm -rf "$APP_DIR/app.new"
    mkdir -p "$APP_DIR/app.new/resources"
    cp "$SOURCE_ROOT/tray_app.py" "$SOURCE_ROOT/requirements.txt" "$APP_DIR/app.new/"
    cp -R "$SOURCE_ROOT/gigachat" "$APP_DIR/app.new/"
    cp -R "$SOURCE_ROOT/resources/certs" "$SOURCE_ROOT/resources/1c" "$APP_DIR/app.new/resources/"
    find "$APP_DIR/app.new" -name __pycache__ -prune -exec rm -rf {} +

    # The venv is isolated from the system's Python packages (no --system-site-packages: that
    # also brought Debian's python3-dbus, whose KWallet probe in keyring could end the program
    # silently at start); only Debian's python3-gi (the tray icon with a menu) is linked in.
    local stamp="$py isolated+gi"
    if [ -x "$APP_DIR/venv/bin/python" ] &&
        [ "$(cat "$APP_DIR/venv/.made-by" 2>/dev/null)" != "$stamp" ]; then
        rm -rf "$APP_DIR/venv"  # made by another Python or with other options: start over
    fi
    if [ ! -x "$APP_DIR/venv/bin/python" ]; then
        "$py" -m venv "$APP_DIR/venv" || die "не удалось создать окружение Python"
        printf '%s' "$stamp" > "$APP_DIR/venv/.made-by"
    fi
    link_system_gi "$py"
    say "Устанавливаю зависимости (версии закреплены в requirements.txt)..."
    "$APP_DIR/venv/bin/python" -m pip install --disable-pip-version-check -q \
        -r "$APP_DIR/app.new/requirements.txt" ||
        die "pip не смог установить зависимости: нужен доступ к PyPI (или настроенное зеркало)."

    stop_running
    rm -rf "$APP_DIR/app"
    mv "$APP_DIR/app.new" "$APP_DIR/app"
    write_policy

    local icon=$APP_DIR/app/resources/icons/GigaChatBridge.png
    mkdir -p "$(dirname "$icon")"
    (cd "$APP_DIR/app" && "$APP_DIR/venv/bin/python" -c \
        'import sys; from gigachat.desktop.icons import APP_ICON_COLOR, draw_icon; draw_icon(APP_ICON_COLOR, 256).save(sys.argv[1])' \
        "$icon")

    mkdir -p "$BIN_DIR"
    {
        printf '#!/bin/sh\n%s\n' "$MARKER"
        printf 'exec %s %s "$@"\n' "$(sh_quote "$APP_DIR/venv/bin/python")" \
            "$(sh_quote "$APP_DIR/app/tray_app.py")"
    } > "$LAUNCHER.tmp"
    chmod 755 "$LAUNCHER.tmp"
    mv "$LAUNCHER.tmp" "$LAUNCHER"

    local exec_line
    exec_line=$(desktop_quote "$LAUNCHER")
    write_desktop_entry "$MENU_ENTRY" "$exec_line" "$icon" "StartupNotify=false"
    if $autostart; then
        write_desktop_entry "$AUTOSTART_ENTRY" "$exec_line" "$icon" "X-GNOME-Autostart-enabled=true"
    else
        rm -f "$AUTOSTART_ENTRY"
    fi
    if command -v update-desktop-database >/dev/null 2>&1; then
        update-desktop-database -q "$(dirname "$MENU_ENTRY")" 2>/dev/null || true
    fi

    say ""
    say "Готово. «$PRODUCT» установлен."
    say "  Запуск: из меню приложений или командой $LAUNCHER"
    if $autostart; then say "  Мост будет запускаться при входе в систему."; fi
    say "  Ключ авторизации: через меню значка в трее или командой: gigachat-bridge --set-key"
    say "  Файлы для 1С: $APP_DIR/app/resources/1c"
    if $SYSTEM; then say "  Удаление: sudo $0 --system --uninstall"; else say "  Удаление: $0 --uninstall"; fi
    case ":$PATH:" in
        *":$BIN_DIR:"*) ;;
        *) say "  (папка $BIN_DIR не в PATH: она появится там после нового входа в систему)" ;;
    esac
}

# --- uninstall ---------------------------------------------------------------------

uninstall() {
    local delete_key=$1
    if [ "$delete_key" = ask ]; then
        delete_key=false
        if [ -t 0 ]; then
            local answer
            read -r -p "Удалить также сохранённый ключ авторизации ГигаЧат и настройки? [y/N] " answer
            case $answer in [yYдД]*) delete_key=true ;; esac
        fi
    fi
    say "Удаление «$PRODUCT»..."
    stop_running
    if $SYSTEM; then
        delete_key=false  # the keys live in each user's own keyring
        say "Ключи и настройки пользователей остаются в их профилях (каждый может удалить свои"
        say "  командой gigachat-bridge --delete-key до удаления программы)."
    fi
    if $delete_key; then
        if [ -x "$APP_DIR/venv/bin/python" ] && [ -f "$APP_DIR/app/tray_app.py" ]; then
            # The program removes the key itself: the same keyring code that stored it.
            "$APP_DIR/venv/bin/python" "$APP_DIR/app/tray_app.py" --delete-key ||
                warn "ключ не удалён автоматически; удалите запись «GigaChatBridge» в программе
  «Пароли и ключи» (seahorse) или командой: secret-tool clear service GigaChatBridge"
        fi
        rm -rf "$CONFIG_HOME/GigaChatBridge" "$STATE_HOME/GigaChatBridge"
    fi
    rm -f "$AUTOSTART_ENTRY" "$MENU_ENTRY"
    if [ -f "$LAUNCHER" ] && grep -qF "$MARKER" "$LAUNCHER"; then
        rm -f "$LAUNCHER"
    fi
    rm -rf "$APP_DIR"
    if command -v update-desktop-database >/dev/null 2>&1 && [ -d "$(dirname "$MENU_ENTRY")" ]; then
        update-desktop-database -q "$(dirname "$MENU_ENTRY")" 2>/dev/null || true
    fi
    say "Готово: программа, ярлыки и автозапуск удалены."
    if ! $delete_key; then
        say "Ключ авторизации и настройки сохранены (удалить: $0 --uninstall --delete-key)."
    fi
}

# --- main ------------------------------------------------------------------------

action=install autostart=true delete_key=ask
while [ "$#" -gt 0 ]; do
    case $1 in
        --uninstall) action=uninstall ;;
        --check) action=check ;;
        --no-autostart) autostart=false ;;
        --delete-key) delete_key=true ;;
        --keep-key) delete_key=false ;;
        --system) use_system_layout ;;
        --preset)
            [ "$#" -ge 2 ] || die "после --preset нужно ИМЯ=ЗНАЧЕНИЕ"
            PRESETS+=("$2")
            shift
            ;;
        --preset=*) PRESETS+=("${1#--preset=}") ;;
        -h|--help) usage; exit 0 ;;
        *) usage >&2; die "неизвестный параметр: $1" ;;
    esac
    shift
done

case $action in
    install) install "$autostart" ;;
    uninstall) uninstall "$delete_key" ;;
    check)
        py=$(pick_python)
        check_venv "$py"
        say "Python: $py — подходит"
        if check_optional "$py"; then say "Всё необходимое установлено."; fi
        ;;
esac
