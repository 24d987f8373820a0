"""One tray bridge per user: the lock, and that the OS frees it when the holder dies."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

from gigachat.desktop.single_instance import InstanceLock, lock_path

ROOT = Path(__file__).resolve().parent.parent


def test_second_lock_is_refused_until_the_first_is_released(isolated_env):
    assert str(lock_path()).startswith(str(isolated_env / "xdg_state_home"))  # per user
    first, second = InstanceLock(), InstanceLock()
    assert first.acquire()
    assert not second.acquire()
    first.release()
    assert second.acquire()
    second.release()


def test_lock_of_a_killed_process_is_free_again(tmp_path):
    path = tmp_path / "tray.lock"
    holder = subprocess.Popen([sys.executable, "-c", textwrap.dedent(f"""
        import sys, time
        from gigachat.desktop.single_instance import InstanceLock
        lock = InstanceLock({str(path)!r})
        print(lock.acquire(), flush=True)
        time.sleep(60)
    """)], stdout=subprocess.PIPE, text=True, cwd=ROOT)
    try:
        assert holder.stdout.readline().strip() == "True"
        assert not InstanceLock(path).acquire()
        holder.kill()
        holder.wait(10)
        lock = InstanceLock(path)
        assert lock.acquire()  # no stale lock after a crash
        lock.release()
    finally:
        if holder.poll() is None:
            holder.kill()
