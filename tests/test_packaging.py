"""Packaging: the PyInstaller one-folder app, the NSIS installer, and installer/linux/install.sh.

Real builds and real processes: the frozen binary serves HTTP over loopback (and shows its
tray icon on a virtual display), makensis compiles the .nsi with the Linux build standing in
as the payload (and fails on a broken File line), install.sh installs into a temp HOME.
"""

from __future__ import annotations

import configparser
import importlib.util
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests

from gigachat import __version__
from gigachat.core import credentials
from gigachat.desktop import autostart
from gigachat.desktop.icons import COLORS
from tests import xrig
from tests.conftest import need, wait_for

ROOT = Path(__file__).resolve().parent.parent
INSTALLER = ROOT / "installer"
NSI = INSTALLER / "GigaChatBridge.nsi"
INSTALL_SH = INSTALLER / "linux" / "install.sh"
APP = "GigaChatBridge"
PRODUCT = "Мост ГигаЧат для 1С"
ONEC_FOLDER = "Файлы для 1С"
MAX_FOLDER_MB = 90  # the Linux folder measured 55 MB; a jump means an unwanted dependency

xdisplay, tray_host = xrig.xdisplay, xrig.tray_host  # session fixtures


class Started:
    """A started program whose output is collected by a reader thread."""

    def __init__(self, command: list[str], env: dict | None = None) -> None:
        self.lines: list[str] = []
        self.process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                        text=True, env=env, cwd=ROOT)
        self._reader = threading.Thread(target=self._read, name="test-packaging-output", daemon=True)
        self._reader.start()

    def _read(self) -> None:
        for line in self.process.stdout:
            self.lines.append(line)

    def url(self, timeout: float = 60.0) -> str:
        def found():
            for line in self.lines:
                match = re.search(r"запущен: (http://\S+)", line)
                if match:
                    return match.group(1)
            if self.process.poll() is not None:
                raise AssertionError(f"exited with {self.process.returncode}:\n{''.join(self.lines)}")
            return None
        return wait_for(found, timeout=timeout, interval=0.05)

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)

    def stop(self) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(20)
        except subprocess.TimeoutExpired:
            raise AssertionError(f"did not stop on SIGTERM:\n{''.join(self.lines)}") from None
        finally:
            if self.process.poll() is None:
                self.process.kill()
                self.process.wait(5)
            self._reader.join(5)


def answers_like_the_bridge(url: str) -> None:
    """/health and /analyze/text over loopback, in demo mode."""
    def health_ok():  # "starting" until the first (demo) token arrives
        health = requests.get(url + "/health", timeout=10).json()
        return health if health["status"] == "ok" else None

    health = wait_for(health_ok, timeout=30, interval=0.1)
    assert health["version"] == __version__ and health["demo"] is True
    answer = requests.post(url + "/analyze/text", json={"text": "Привет"}, timeout=60).json()
    assert answer["success"] is True and answer["result"].startswith("[Демо-режим")


