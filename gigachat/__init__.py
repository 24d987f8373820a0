"""GigaChat Bridge for 1C: a local bridge between 1C:Enterprise and GigaChat.

Rooms (each ``__init__`` says what it holds and may import; tests/test_architecture.py
enforces it): ``core`` (the GigaChat session), ``local`` (the local API 1C talks to),
``desktop`` (tray and dialogs), ``emulator`` (a stand-in GigaChat for the demo and tests).
"""

import sys
from pathlib import Path

__version__ = "0.1.0"
APP_NAME = "GigaChatBridge"
PRODUCT_NAME = "Мост ГигаЧат для 1С"

SOURCE_ROOT = Path(__file__).resolve().parent.parent
"""The folder holding tray_app.py and resources/ when run from source."""


def resource_path(*parts: str) -> Path:
    """A file under resources/, also inside a PyInstaller bundle."""
    base = Path(getattr(sys, "_MEIPASS", SOURCE_ROOT))
    return base.joinpath("resources", *parts)
