"""Build the one-folder app (PyInstaller) and the Windows installer (NSIS).

    python installer/build.py                 # dist/GigaChatBridge/ + dist/GigaChatBridge-<v>-setup.exe
    python installer/build.py --no-installer  # only the PyInstaller folder
    python installer/build.py --dist DIR --work DIR --makensis PATH
    python installer/build.py --payload DIR   # only makensis, on an existing app folder

The version comes from gigachat.__version__ (the one place it lives) and is
passed to makensis as -DVERSION. On Linux the Linux build stands in as the
installer's payload: that checks the .nsi script, but the result only runs
usefully on Windows when built on Windows.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
INSTALLER_DIR = ROOT / "installer"
SPEC = INSTALLER_DIR / "GigaChatBridge.spec"
NSI = INSTALLER_DIR / "GigaChatBridge.nsi"
APP_NAME = "GigaChatBridge"
IS_WIN = sys.platform == "win32"

sys.path.insert(0, str(INSTALLER_DIR))
from make_icons import ICONS_DIR, make_icons  # noqa: E402
from winversion import numeric_version  # noqa: E402


def read_version() -> str:
    text = (ROOT / "gigachat" / "__init__.py").read_text(encoding="utf-8")
    match = re.search(r'^__version__ = "([^"]+)"', text, re.M)
    if not match:
        raise SystemExit("gigachat/__init__.py has no __version__ line")
    return match.group(1)


def app_exe() -> str:
    return f"{APP_NAME}.exe" if IS_WIN else APP_NAME


def folder_size(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file() and not f.is_symlink())


def find_makensis(explicit: str | None) -> str | None:
    if explicit:
        return explicit
    found = shutil.which("makensis")
    if found:
        return found
    if IS_WIN:
        for base in (os.environ.get("PROGRAMFILES(X86)"), os.environ.get("PROGRAMFILES")):
            candidate = Path(base or "") / "NSIS" / "makensis.exe"
            if base and candidate.is_file():
                return str(candidate)
    return None


def run_pyinstaller(dist: Path, work: Path) -> Path:
    subprocess.run(
        [sys.executable, "-m", "PyInstaller", "--noconfirm", "--log-level", "WARN",
         "--distpath", str(dist), "--workpath", str(work), str(SPEC)],
        cwd=ROOT, check=True)
    folder = dist / APP_NAME
    if not (folder / app_exe()).is_file():
        raise SystemExit(f"PyInstaller did not produce {folder / app_exe()}")
    return folder


def makensis_command(makensis: str, version: str, payload: Path, out_dir: Path,
                     icon: Path) -> list[str]:
    defines = {
        "VERSION": version,
        "VI_VERSION": ".".join(map(str, numeric_version(version))),
        "SOURCE_DIR": str(payload),
        "APP_EXE": app_exe(),
        "ONEC_DIR": str(ROOT / "resources" / "1c"),
        "ICON": str(icon),
        "OUTDIR": str(out_dir),
    }
    if (payload / f"{APP_NAME}Console.exe").is_file():
        defines["CONSOLE_EXE"] = f"{APP_NAME}Console.exe"
    return [makensis, "-V2", "-WX", *(f"-D{k}={v}" for k, v in defines.items()), str(NSI)]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dist", type=Path, default=ROOT / "dist", help="output folder")
    parser.add_argument("--work", type=Path, default=ROOT / "build", help="PyInstaller work folder")
    parser.add_argument("--no-installer", action="store_true", help="skip makensis")
    parser.add_argument("--makensis", help="path to makensis (default: PATH, then Program Files)")
    parser.add_argument("--payload", type=Path,
                        help="an already built app folder: skip PyInstaller, only run makensis")
    args = parser.parse_args(argv)
    dist, work = args.dist.resolve(), args.work.resolve()

    version = read_version()
    print(f"Сборка «Мост ГигаЧат для 1С» {version}", flush=True)
    icons = make_icons(ICONS_DIR)

    if args.payload:
        folder = args.payload.resolve()
        if not (folder / app_exe()).is_file():
            raise SystemExit(f"{folder} has no {app_exe()}")
    else:
        started = time.monotonic()
        folder = run_pyinstaller(dist, work)
        took = time.monotonic() - started
        print(f"Папка программы: {folder} — {folder_size(folder) / 2**20:.1f} МБ, "
              f"сборка {took:.0f} с", flush=True)
    if args.no_installer:
        return 0

    makensis = find_makensis(args.makensis)
    if not makensis:
        print("makensis не найден: установите NSIS 3 (https://nsis.sourceforge.io; "
              "Debian/Ubuntu: apt install nsis) или укажите --makensis ПУТЬ.", file=sys.stderr)
        return 1
    dist.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    subprocess.run(makensis_command(makensis, version, folder, dist, icons["ico"]),
                   cwd=INSTALLER_DIR, check=True)
    took = time.monotonic() - started
    setup = dist / f"{APP_NAME}-{version}-setup.exe"
    if not setup.is_file():
        raise SystemExit(f"makensis did not produce {setup}")
    print(f"Установщик: {setup} — {setup.stat().st_size / 2**20:.1f} МБ, сборка {took:.0f} с",
          flush=True)
    if not IS_WIN:
        print("Внимание: на Linux внутри установщика — Linux-сборка (проверка сценария NSIS). "
              "Установщик для пользователей собирайте на Windows.", flush=True)
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except subprocess.CalledProcessError as error:
        print(f"Сборка прервана: {error.cmd[0]} завершился с кодом {error.returncode}", file=sys.stderr)
        sys.exit(error.returncode or 1)
