#!/bin/sh
# Run a command inside a private D-Bus session with an unlocked, throwaway
# gnome-keyring (Secret Service). The keyring lives in a temp dir that is
# removed afterwards, so the real user's keyring is never touched.
# Usage: scripts/with-keyring.sh CMD [ARGS...]   (exits with CMD's status)
set -u

if [ "$#" -eq 0 ]; then
    echo "usage: $0 CMD [ARGS...]" >&2
    exit 2
fi
for tool in dbus-run-session gnome-keyring-daemon; do
    if ! command -v "$tool" >/dev/null 2>&1; then
        echo "with-keyring.sh: '$tool' not found; install it (Debian: apt-get install dbus gnome-keyring)" >&2
        exit 127
    fi
done

keyring_home=$(mktemp -d "${TMPDIR:-/tmp}/with-keyring.XXXXXX") || exit 1
trap 'rm -rf "$keyring_home"' EXIT INT TERM

# Inside the session: start the daemon with its data in the temp dir, unlock
# the (new) login keyring with a dummy password, run the command, then stop
# the daemon (it does not always exit by itself when the bus goes away).
KEYRING_HOME="$keyring_home" dbus-run-session -- sh -c '
    printf %s with-keyring-test |
        XDG_DATA_HOME="$KEYRING_HOME" gnome-keyring-daemon --unlock --components=secrets >/dev/null ||
        { echo "with-keyring.sh: gnome-keyring-daemon failed to start" >&2; exit 1; }
    unset KEYRING_HOME
    daemon=$(dbus-send --session --print-reply --dest=org.freedesktop.DBus /org/freedesktop/DBus \
        org.freedesktop.DBus.GetConnectionUnixProcessID string:org.freedesktop.secrets 2>/dev/null |
        awk "/uint32/ {print \$2}")
    "$@"
    status=$?
    if [ -n "$daemon" ]; then kill "$daemon" 2>/dev/null; fi
    exit "$status"
' with-keyring "$@"
