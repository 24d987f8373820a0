"""The NSIS installer for real under Debian's wine (issue 15): silent per-user install with
presets → files, shortcuts, the HKCU Run value, the policy file; silent uninstall → all gone;
the stored key removed only with /DELETEKEY; a per-machine install (/ALLUSERS) beside it.

The payload stands in for the Windows build (as in test_packaging.py): wine cannot run a
Windows Python here, so the program file is a small script named GigaChatBridge.exe (wine
makes *.exe files executable and starts non-PE programs as Unix programs) that records its
arguments and runs this repository's tray_app.py. So `uninstall.exe /DELETEKEY` runs the
program's real `--delete-key` against the real Secret Service keyring of the test session.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from gigachat import __version__
from gigachat.core.credentials import CredentialStore
from gigachat.core.policy import load_policy
from gigachat.core.settings import load_settings
from gigachat.emulator import DEMO_KEY
from installer.make_icons import make_icons
from tests.conftest import need, wait_for

ROOT = Path(__file__).resolve().parent.parent
NSI = ROOT / "installer" / "GigaChatBridge.nsi"
APP, EXE = "GigaChatBridge", "GigaChatBridge.exe"
PRODUCT = "Мост ГигаЧат для 1С"
RUN_KEY = r"Software\\Microsoft\\Windows\\CurrentVersion\\Run"
PRESETS = ["/API_URL=https://gigachat.corp.example/api/v1", "/SCOPE=GIGACHAT_API_CORP",
           "/MODEL=GigaChat-2-Max", "/PORT_RANGE=8200-8299",
           "/PROXY=http://CORP%5Cbridge@proxy.corp.example:3128", "/PROXY_AUTH=ntlm",
           "/MULTIUSER=true", "/AUTOSTART=1"]


def run(command: list[str], env: dict[str, str], timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=timeout,
                          check=False)


class Wine:
    """A throwaway WINEPREFIX with the setup built from installer/GigaChatBridge.nsi."""

    def __init__(self, root: Path) -> None:
        self.prefix = root / "prefix"
        self.calls = root / "calls.txt"
        self.env = {**os.environ, "WINEPREFIX": str(self.prefix), "WINEDEBUG": "-all",
                    "WINEDLLOVERRIDES": "mscoree,mshtml="}
        self.user = os.environ.get("USER") or subprocess.run(
            ["id", "-un"], capture_output=True, text=True, check=True).stdout.strip()
        self.setup: Path | None = None

    @property
    def drive(self) -> Path:
        return self.prefix / "drive_c"

    @property
    def user_dir(self) -> Path:
        return self.drive / "users" / self.user

    def wine(self, *args: str) -> subprocess.CompletedProcess:
        done = run(["wine", *args], self.env)
        run(["wineserver", "-w"], self.env)  # the registry files are written when it exits
        return done

    def registry(self, hive: str) -> dict[str, dict[str, str]]:
        """user.reg / system.reg as {key: {value name: text}} (wine's own escapes decoded)."""
        sections: dict[str, dict[str, str]] = {}
        current: dict[str, str] = {}
        text = (self.prefix / hive).read_text(encoding="utf-8", errors="replace")
        for line in text.splitlines():
            if line.startswith("["):
                current = sections.setdefault(line[1:line.rindex("]")], {})
            elif match := re.match(r'^"((?:[^"\\]|\\.)*)"="((?:[^"\\]|\\.)*)"$', line):
                current[_unescape(match.group(1))] = _unescape(match.group(2))
        return sections


def _unescape(text: str) -> str:
    return re.sub(r"\\x([0-9a-fA-F]{1,4})|\\(.)",
                  lambda m: chr(int(m.group(1), 16)) if m.group(1) else m.group(2), text)


@pytest.fixture(scope="module")
def wine(tmp_path_factory):
    need(shutil.which("makensis") is not None, "makensis (apt-get install nsis)")
    need(shutil.which("wine") is not None and shutil.which("wineserver") is not None,
         "wine with wine32:i386 (scripts/setup.sh --dev installs it)")
    root = tmp_path_factory.mktemp("wine")
    box = Wine(root)
    payload = root / "payload"
    (payload / "_internal" / "resources").mkdir(parents=True)
    shutil.copytree(ROOT / "resources" / "certs", payload / "_internal" / "resources" / "certs")
    program = payload / EXE
    program.write_text(f"#!/bin/sh\nprintf '%s\\n' \"$*\" >> '{box.calls}'\n"
                       f"exec '{sys.executable}' '{ROOT / 'tray_app.py'}' \"$@\"\n", encoding="utf-8")
    program.chmod(0o755)
    icons = make_icons(root / "icons")  # generated, never committed (installer/make_icons.py)
    done = run(["makensis", "-V2", "-WX", f"-DVERSION={__version__}", f"-DSOURCE_DIR={payload}",
                f"-DAPP_EXE={EXE}", f"-DONEC_DIR={ROOT / 'resources' / '1c'}",
                f"-DICON={icons['ico']}", f"-DOUTDIR={root}",
                str(NSI)], box.env)
    assert done.returncode == 0, done.stdout + done.stderr
    box.setup = root / f"{APP}-{__version__}-setup.exe"
    booted = run(["wineboot", "-i"], box.env, timeout=600)
    run(["wineserver", "-w"], box.env)
    assert (box.drive / "windows").is_dir(), f"wineboot failed: {booted.stderr[-2000:]}"
    yield box
    run(["wineserver", "-k"], box.env)
    shutil.rmtree(box.prefix, ignore_errors=True)  # about 1 GB


def installed_files(folder: Path) -> set[str]:
    return {p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()}


def uninstall(box: Wine, folder: Path, *options: str) -> None:
    """uninstall.exe /S re-spawns itself from a temp copy: wait for the files to go."""
    box.wine(str(folder / "uninstall.exe"), "/S", *options)
    wait_for(lambda: not folder.exists(), timeout=120, interval=0.2)
    run(["wineserver", "-w"], box.env)


def stored_key() -> str | None:
    return CredentialStore(environ={}).get_key()


def save_test_key() -> None:
    try:
        CredentialStore(environ={}).save_key(DEMO_KEY)
    except Exception as error:  # noqa: BLE001 - say what is missing
        need(False, f"a Secret Service keyring (scripts/with-keyring.sh): {error}")


def test_silent_per_user_install_with_presets_and_uninstall_keeping_the_key(wine, tmp_path):
    save_test_key()
    folder = wine.user_dir / "AppData" / "Local" / "Programs" / APP
    menu = wine.user_dir / "AppData" / "Roaming" / "Microsoft" / "Windows" / "Start Menu" / \
        "Programs" / PRODUCT
    done = wine.wine(str(wine.setup), "/S", *PRESETS)
    assert done.returncode == 0, done.stderr[-2000:]

    files = installed_files(folder)
    assert {EXE, "uninstall.exe", "policy.json",
            "_internal/resources/certs/russian_trusted_root_ca.pem"} <= files
    assert any(name.startswith("Файлы для 1С/") for name in files)
    assert {p.name for p in menu.glob("*.lnk")} == {
        f"{PRODUCT}.lnk", "Файлы для 1С.lnk", f"Удалить «{PRODUCT}».lnk"}
    run_value = wine.registry("user.reg")[RUN_KEY][APP]
    assert run_value == f'"C:\\users\\{wine.user}\\AppData\\Local\\Programs\\{APP}\\{EXE}"'

    # The policy: what the presets said, read by the program's own loader; it wins over the
    # user's settings file and environment.
    policy = load_policy(folder / "policy.json")
    assert policy.values == {"api_url": "https://gigachat.corp.example/api/v1",
                             "scope": "GIGACHAT_API_CORP", "model": "GigaChat-2-Max",
                             "port_range": "8200-8299", "proxy_auth": "ntlm",
                             "proxy": "http://CORP%5Cbridge@proxy.corp.example:3128",
                             "multi_user": "true"}
    user_file = tmp_path / "settings.json"
    user_file.write_text('{"model": "GigaChat", "scope": "GIGACHAT_API_PERS"}', encoding="utf-8")
    settings = load_settings(environ={"GIGACHAT_MODEL": "GigaChat-Pro"}, path=user_file,
                             policy_path=folder / "policy.json")
    assert (settings.model, settings.scope, settings.multi_user) == (
        "GigaChat-2-Max", "GIGACHAT_API_CORP", "true")

    uninstall(wine, folder)
    assert not menu.exists()
    assert APP not in wine.registry("user.reg").get(RUN_KEY, {})
    assert not any(APP in key for key in wine.registry("user.reg"))
    assert stored_key() == DEMO_KEY, "the key survives an uninstall that did not ask"
    assert not wine.calls.exists() or "--delete-key" not in wine.calls.read_text()


def test_silent_uninstall_with_deletekey_removes_the_stored_key(wine):
    save_test_key()
    folder = wine.user_dir / "AppData" / "Local" / "Programs" / APP
    assert wine.wine(str(wine.setup), "/S", "/AUTOSTART=0").returncode == 0
    assert (folder / EXE).is_file()
    assert APP not in wine.registry("user.reg").get(RUN_KEY, {}), "/AUTOSTART=0"
    policy = json.loads((folder / "policy.json").read_text(encoding="utf-8"))
    assert policy["autostart"] is False and load_policy(folder / "policy.json").values == {}
    uninstall(wine, folder, "/DELETEKEY")
    assert "--delete-key" in wine.calls.read_text()
    # Under wine the program runs as a Unix process that ExecWait cannot wait for.
    wait_for(lambda: stored_key() is None, timeout=120, interval=0.2)


def test_per_machine_install_for_all_users(wine):
    folder = wine.drive / "Program Files" / APP
    menu = wine.drive / "ProgramData" / "Microsoft" / "Windows" / "Start Menu" / "Programs" / PRODUCT
    done = wine.wine(str(wine.setup), "/S", "/ALLUSERS", "/MULTIUSER=true")
    assert done.returncode == 0, done.stderr[-2000:]
    assert {EXE, "uninstall.exe", "policy.json"} <= installed_files(folder)
    assert (menu / f"{PRODUCT}.lnk").is_file()
    machine = wine.registry("system.reg")
    assert machine[RUN_KEY][APP] == f'"C:\\Program Files\\{APP}\\{EXE}"'
    uninstall_key = r"Software\\Microsoft\\Windows\\CurrentVersion\\Uninstall\\" + APP
    assert machine[uninstall_key]["DisplayName"] == PRODUCT
    assert load_policy(folder / "policy.json").values == {"multi_user": "true"}
    uninstall(wine, folder)
    machine = wine.registry("system.reg")
    assert APP not in machine.get(RUN_KEY, {}) and uninstall_key not in machine
    assert not menu.exists()
