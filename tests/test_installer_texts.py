"""Issue 16, item 11: the NSIS installer's pages read well, and /D= with spaces works.

Under Debian's wine (the setup built by tests/test_installer_wine.py's fixture): the GUI wizard
on a virtual display is walked to its finish page and photographed (build/screenshots/), and a
silent install with a /D= path holding spaces, quoted the way wine, PowerShell and deployment
scripts quote it, lands in that folder.
"""

from __future__ import annotations

import re
import subprocess

from tests import screens, xrig
from tests.conftest import wait_for
from tests.test_installer_wine import APP, EXE, NSI, installed_files, uninstall
from tests.test_installer_wine import wine as wine  # noqa: PLC0414 - the module fixture

xdisplay = xrig.xdisplay  # session fixture
PRODUCT = "Мост ГигаЧат для 1С"


def nsis_define(text: str, name: str) -> str:
    """The value of `!define NAME "..."` with its continuation lines joined."""
    match = re.search(rf'^!define {name} "((?:[^"\n]|\\\n)*)"', text, re.M)
    assert match, name
    return match.group(1).replace("\\\n", "")


def test_pages_name_the_program_in_quotes_and_keep_the_finish_text_short():
    text = NSI.read_text(encoding="utf-8")
    # MUI's Russian strings put $(^NameDA) after «мастер установки», «Программа установит»:
    # «Мастер установки Мост ГигаЧат для 1С» reads wrong, with the quotes it reads right.
    assert re.search(r'^Name "\$\{PRODUCT\}" "«\$\{PRODUCT\}»"', text, re.M)
    assert nsis_define(text, "MUI_WELCOMEPAGE_TITLE") == "Установка программы «${PRODUCT}»"
    assert "!define MUI_FINISHPAGE_TEXT_LARGE" in text
    finish = nsis_define(text, "MUI_FINISHPAGE_TEXT").replace("$\\r$\\n", "\n")
    assert len(finish) <= 200, finish  # four short lines above the two check boxes
    assert "Ключ авторизации" in finish and "${ONEC_FOLDER}" in finish


def test_silent_install_into_a_folder_with_spaces_given_by_a_quoted_d(wine):
    """wine quotes an argument with spaces ("/D=C:\\…"), as PowerShell does: NSIS alone ignored it."""
    folder = wine.drive / "Program Files" / "Мост для 1С тест"
    done = wine.wine(str(wine.setup), "/S", "/AUTOSTART=0", r"/D=C:\Program Files\Мост для 1С тест")
    assert done.returncode == 0, done.stderr[-2000:]
    files = installed_files(folder)
    assert {EXE, "uninstall.exe"} <= files, sorted(files)[:10]
    assert not (wine.user_dir / "AppData" / "Local" / "Programs" / APP / EXE).exists()
    uninstall(wine, folder)


def side_picture(image) -> bool:
    """The welcome and finish pages have MUI's tall blue picture at the left; the others not."""
    r, g, b = image.getpixel((20, image.height // 2))[:3]
    return b > 100 and b > r + 40 and b > g + 20


def settled_page(display, window: int, previous=None, finish: bool = False):
    """A photo of the wizard window once it shows a new page that has finished painting:
    different from `previous`, the same in two photos in a row (and for the finish page,
    with the side picture: not the progress page before it)."""
    last = None

    def shot():
        nonlocal last
        x, y, w, h = display.geometry(window)
        image = display.screenshot().crop((x, y, x + w, y + h))
        same = last is not None and image.tobytes() == last.tobytes()
        last = image
        new = previous is None or image.tobytes() != previous.tobytes()
        return image if same and new and (not finish or side_picture(image)) else None
    return wait_for(shot, timeout=120, interval=0.3)


def test_the_wizard_pages_fit_and_are_photographed(wine, xdisplay):
    """Welcome → components → folder → install → finish, by keyboard; each page photographed."""
    env = {**wine.env, "DISPLAY": xdisplay.name}
    folder = wine.drive / "users" / "Public" / "GigaChat Wizard Test"
    wizard = subprocess.Popen(["wine", str(wine.setup), r"/D=C:\users\Public\GigaChat Wizard Test"],
                              env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        window = wait_for(lambda: (xdisplay.search("--name", "установка") or [None])[0],
                          timeout=120, interval=0.3)
        page = None
        for name in ("welcome", "components", "directory", "finish"):
            if name == "finish":
                wait_for(lambda: (folder / "uninstall.exe").exists(), timeout=120, interval=0.3)
            page = settled_page(xdisplay, window, page, finish=name == "finish")
            screens.save(page, f"installer-{name}")
            if name != "finish":
                xdisplay.run("xdotool", "key", "--window", str(window), "Return")
        assert {EXE, "uninstall.exe"} <= installed_files(folder)
        assert side_picture(page)
    finally:
        subprocess.run(["wineserver", "-k"], env=wine.env, check=False, timeout=60)
        wizard.wait(30)
