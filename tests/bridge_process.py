"""The whole bridge (demo Service) in a child process, optionally as the windowed build runs it."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

from tests.conftest import wait_for

REPO = Path(__file__).resolve().parent.parent

# windowed: what the PyInstaller --windowed build has: sys.stdout = sys.stderr = None and no
# usable file descriptors 1 and 2 (closed before the program is imported).
_CHILD = r"""
import os, sys
windowed, port_file, repo = sys.argv[1] == "windowed", sys.argv[2], sys.argv[3]
if windowed:
    sys.stdout = sys.stderr = None
    os.close(1)
    os.close(2)
sys.path.insert(0, repo)
from gigachat.core.logs import setup_logging
setup_logging(console=True)
from gigachat.core.settings import Settings
from gigachat.local.service import Service
service = Service(Settings(port=0), demo=True).start()
with open(port_file + ".tmp", "w") as out:
    out.write(str(service.server.port))
os.replace(port_file + ".tmp", port_file)
sys.stdin.read()  # until the test closes our stdin
service.stop()
"""


class BridgeProcess:
    """Start with `with BridgeProcess(tmp_path, windowed=True) as bridge:`; bridge.port, .pid."""

    def __init__(self, folder: Path, windowed: bool = False) -> None:
        self.port_file = folder / "bridge.port"
        self.windowed = windowed
        self.process: subprocess.Popen | None = None
        self.port = 0

    def __enter__(self) -> BridgeProcess:
        args = [sys.executable, "-c", _CHILD, "windowed" if self.windowed else "console",
                str(self.port_file), str(REPO)]
        self.process = subprocess.Popen(args, stdin=subprocess.PIPE, cwd=REPO, env=os.environ,
                                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_for(lambda: self.port_file.exists() or self.process.poll() is not None, timeout=60)
        assert self.process.poll() is None, "the bridge exited at start"
        self.port = int(self.port_file.read_text())
        return self

    def __exit__(self, *exc) -> None:
        assert self.process is not None
        self.process.stdin.close()
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def status(self, field: str) -> int:
        """A number from /proc/PID/status: Threads, VmHWM (peak RSS, kB), VmRSS (kB)."""
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
        raise KeyError(field)


def raw_exchange(port: int, data: bytes, *, host: str = "127.0.0.1", half_close: bool = False,
                 timeout: float = 15.0) -> bytes:
    """Send bytes, read until the server closes (or the timeout); the raw answer."""
    with socket.create_connection((host, port), timeout=timeout) as sock:
        try:
            sock.sendall(data)
            if half_close:
                sock.shutdown(socket.SHUT_WR)
        except OSError:
            pass
        chunks = []
        try:
            while chunk := sock.recv(65536):
                chunks.append(chunk)
        except (TimeoutError, ConnectionResetError):
            pass
        return b"".join(chunks)
