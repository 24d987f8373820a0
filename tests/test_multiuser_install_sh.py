"""installer/linux/install.sh for offices (issue 15): `--uninstall` stops a running bridge and
waits until it is gone; `--system` installs one program for every user of a terminal server,
with the administrator's presets in policy.json, and `--system --uninstall` removes it all."""

from __future__ import annotations

import configparser
import json
import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

from tests.conftest import need
from tests.test_packaging import Started, real_pip_settings

ROOT = Path(__file__).resolve().parent.parent
INSTALL_SH = ROOT / "installer" / "linux" / "install.sh"


def run_sh(*args: str, env: dict[str, str], timeout: float = 900) -> subprocess.CompletedProcess:
    return subprocess.run(["bash", str(INSTALL_SH), *args], env=env, capture_output=True,
                          text=True, timeout=timeout, stdin=subprocess.DEVNULL, check=False)


def user_env(root: Path) -> dict[str, str]:
    env = {**os.environ, **real_pip_settings(), "HOME": str(root / "home"),
           "XDG_DATA_HOME": str(root / "data"), "XDG_CONFIG_HOME": str(root / "config"),
           "XDG_STATE_HOME": str(root / "state"), "XDG_CACHE_HOME": str(root / "cache")}
    for name in ("home", "data", "config", "state", "cache"):
        (root / name).mkdir(parents=True, exist_ok=True)
    return env


def test_uninstall_stops_the_running_bridge_and_waits_until_it_is_gone(tmp_path):
    env = user_env(tmp_path)
    app = tmp_path / "data" / "gigachat-bridge" / "app"  # what install.sh lays out
    app.mkdir(parents=True)
    shutil.copy2(ROOT / "tray_app.py", app)
    shutil.copytree(ROOT / "gigachat", app / "gigachat",
                    ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(ROOT / "resources", app / "resources")
    bridge = Started([sys.executable, str(app / "tray_app.py"), "--headless", "--demo",
                      "--port", "0"], env=env)
    try:
        bridge.url()
        done = run_sh("--uninstall", "--keep-key", env=env)
        gone_at_return = bridge.process.poll() is not None  # read before any waiting
        output = done.stdout + done.stderr
        assert done.returncode == 0, output
        assert gone_at_return, "install.sh returned while the bridge was still running"
        assert "мост остановлен" in output
        assert bridge.process.returncode == 0, "".join(bridge.lines)  # a calm SIGTERM stop
        assert "Мост остановлен." in "".join(bridge.lines)
        assert not app.exists()
    finally:
        bridge.kill()


def test_system_install_for_all_users_with_presets_then_uninstall(tmp_path):
    need(shutil.which("python3") is not None or Path("/usr/bin/python3").exists(), "python3")
    system = {"GIGACHAT_SYSTEM_DIR": tmp_path / "opt" / "gigachat-bridge",
              "GIGACHAT_SYSTEM_BIN": tmp_path / "usr-local-bin",
              "GIGACHAT_SYSTEM_APPLICATIONS": tmp_path / "usr-share-applications",
              "GIGACHAT_SYSTEM_AUTOSTART": tmp_path / "etc-xdg-autostart"}
    env = {**user_env(tmp_path / "admin"), **{k: str(v) for k, v in system.items()}}
    done = run_sh("--system", "--preset", "port_range=8300-8399", "--preset=proxy=direct",
                  env=env)
    output = done.stdout + done.stderr
    assert done.returncode == 0, output
    opt = system["GIGACHAT_SYSTEM_DIR"]
    policy = json.loads((opt / "app" / "policy.json").read_text(encoding="utf-8"))
    assert policy == {"port_range": "8300-8399", "proxy": "direct", "multi_user": "true"}
    launcher = system["GIGACHAT_SYSTEM_BIN"] / "gigachat-bridge"
    autostart = system["GIGACHAT_SYSTEM_AUTOSTART"] / "GigaChatBridge.desktop"
    entry = configparser.ConfigParser(interpolation=None)
    entry.read(autostart, encoding="utf-8")
    assert entry["Desktop Entry"]["Exec"] == str(launcher)
    assert (system["GIGACHAT_SYSTEM_APPLICATIONS"] / "GigaChatBridge.desktop").is_file()
    # Every user may read and run it; nobody but its owner may change it.
    for path in (opt / "app" / "tray_app.py", opt / "app" / "policy.json", launcher):
        mode = path.stat().st_mode
        assert mode & stat.S_IROTH and not mode & (stat.S_IWGRP | stat.S_IWOTH), path
    # Another user's session: the policy wins over that user's own settings file.
    other = user_env(tmp_path / "ivanov")
    settings_dir = tmp_path / "ivanov" / "config" / "GigaChatBridge"
    settings_dir.mkdir(parents=True)
    (settings_dir / "settings.json").write_text('{"port_range": "9000-9010"}', encoding="utf-8")
    version = subprocess.run([str(launcher), "--version"], env=other, capture_output=True,
                             text=True, timeout=120, check=False)
    assert version.returncode == 0, version.stdout + version.stderr
    python = opt / "venv" / "bin" / "python"
    probe = subprocess.run([str(python), "-c", "from gigachat.core.settings import load_settings;"
                            "s = load_settings(); print(s.port_range, s.multi_user, s.proxy)"],
                           env=other, cwd=opt / "app", capture_output=True, text=True,
                           timeout=120, check=False)
    assert probe.stdout.split() == ["8300-8399", "true", "direct"], probe.stderr

    done = run_sh("--system", "--uninstall", env=env)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "остаются в их профилях" in done.stdout
    for gone in (opt, launcher, autostart,
                 system["GIGACHAT_SYSTEM_APPLICATIONS"] / "GigaChatBridge.desktop"):
        assert not gone.exists(), gone
    assert (settings_dir / "settings.json").exists(), "users' own settings are theirs"
