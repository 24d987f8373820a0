"""Debian's own Python with python3-gi, for the tray's gtk and appindicator backends.

pystray's gtk/appindicator backends need PyGObject, which only Debian's /usr/bin/python3 has
(python3-gi gir1.2-gtk-3.0 gir1.2-ayatanaappindicator3-0.1, see scripts/system-packages.txt).
`system_venv` is a venv of that Python made with --system-site-packages (so python3-gi, and
also python3-dbus, are visible, as on a user's machine that runs the bridge that way), with the
program's pinned requirements installed. It is kept in .venv-system/ and rebuilt when
requirements.txt changes; a file lock keeps two test runs from building it at once.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.conftest import need

ROOT = Path(__file__).resolve().parent.parent
SYSTEM_PYTHON = "/usr/bin/python3"
VENV = ROOT / ".venv-system"
GI_CHECK = (
    "import gi; gi.require_version('Gtk', '3.0'); gi.require_version('AyatanaAppIndicator3', '0.1'); "
    "from gi.repository import Gtk, AyatanaAppIndicator3"
)
SYSTEM_PACKAGES = "python3-gi gir1.2-gtk-3.0 gir1.2-ayatanaappindicator3-0.1 python3-tk"


def need_system_gi() -> None:
    """Debian's python3 with PyGObject, GTK 3 and the Ayatana indicator typelib, and tkinter."""
    need(Path(SYSTEM_PYTHON).exists(), f"{SYSTEM_PYTHON} (Debian's python3)")
    done = subprocess.run([SYSTEM_PYTHON, "-c", GI_CHECK + "; import tkinter, venv, ensurepip"],
                          capture_output=True, text=True, timeout=60, check=False)
    need(done.returncode == 0, f"apt-get install {SYSTEM_PACKAGES} python3-venv ({done.stderr[-200:]})")


def _stamp() -> str:
    digest = hashlib.sha256((ROOT / "requirements.txt").read_bytes()).hexdigest()[:16]
    return f"{SYSTEM_PYTHON} --system-site-packages {digest}"


def build() -> Path:
    """The venv's python, built or reused."""
    python = VENV / "bin" / "python"
    stamp_file = VENV / ".made-by"
    VENV.parent.mkdir(parents=True, exist_ok=True)
    with open(ROOT / ".venv-system.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if python.exists() and stamp_file.exists() and stamp_file.read_text() == _stamp():
            return python
        shutil.rmtree(VENV, ignore_errors=True)
        subprocess.run([SYSTEM_PYTHON, "-m", "venv", "--system-site-packages", str(VENV)],
                       check=True, timeout=300)
        done = subprocess.run([str(python), "-m", "pip", "install", "-q", "--disable-pip-version-check",
                               "-r", str(ROOT / "requirements.txt")],
                              capture_output=True, text=True, timeout=1200, check=False,
                              env={**os.environ})
        if done.returncode != 0:
            shutil.rmtree(VENV, ignore_errors=True)
            raise AssertionError(f"pip install into {VENV} failed:\n{done.stdout}\n{done.stderr}")
        stamp_file.write_text(_stamp())
        return python


@pytest.fixture(scope="session")
def system_venv() -> Path:
    """Path to the python of .venv-system (Debian's python3, --system-site-packages)."""
    need_system_gi()
    return build()
