"""Where the tests put their screenshots: build/screenshots/ (git-ignored), or $GIGACHAT_SCREENSHOTS.

People look at these: the icon states, the key dialog after a paste, the window shown when there
is no tray, the installer's pages. Each test overwrites its own files, so the folder always
shows the last run.
"""

from __future__ import annotations

import os
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def folder() -> Path:
    path = Path(os.environ.get("GIGACHAT_SCREENSHOTS") or ROOT / "build" / "screenshots")
    path.mkdir(parents=True, exist_ok=True)
    return path


def save(image, name: str) -> Path:
    """Save a PIL image as build/screenshots/<name>.png and return the path."""
    path = folder() / f"{name}.png"
    image.save(path, format="PNG")
    return path
