"""Issue 16, item 1: a start that fails leaves its reason in the log (and says it on screen).

tray_app.py is started for real with a setting that stops the start; the reason must be in
the log file (the windowed build has no console) and must have been handed to the desktop's
message path (notify-send here: a stand-in on PATH records what it was asked to show).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_a_failed_start_is_in_the_log_and_on_screen(isolated_env, tmp_path):
    shown = tmp_path / "shown.txt"
    tools = tmp_path / "bin"
    tools.mkdir()
    notify = tools / "notify-send"
    notify.write_text(f"#!/bin/sh\nprintf '%s\\n' \"$@\" >> '{shown}'\n", encoding="utf-8")
    notify.chmod(0o755)
    env = {**os.environ, "API_PORT": "99999", "PATH": f"{tools}:{os.environ.get('PATH', '')}"}
    env.pop("DISPLAY", None)
    done = subprocess.run([sys.executable, str(ROOT / "tray_app.py")], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 2, done.stdout + done.stderr
    assert "порт должен быть числом от 1 до 65535" in done.stdout + done.stderr
    log = (isolated_env / "xdg_state_home" / "GigaChatBridge" / "log" / "bridge.log").read_text(
        encoding="utf-8")
    assert "start failed:" in log and "99999" in log and "Traceback" not in log
    on_screen = shown.read_text(encoding="utf-8")
    assert "99999" in on_screen and "bridge.log" in on_screen  # where to read more


def test_headless_failures_stay_off_the_screen(isolated_env, tmp_path):
    shown = tmp_path / "shown.txt"
    tools = tmp_path / "bin"
    tools.mkdir()
    (tools / "notify-send").write_text(f"#!/bin/sh\necho \"$@\" >> '{shown}'\n", encoding="utf-8")
    (tools / "notify-send").chmod(0o755)
    env = {**os.environ, "API_PORT": "99999", "PATH": f"{tools}:{os.environ.get('PATH', '')}"}
    done = subprocess.run([sys.executable, str(ROOT / "tray_app.py"), "--headless"], cwd=ROOT,
                          env=env, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 2
    assert not shown.exists()  # a server: the console and the log only
