"""A real X display for tray tests: Xvfb, the trayer system tray, xdotool, screenshots.

Fixtures are session-scoped and imported by the tray test modules. A missing tool skips
locally and fails under CI=true (see conftest.need).
"""

from __future__ import annotations

import io
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import need, wait_for

ROOT = Path(__file__).resolve().parent.parent
ICON_CLASSNAME = "GigaChatBridgeSystemTrayIcon"  # pystray xorg: WM_CLASS res_name of the icon
TRAY_DEADLINE = 90.0  # seconds for the tray host / an icon / a window to appear on a busy machine


@dataclass
class XDisplay:
    name: str

    @property
    def env(self) -> dict[str, str]:
        return {**os.environ, "DISPLAY": self.name}

    def run(self, *args: str, check: bool = True, timeout: float = 60) -> str:
        done = subprocess.run(list(args), env=self.env, capture_output=True, text=True,
                              timeout=timeout, check=False)
        if check and done.returncode != 0:
            raise AssertionError(f"{args} failed ({done.returncode}): {done.stderr}")
        return done.stdout

    def search(self, *how: str) -> list[int]:
        """Window ids from `xdotool search` (no match, or a busy machine, is an empty list)."""
        try:
            out = self.run("xdotool", "search", *how, check=False, timeout=20)
        except subprocess.TimeoutExpired:
            return []
        return [int(line) for line in out.split()]

    def geometry(self, window: int) -> tuple[int, int, int, int]:
        out = self.run("xdotool", "getwindowgeometry", "--shell", str(window))
        values = dict(line.split("=", 1) for line in out.split())
        return int(values["X"]), int(values["Y"]), int(values["WIDTH"]), int(values["HEIGHT"])

    def parent(self, window: int) -> int:
        """The window's parent (the root window for a top-level one)."""
        out = self.run("xwininfo", "-children", "-id", str(window))
        return int(re.search(r"Parent window id: (0x[0-9a-f]+)", out).group(1), 16)

    def window_title(self, window: int) -> str:
        """The UTF-8 title (_NET_WM_NAME), which is the tray icon's tooltip."""
        out = self.run("xprop", "-id", str(window), "_NET_WM_NAME", check=False)
        match = re.search(r'= "(.*)"', out)
        return match.group(1) if match else ""

    def screenshot(self):
        from PIL import Image

        data = subprocess.run(["import", "-window", "root", "png:-"], env=self.env,
                              capture_output=True, timeout=30, check=True).stdout
        return Image.open(io.BytesIO(data)).convert("RGB")

    def click(self, x: int, y: int) -> None:
        self.run("xdotool", "mousemove", "--sync", str(x), str(y), "click", "1")

    def click_window(self, window: int) -> None:
        x, y, w, h = self.geometry(window)
        self.click(x + w // 2, y + h // 2)


def has_color(image, box: tuple[int, int, int, int], rgb: tuple[int, int, int],
              tolerance: int = 40, share: float = 0.2) -> bool:
    """Whether at least `share` of the pixels in box (x, y, w, h) are close to `rgb`."""
    x, y, w, h = box
    data = image.crop((x, y, x + w, y + h)).tobytes()
    pixels = [data[i:i + 3] for i in range(0, len(data), 3)]
    close = sum(1 for p in pixels if all(abs(a - b) <= tolerance for a, b in zip(p, rgb, strict=True)))
    return bool(pixels) and close / len(pixels) >= share


def hex_rgb(color: str) -> tuple[int, int, int]:
    color = color.lstrip("#")
    return int(color[0:2], 16), int(color[2:4], 16), int(color[4:6], 16)


XVFB_LOG = Path(os.environ.get("TMPDIR", "/tmp")) / f"gigachat-tests-xvfb-{os.getpid()}.log"


def _start_xvfb() -> tuple[subprocess.Popen, str]:
    """A new Xvfb; its display name once it accepts a client (its messages go to XVFB_LOG)."""
    read, write = os.pipe()
    with open(XVFB_LOG, "ab") as log:
        process = subprocess.Popen(
            ["Xvfb", "-displayfd", str(write), "-screen", "0", "1024x768x24", "-nolisten", "tcp"],
            pass_fds=(write,), stdout=log, stderr=log)
    os.close(write)
    with os.fdopen(read) as pipe:
        number = pipe.readline().strip()  # Xvfb writes the display number once it is ready
    if not number:
        process.kill()
        raise AssertionError(f"Xvfb did not start: {XVFB_LOG.read_text(errors='replace')[-2000:]}")
    name = f":{number}"

    def accepts() -> bool:
        from Xlib import display as xdisplay_mod
        from Xlib.error import DisplayError

        if process.poll() is not None:
            raise AssertionError(f"Xvfb {name} exited ({process.returncode}): "
                                 f"{XVFB_LOG.read_text(errors='replace')[-2000:]}")
        try:
            xdisplay_mod.Display(name).close()
        except DisplayError:
            return False
        return True

    wait_for(accepts, timeout=TRAY_DEADLINE, interval=0.1)
    return process, name


@pytest.fixture(scope="session")
def xdisplay():
    """A private Xvfb display (number picked by Xvfb itself)."""
    for tool, package in (("Xvfb", "xvfb"), ("xdotool", "xdotool"), ("import", "imagemagick"),
                          ("xprop", "x11-utils")):
        need(shutil.which(tool) is not None, f"{tool} (apt-get install {package})")
    process, name = _start_xvfb()
    yield XDisplay(name)
    process.terminate()
    process.wait(10)


@pytest.fixture
def tk_root(xdisplay, monkeypatch):
    """A withdrawn Tk root on the session display, owned by the test thread."""
    import gc
    import tkinter as tk

    monkeypatch.setenv("DISPLAY", xdisplay.name)
    window = tk.Tk()
    window.withdraw()
    yield window
    window.destroy()
    del window
    # The dialogs' reference cycles still hold the Tcl interpreter: free it here, in the thread
    # that made it. Collected later by a background thread's GC, Tcl aborts the whole process.
    gc.collect()


def _tray_owner(name: str) -> int:
    from Xlib import display as xdisplay_mod

    connection = xdisplay_mod.Display(name)
    try:
        atom = connection.intern_atom(f"_NET_SYSTEM_TRAY_S{connection.get_default_screen()}")
        owner = connection.get_selection_owner(atom)
        return getattr(owner, "id", 0)  # X.NONE (0) until trayer owns the tray selection
    finally:
        connection.close()


def start_trayer(display: XDisplay, log: Path) -> subprocess.Popen:
    """trayer as the XEmbed system tray of `display`, once it owns the tray selection."""
    with open(log, "wb") as sink:
        process = subprocess.Popen(
            ["trayer", "--edge", "top", "--align", "right", "--widthtype", "request", "--height", "32",
             "--SetDockType", "true", "--transparent", "false", "--tint", "0x333333"],
            env=display.env, stdout=sink, stderr=subprocess.STDOUT)

    def docked() -> int:
        if process.poll() is not None:
            raise AssertionError(f"trayer exited ({process.returncode}) before owning the tray: "
                                 f"{log.read_text(errors='replace')[-2000:]}\nXvfb: "
                                 f"{XVFB_LOG.read_text(errors='replace')[-2000:]}")
        return _tray_owner(display.name)

    # A loaded 2-core CI machine can take a while to start trayer: wait on the real condition
    # (trayer owns the _NET_SYSTEM_TRAY selection), generously.
    wait_for(docked, timeout=TRAY_DEADLINE, interval=0.1)
    return process


@pytest.fixture(scope="session")
def tray_host(xdisplay, tmp_path_factory):
    """trayer as the system tray of the display (what pystray's xorg backend docks into)."""
    need(shutil.which("trayer") is not None, "trayer (apt-get install trayer)")
    process = start_trayer(xdisplay, tmp_path_factory.mktemp("trayer") / "trayer.log")
    yield xdisplay
    process.terminate()
    process.wait(10)


class TrayProcess:
    """tray_app.py in tray mode on the test display, output collected.

    `backend` forces a pystray backend (xorg by default; None lets the program choose), and
    `python` runs it with another interpreter (the system venv for the gtk backends).
    """

    def __init__(self, display: XDisplay, *args: str, env: dict | None = None,
                 backend: str | None = "xorg", python: str | os.PathLike = sys.executable) -> None:
        self.lines: list[str] = []
        full_env = {**os.environ, **(env or {}), "DISPLAY": display.name}
        full_env.pop("PYSTRAY_BACKEND", None)
        if backend:
            full_env["PYSTRAY_BACKEND"] = backend
        self.process = subprocess.Popen(
            [str(python), str(ROOT / "tray_app.py"), *args], cwd=ROOT, env=full_env,
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        self._reader = threading.Thread(target=self._read, name="test-tray-output", daemon=True)
        self._reader.start()

    def _read(self) -> None:
        for line in self.process.stdout:
            self.lines.append(line)

    @property
    def output(self) -> str:
        return "".join(self.lines)

    def wait_line(self, pattern: str, timeout: float = TRAY_DEADLINE) -> re.Match:
        def found():
            match = re.search(pattern, self.output)
            if match is None and self.process.poll() is not None:
                raise AssertionError(f"tray_app.py exited ({self.process.returncode}):\n{self.output}")
            return match
        return wait_for(found, timeout=timeout, interval=0.05)

    def url(self) -> str:
        return self.wait_line(r"запущен: (http://\S+)").group(1)

    def emulator_url(self) -> str:
        return self.wait_line(r"Эмулятор ГигаЧат \(демо\): (http://\S+)").group(1)

    def terminate(self) -> float:
        """Send SIGTERM; the monotonic time it was sent."""
        sent = time.monotonic()
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        return sent

    def stop(self, timeout: float = 40) -> int:
        self.terminate()
        try:
            return self.process.wait(timeout)
        finally:
            if self.process.poll() is None:
                self.process.kill()
                self.process.wait(5)
            self._reader.join(5)


def secret_service():
    """The real Secret Service keyring backend (scripts/with-keyring.sh provides one), or None.

    Asked for directly: keyring.get_keyring() may be a chain that also holds test backends."""
    try:
        from keyring.backends import SecretService

        SecretService.Keyring.priority  # noqa: B018 - raises without a Secret Service on the bus
        backend = SecretService.Keyring()
        backend.get_password("GigaChatBridge-test-probe", "probe")  # raises when locked
        return backend
    except Exception:
        return None


def icon_windows(display: XDisplay) -> list[int]:
    return display.search("--classname", f"^{ICON_CLASSNAME}$")


def wait_icon(display: XDisplay, rgb: tuple[int, int, int], app: TrayProcess | None = None,
              timeout: float = TRAY_DEADLINE) -> int:
    """The icon window, once a screenshot shows `rgb` inside it; on timeout, what was seen."""
    seen: list[str] = []

    def check():
        found = None
        windows = icon_windows(display)
        notes = [f"icon windows {windows}"]
        for window in windows:
            box = display.geometry(window)
            painted = box[2] >= 8 and box[3] >= 8 and has_color(display.screenshot(), box, rgb)
            notes.append(f"{window}: box {box}, {'painted' if painted else 'not painted'}, "
                         f"title {display.window_title(window)!r}")
            found = found or (window if painted else None)
        seen[:] = notes
        return found

    try:
        return wait_for(check, timeout=timeout, interval=0.2)
    except TimeoutError:
        output = app.output if app is not None else ""
        raise AssertionError(f"no icon in {rgb} within {timeout} s; last seen: {seen}\n"
                             f"tray owner {_tray_owner(display.name)}\n"
                             f"{display.run('xwininfo', '-root', '-tree', check=False)}\n{output}") from None


def pump(root, until, timeout: float = 30.0):
    """Run Tk's event loop until `until()` is truthy (the test owns the Tk thread)."""
    deadline = time.monotonic() + timeout
    while True:
        root.update()
        value = until()
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError("the window did not get there in time")
        time.sleep(0.02)