def run(command: list[str], timeout: float = 600, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(command, capture_output=True, text=True, timeout=timeout, check=False,
                          **kwargs)


# --- PyInstaller --------------------------------------------------------------------------


@dataclass
class Frozen:
    dist: Path
    folder: Path
    exe: Path
    build_output: str


@pytest.fixture(scope="module")
def frozen(tmp_path_factory) -> Frozen:
    """installer/build.py --no-installer: the one-folder app, built from the spec."""
    need(importlib.util.find_spec("PyInstaller") is not None,
         "PyInstaller (pip install -r requirements-dev.txt)")
    need(shutil.which("strip") is not None, "strip (apt-get install binutils)")
    base = tmp_path_factory.mktemp("pyinstaller")
    done = run([sys.executable, str(INSTALLER / "build.py"), "--no-installer",
                "--dist", str(base / "dist"), "--work", str(base / "build")])
    assert done.returncode == 0, done.stdout + done.stderr
    folder = base / "dist" / APP
    return Frozen(base / "dist", folder, folder / APP, done.stdout + done.stderr)


def bundled_modules(exe: Path) -> set[str]:
    from PyInstaller.archive.readers import pkg_archive_contents

    return set(pkg_archive_contents(str(exe), recursive=True))


def test_frozen_app_answers_health_and_analyze_over_loopback(frozen):
    assert os.access(frozen.exe, os.X_OK)
    app = Started([str(frozen.exe), "--headless", "--demo", "--port", "0"])
    try:
        url = app.url()
        assert url.startswith("http://127.0.0.1:")
        answers_like_the_bridge(url)
    finally:
        assert app.stop() == 0
    assert f"{PRODUCT} {__version__} запущен" in "".join(app.lines)


def test_frozen_app_version_and_key_commands(frozen):
    done = run([str(frozen.exe), "--version"], timeout=60)
    assert done.returncode == 0 and __version__ in done.stdout
    # The uninstallers run `--delete-key`: it must exist and speak Russian when it cannot work.
    env = {**os.environ, "PYTHON_KEYRING_BACKEND": "keyring.backends.fail.Keyring"}
    done = run([str(frozen.exe), "--delete-key"], timeout=60, env=env)
    assert done.returncode == 2 and "хранилищ" in done.stderr and "Traceback" not in done.stderr


def test_frozen_app_bundles_every_module_and_resource(frozen):
    modules = bundled_modules(frozen.exe)
    # Every module of the package, including the ones imported lazily (tray, dialogs).
    ours = {f"gigachat.{p.stem}" for p in (ROOT / "gigachat").glob("*.py") if p.stem != "__init__"}
    assert ours - modules == set()
    assert {"pystray", "pystray._xorg", "tkinter", "keyring.backends.SecretService"} <= modules
    # Excluded: test frameworks and development tools.
    assert not {"unittest", "pytest", "trustme", "schemathesis", "pydoc"} & modules
    internal = frozen.folder / "_internal"
    assert (internal / "resources" / "certs" / "russian_trusted_root_ca.pem").read_bytes() == (
        ROOT / "resources" / "certs" / "russian_trusted_root_ca.pem").read_bytes()
    kit = sorted(p.relative_to(ROOT / "resources" / "1c") for p in (ROOT / "resources" / "1c").rglob("*")
                 if p.is_file())
    assert kit and all((internal / "resources" / "1c" / p).is_file() for p in kit)
    assert (internal / "resources" / "icons" / f"{APP}.ico").read_bytes()[:4] == b"\0\0\1\0"
    assert (internal / "_tcl_data").is_dir(), "Tcl/Tk data for the tray dialogs"


def test_frozen_folder_is_stripped_and_small(frozen):
    size = sum(f.stat().st_size for f in frozen.folder.rglob("*") if f.is_file() and not f.is_symlink())
    assert size < MAX_FOLDER_MB * 2**20, f"{size / 2**20:.1f} MB"
    assert "МБ" in frozen.build_output  # build.py reports the size
    # --strip: no symbol table left in the big shared libraries (readelf comes with strip).
    libpython = next((frozen.folder / "_internal").glob("libpython3*.so*"))
    sections = run(["readelf", "-S", "-W", str(libpython)])
    assert sections.returncode == 0 and ".symtab" not in sections.stdout, libpython.name


def test_frozen_app_shows_its_tray_icon(frozen, tray_host):
    """The bundle has what the tray needs at run time: pystray, Xlib, Pillow, Tcl/Tk."""
    env = {**os.environ, "DISPLAY": tray_host.name, "PYSTRAY_BACKEND": "xorg"}
    app = Started([str(frozen.exe), "--demo", "--port", "0"], env=env)
    green = xrig.hex_rgb(COLORS["green"])
    try:
        app.url()
        window = xrig.wait_icon(tray_host, green, timeout=60)
        tray_host.click_window(window)  # the status window is a Tk window: Tcl/Tk is bundled
        assert wait_for(lambda: tray_host.search("--onlyvisible", "--class", "^GigaChatStatus$"),
                        timeout=30)
    except BaseException:
        app.kill()
        raise
    assert app.stop() == 0, "".join(app.lines)


def load_installer_module(name: str):
    spec = importlib.util.spec_from_file_location(f"installer_{name}", INSTALLER / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("version, numbers", [
    ("0.1.0", (0, 1, 0, 0)), ("1.2.3rc1", (1, 2, 3, 0)), ("2.0", (2, 0, 0, 0)),
    ("1.2.3+local.7", (1, 2, 3, 0)), ("10.20.30.40", (10, 20, 30, 0)),
])
def test_windows_file_version_numbers(version, numbers):
    assert load_installer_module("winversion").numeric_version(version) == numbers


def test_build_script_reads_the_one_version():
    assert load_installer_module("build").read_version() == __version__


# --- NSIS ---------------------------------------------------------------------------------


def makensis_defines(payload: Path, out_dir: Path) -> list[str]:
    return [f"-DVERSION={__version__}", f"-DSOURCE_DIR={payload}", f"-DAPP_EXE={APP}",
            f"-DONEC_DIR={ROOT / 'resources' / '1c'}",
            f"-DICON={ROOT / 'resources' / 'icons' / f'{APP}.ico'}", f"-DOUTDIR={out_dir}"]


@pytest.fixture(scope="module")
def setup_exe(frozen) -> Path:
    """installer/build.py --payload: makensis -WX with the Linux build as the payload."""
    need(shutil.which("makensis") is not None, "makensis (apt-get install nsis)")
    out = frozen.dist / "installer"
    done = run([sys.executable, str(INSTALLER / "build.py"), "--payload", str(frozen.folder),
                "--dist", str(out)])
    assert done.returncode == 0, done.stdout + done.stderr
    return out / f"{APP}-{__version__}-setup.exe"


def test_makensis_builds_a_versioned_windows_installer(setup_exe):
    assert setup_exe.name == f"GigaChatBridge-{__version__}-setup.exe"
    data = setup_exe.read_bytes()
    assert data[:2] == b"MZ"
    # The file properties (version resource) name the product and the version.
    assert PRODUCT.encode("utf-16-le") in data
    assert __version__.encode("utf-16-le") in data


def test_installer_carries_the_program_the_1c_kit_and_an_uninstaller(setup_exe, frozen):
    seven = shutil.which("7zz") or shutil.which("7z")
    need(seven is not None, "7-Zip to list the installer (apt-get install 7zip)")
    listing = run([seven, "l", "-ba", "-slt", str(setup_exe)]).stdout
    names = {line[len("Path = "):] for line in listing.splitlines() if line.startswith("Path = ")}
    assert APP in names and "uninstall.exe" in names
    assert "_internal/resources/certs/russian_trusted_root_ca.pem" in names
    payload = {p.relative_to(frozen.folder).as_posix() for p in frozen.folder.rglob("*") if p.is_file()}
    assert payload <= names
    kit_dir = ROOT / "resources" / "1c"
    kit = {f"{ONEC_FOLDER}/{p.relative_to(kit_dir).as_posix()}" for p in kit_dir.rglob("*") if p.is_file()}
    assert kit and kit <= names


def test_missing_payload_fails_the_build(tmp_path, frozen):
    need(shutil.which("makensis") is not None, "makensis (apt-get install nsis)")
    done = run(["makensis", "-V2", "-WX", *makensis_defines(tmp_path / "no-such-folder", tmp_path),
                str(NSI)], cwd=INSTALLER)
    assert done.returncode != 0
    assert "no files found" in done.stdout + done.stderr
    assert not list(tmp_path.glob("*.exe"))


def test_broken_file_line_fails_the_build(tmp_path, frozen):
    """A copy of the script with one File line that names a missing file."""
    need(shutil.which("makensis") is not None, "makensis (apt-get install nsis)")
    text = NSI.read_text(encoding="utf-8")
    anchor = 'File "${SOURCE_DIR}\\${APP_EXE}"'
    assert anchor in text
    broken = tmp_path / "broken.nsi"
    broken.write_text(text.replace(anchor, 'File "${SOURCE_DIR}\\missing-library.dll"\n  ' + anchor, 1),
                      encoding="utf-8")
    done = run(["makensis", "-V2", "-WX", *makensis_defines(frozen.folder, tmp_path), str(broken)],
               cwd=INSTALLER)
    output = done.stdout + done.stderr
    assert done.returncode != 0
    assert "missing-library.dll" in output and "no files found" in output
    assert not list(tmp_path.glob("*.exe"))


def test_nsis_script_needs_a_version(tmp_path):
    need(shutil.which("makensis") is not None, "makensis (apt-get install nsis)")
    done = run(["makensis", "-V2", "-WX", f"-DOUTDIR={tmp_path}", str(NSI)], cwd=INSTALLER)
    assert done.returncode != 0 and "VERSION" in done.stdout + done.stderr


def nsis_define(text: str, name: str) -> str:
    match = re.search(rf'^!define {name} "([^"]*)"', text, re.M)
    assert match, name
    return match.group(1)


def test_nsis_script_matches_the_program():
    """Per-user, Russian, the tray's Run value, the program's own --delete-key."""
    text = NSI.read_text(encoding="utf-8")
    assert re.search(r"^RequestExecutionLevel user$", text, re.M)
    assert re.search(r'^InstallDir "\$LOCALAPPDATA\\Programs\\\$\{APP_NAME\}"$', text, re.M)
    assert '!insertmacro MUI_LANGUAGE "Russian"' in text
    assert nsis_define(text, "RUN_KEY") == autostart.RUN_KEY
    assert nsis_define(text, "APP_NAME") == autostart.VALUE_NAME == credentials.KEYRING_SERVICE
    assert 'WriteRegStr HKCU "${RUN_KEY}" "${APP_NAME}"' in text
    assert 'DeleteRegValue HKCU "${RUN_KEY}" "${APP_NAME}"' in text
    assert '\\${APP_EXE}" --delete-key"\'' in text  # via nsExec + cmd /c: hidden, waited for
    # Autostart is offered ticked; deleting the key only when the user ticks it.
    assert re.search(r'^Section "Запускать при входе в систему" SecAutostart$', text, re.M)
    assert re.search(r'^Section /o "un\.Сохранённый ключ авторизации и настройки" UnSecKey$', text, re.M)
    # The 1C kit goes next to the program, and the finish page opens it in Explorer.
    assert 'SetOutPath "$INSTDIR\\${ONEC_FOLDER}"' in text and 'File /r "${ONEC_DIR}\\*"' in text
    assert 'ExecShell "open" "$INSTDIR\\${ONEC_FOLDER}"' in text
    assert re.search(r'^OutFile "\$\{OUTDIR\}\\\$\{APP_NAME\}-\$\{VERSION\}-setup\.exe"$', text, re.M)


# --- install.sh ---------------------------------------------------------------------------


def real_pip_settings() -> dict[str, str]:
    """Keep the machine's pip index settings and cache when HOME is a temp dir."""
    env: dict[str, str] = {}
    home = Path(os.path.expanduser("~"))
    if "PIP_CONFIG_FILE" not in os.environ:
        for candidate in (home / ".config" / "pip" / "pip.conf", home / ".pip" / "pip.conf"):
            if candidate.is_file():
                env["PIP_CONFIG_FILE"] = str(candidate)
                break
    env.setdefault("PIP_CACHE_DIR", os.environ.get("PIP_CACHE_DIR", str(home / ".cache" / "pip")))
    return env


@dataclass
class Home:
    root: Path
    env: dict[str, str]

    @property
    def data(self) -> Path:
        return self.root / "data"

    @property
    def config(self) -> Path:
        return self.root / "config"

    @property
    def launcher(self) -> Path:
        return self.root / "home" / ".local" / "bin" / "gigachat-bridge"

    @property
    def menu_entry(self) -> Path:
        return self.data / "applications" / autostart.DESKTOP_FILE

    @property
    def autostart_entry(self) -> Path:
        return self.config / "autostart" / autostart.DESKTOP_FILE

    def install_sh(self, *args: str, timeout: float = 600, **env: str) -> subprocess.CompletedProcess:
        return run(["bash", str(INSTALL_SH), *args], timeout=timeout, env={**self.env, **env},
                   stdin=subprocess.DEVNULL)


@pytest.fixture
def temp_home(tmp_path) -> Home:
    root = tmp_path / "user"
    env = {**os.environ, **real_pip_settings(), "HOME": str(root / "home"),
           "XDG_DATA_HOME": str(root / "data"), "XDG_CONFIG_HOME": str(root / "config"),
           "XDG_STATE_HOME": str(root / "state"), "XDG_CACHE_HOME": str(root / "cache")}
    for name in ("home", "data", "config", "state", "cache"):
        (root / name).mkdir(parents=True)
    return Home(root, env)


def desktop_entry(path: Path) -> dict[str, str]:
    parser = configparser.ConfigParser(interpolation=None)
    parser.optionxform = str  # keys are case-sensitive
    parser.read(path, encoding="utf-8")
    return dict(parser["Desktop Entry"])


def test_install_sh_round_trip(temp_home):
    """Install into a temp HOME, start the launcher, update without autostart, uninstall."""
    need(shutil.which("python3") is not None or Path("/usr/bin/python3").exists(), "python3")
    need(shutil.which("desktop-file-validate") is not None,
         "desktop-file-validate (apt-get install desktop-file-utils)")
    done = temp_home.install_sh()
    output = done.stdout + done.stderr
    assert done.returncode == 0, output
    assert "Secret Service" in output and "трее" in output  # the checks name what they look for
    assert "Готово" in output

    # Launcher, menu entry with the icon, autostart entry (the file the tray menu manages).
    assert os.access(temp_home.launcher, os.X_OK)
    for path in (temp_home.menu_entry, temp_home.autostart_entry):
        entry = desktop_entry(path)
        assert entry["Name"] == PRODUCT and entry["Type"] == "Application"
        assert entry["Exec"] == str(temp_home.launcher)
        icon = Path(entry["Icon"])
        assert icon.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    check = run(["desktop-file-validate", str(temp_home.menu_entry), str(temp_home.autostart_entry)])
    assert check.returncode == 0, check.stdout + check.stderr
    assert autostart.XdgAutostart(temp_home.env).read() == str(temp_home.launcher)

    app = Started([str(temp_home.launcher), "--headless", "--demo", "--port", "0"], env=temp_home.env)
    try:
        answers_like_the_bridge(app.url())
    finally:
        assert app.stop() == 0

    # Update in place without autostart: the venv is reused, the autostart entry goes away.
    done = temp_home.install_sh("--no-autostart")
    assert done.returncode == 0, done.stdout + done.stderr
    assert not temp_home.autostart_entry.exists() and temp_home.menu_entry.exists()

    # Uninstall, asking for the key too: the keyring is unavailable here (never the user's
    # real one), so the script says so in Russian and still removes everything else.
    settings_dir = temp_home.config / "GigaChatBridge"
    settings_dir.mkdir()
    (settings_dir / "settings.json").write_text("{}", encoding="utf-8")
    done = temp_home.install_sh("--uninstall", "--delete-key",
                                PYTHON_KEYRING_BACKEND="keyring.backends.fail.Keyring")
    output = done.stdout + done.stderr
    assert done.returncode == 0, output
    assert "ключ не удалён" in output and "Traceback" not in output
    for gone in (temp_home.launcher, temp_home.menu_entry, temp_home.autostart_entry,
                 temp_home.data / "gigachat-bridge", settings_dir):
        assert not gone.exists(), gone


def test_install_sh_uninstall_keeps_the_key_unless_asked(temp_home):
    temp_home.launcher.parent.mkdir(parents=True)
    temp_home.launcher.write_text("#!/bin/sh\n# somebody else's program\n", encoding="utf-8")
    done = temp_home.install_sh("--uninstall")  # nothing installed, no terminal: no question
    assert done.returncode == 0, done.stdout + done.stderr
    assert "сохранены" in done.stdout
    assert temp_home.launcher.exists(), "a launcher the script did not write is left alone"


def test_install_sh_warns_about_missing_optional_packages(temp_home, tmp_path):
    """No Secret Service provider, no python3-gi: named with their packages; exit 0."""
    bare = tmp_path / "bin"
    bare.mkdir()
    for tool in ("dirname", "sed", "grep", "cat"):
        (bare / tool).symlink_to(shutil.which(tool))
    env = {k: v for k, v in temp_home.env.items() if k != "DBUS_SESSION_BUS_ADDRESS"}
    done = run(["/bin/bash", str(INSTALL_SH), "--check"], timeout=60,
               env={**env, "PATH": str(bare), "PYTHON": sys.executable})
    output = done.stdout + done.stderr
    assert done.returncode == 0, output
    assert "gnome-keyring" in output and "Secret Service" in output
    assert "python3-gi" in output and "gir1.2-ayatanaappindicator3-0.1" in output
    assert "ВНИМАНИЕ" in output


def test_install_sh_requires_python_venv(temp_home, tmp_path):
    """A Python without ensurepip (Debian without python3-venv) stops with the package name."""
    shadow = tmp_path / "shadow"
    shadow.mkdir()
    (shadow / "ensurepip.py").write_text("raise ImportError('no ensurepip here')\n", encoding="utf-8")
    done = temp_home.install_sh("--check", PYTHON=sys.executable, PYTHONPATH=str(shadow))
    assert done.returncode == 1
    assert "python3-venv" in done.stderr and "ОШИБКА" in done.stderr
