"""Write the application icons (resources/icons/) from gigachat.desktop.icons.draw_icon.

The files are generated, not kept in git: every build (installer/build.py, the
PyInstaller spec, installer/linux/install.sh) runs this step first.
Usage: python installer/make_icons.py [OUT_DIR]
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ICONS_DIR = ROOT / "resources" / "icons"
APP_ICON_NAME = "GigaChatBridge"
PNG_SIZE = 256


def make_icons(out_dir: Path = ICONS_DIR) -> dict[str, Path]:
    """Write <name>.ico (multi-size, for Windows) and <name>.png (256 px, for Linux menus)."""
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    from gigachat.desktop.icons import APP_ICON_COLOR, draw_icon, save_ico

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    ico = out_dir / f"{APP_ICON_NAME}.ico"
    png = out_dir / f"{APP_ICON_NAME}.png"
    save_ico(str(ico), APP_ICON_COLOR)
    draw_icon(APP_ICON_COLOR, PNG_SIZE).save(png, format="PNG")
    return {"ico": ico, "png": png}


if __name__ == "__main__":
    written = make_icons(Path(sys.argv[1]) if len(sys.argv) > 1 else ICONS_DIR)
    for path in written.values():
        print(path)
