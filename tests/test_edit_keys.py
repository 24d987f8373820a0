"""Issue 16, item 5: Ctrl+V / Ctrl+C / Ctrl+X / Ctrl+A work with the Russian layout, and text
fields have a right-click menu «Вырезать / Копировать / Вставить / Выделить всё».

On a real X display (Xvfb). With the Russian layout the V key sends the keysym Cyrillic_em:
that is the key event these tests give the field (Tk's own event, as X delivers it after
`setxkbmap ru`), and the clipboard is owned by another program, as when a user copies the key
from the browser.
"""

from __future__ import annotations

import functools
import gc
import subprocess
import sys
import types

import pytest

from gigachat.desktop import edit_keys
from tests import screens, xrig

KEY = "TWFzdGVyS2V5OnNlY3JldC12YWx1ZS0xMjM0NQ=="

OWNER = r"""
import sys, tkinter as tk
root = tk.Tk(); root.withdraw()
root.clipboard_clear(); root.clipboard_append(sys.argv[1]); root.update()
print("owning", flush=True)
root.mainloop()  # serves the selection until the test ends this process
"""


@pytest.fixture(scope="session")
def ru_display():
    """A display of its own with `setxkbmap ru` asked for (the shared one stays untouched:
    on this Xvfb a layout change half-applies and breaks later X clients such as trayer).
    Session-scoped: Tk keeps its display connections open, and Xlib ends the process when a
    server it is connected to goes away, so this server lives as long as the test run."""
    process, name = xrig._start_xvfb()
    subprocess.run(["setxkbmap", "-display", name, "ru"], check=False, timeout=30, capture_output=True)
    yield xrig.XDisplay(name)
    process.terminate()
    process.wait(10)


@pytest.fixture
def tk_root(ru_display, monkeypatch):
    import tkinter as tk

    monkeypatch.setenv("DISPLAY", ru_display.name)
    root = tk.Tk()
    edit_keys.install(root)
    yield root
    root.destroy()
    root = None
    gc.collect()


@pytest.fixture
def clipboard_owner(ru_display):
    """Another X client owning the CLIPBOARD with KEY (the browser the key was copied from)."""
    process = subprocess.Popen([sys.executable, "-c", OWNER, KEY], env=ru_display.env, text=True,
                               stdout=subprocess.PIPE)
    assert process.stdout.readline().strip() == "owning"
    yield
    process.terminate()
    process.wait(10)


pump = functools.partial(xrig.pump, timeout=20.0)


def entry(root, show: str = ""):
    from tkinter import ttk

    field = ttk.Entry(root, show=show, width=50)
    field.pack()
    root.update()
    field.focus_force()
    pump(root, lambda: root.focus_get() is field)
    return field


PHYSICAL = {"Cyrillic_em": 55, "Cyrillic_es": 54, "Cyrillic_che": 53, "Cyrillic_ef": 38}  # evdev


def russian_ctrl(field, keysym: str) -> None:
    """Ctrl + the key whose Russian letter is `keysym` (Cyrillic_em is the V key), delivered to
    the text field's class binding as X delivers it with the Russian layout active.

    The event is handed to the binding directly: this Xvfb ignores keymap changes (setxkbmap
    ru, an xkbcomp upload and a core ChangeKeyboardMapping all leave keycode 55 as «v»), so
    neither XTEST nor Tk's event_generate can produce a Cyrillic keysym here."""
    bound = field.bind_class("TEntry", "<Control-KeyPress>")
    assert "_on_control_key" in bound, bound  # the binding every text field gets
    event = types.SimpleNamespace(keysym=keysym, keycode=PHYSICAL.get(keysym, 0), widget=field)
    assert edit_keys._on_control_key(event) == "break"


@pytest.mark.parametrize("keysym, expected", [
    ("Cyrillic_em", "paste"), ("Cyrillic_EM", "paste"), ("Cyrillic_es", "copy"),
    ("Cyrillic_che", "cut"), ("Cyrillic_ef", "select_all"), ("v", None), ("Cyrillic_a", None)])
def test_the_physical_key_decides(keysym, expected):
    assert edit_keys.action_for(keysym, 0, platform="linux") == expected


def test_windows_virtual_key_codes_work_in_any_layout():
    assert edit_keys.action_for("??", 0x56, platform="win32") == "paste"
    assert edit_keys.action_for("??", 0x41, platform="win32") == "select_all"
    assert edit_keys.action_for("??", 0x56, platform="linux") is None


def test_ctrl_v_with_the_russian_layout_pastes_the_key(tk_root):
    tk_root.clipboard_clear()
    tk_root.clipboard_append(KEY)
    field = entry(tk_root, show="•")
    russian_ctrl(field, "Cyrillic_em")
    assert pump(tk_root, lambda: field.get() == KEY)


def test_ctrl_a_then_ctrl_x_and_ctrl_c_with_the_russian_layout(tk_root):
    field = entry(tk_root)
    field.insert(0, "Ключ-12345")
    russian_ctrl(field, "Cyrillic_ef")  # Ctrl+A
    assert field.selection_present() and field.selection_get() == "Ключ-12345"
    russian_ctrl(field, "Cyrillic_es")  # Ctrl+C
    assert pump(tk_root, lambda: tk_root.clipboard_get() == "Ключ-12345")
    russian_ctrl(field, "Cyrillic_che")  # Ctrl+X
    assert pump(tk_root, lambda: field.get() == "")
    russian_ctrl(field, "Cyrillic_em")  # Ctrl+V puts it back, once
    assert pump(tk_root, lambda: field.get() == "Ключ-12345")


def test_latin_ctrl_v_is_left_to_tk(tk_root):
    """Latin layout: Tk's own Ctrl+V pastes; our binding does nothing (no double paste)."""
    tk_root.clipboard_clear()
    tk_root.clipboard_append(KEY)
    field = entry(tk_root)
    event = types.SimpleNamespace(keysym="v", keycode=55, widget=field)
    assert edit_keys._on_control_key(event) is None
    tk_root.update()
    assert field.get() == ""


def test_right_click_menu_offers_the_four_actions_in_russian(tk_root, clipboard_owner):
    import tkinter as tk

    field = entry(tk_root)
    x, y = field.winfo_rootx() + 10, field.winfo_rooty() + 5
    field.event_generate("<Button-3>", x=10, y=5, rootx=x, rooty=y, when="now")
    menu = pump(tk_root, lambda: next((w for w in field.winfo_children() if isinstance(w, tk.Menu)
                                       and w.winfo_ismapped()), None))
    labels = [menu.entrycget(i, "label") for i in range(menu.index("end") + 1)]
    assert labels == ["Вырезать", "Копировать", "Вставить", "Выделить всё"]
    menu.invoke(labels.index("Вставить"))
    menu.unpost()
    assert pump(tk_root, lambda: field.get() == KEY)


def test_install_twice_binds_once(tk_root):
    tk_root.clipboard_clear()
    tk_root.clipboard_append(KEY)
    edit_keys.install(tk_root)
    field = entry(tk_root)
    russian_ctrl(field, "Cyrillic_em")
    assert pump(tk_root, lambda: field.get() == KEY)
    tk_root.update()
    assert field.get() == KEY



def test_key_dialog_after_ctrl_v_with_the_russian_layout_is_photographed(tk_root, ru_display):
    """The key dialog itself: Ctrl+V (Russian layout) puts the copied key into the key field;
    the dialog is photographed as the user sees it (build/screenshots/key-dialog-ctrl-v-ru.png)."""
    from gigachat.desktop.key_dialog import KEY_LABEL, SCOPE_LABELS, KeyDialog

    tk_root.clipboard_clear()
    tk_root.clipboard_append(KEY)
    dialog = KeyDialog(tk_root, scope="GIGACHAT_API_PERS", check=lambda k, s: None,
                       save=lambda k, s, verify=True: None)
    field = dialog.key_entry
    pump(tk_root, lambda: tk_root.focus_get() is field)
    russian_ctrl(field, "Cyrillic_em")
    assert pump(tk_root, lambda: field.get() == KEY)
    assert dialog.scope.get() == SCOPE_LABELS["GIGACHAT_API_PERS"] == "Физическое лицо (PERS)"
    assert KEY_LABEL.startswith("Ключ авторизации (Authorization key")
    window = dialog.window
    x, y = window.winfo_rootx(), window.winfo_rooty()
    w, h = window.winfo_width(), window.winfo_height()

    def painted():
        tk_root.update()
        shot = ru_display.screenshot().crop((x, y, x + w, y + h))
        return shot if len(set(shot.get_flattened_data())) > 20 else None
    shot = pump(tk_root, painted)
    screens.save(shot, "key-dialog-ctrl-v-ru")
    bullets = field.get()  # masked on screen: the field holds the key, the screen shows dots
    assert bullets == KEY and field.cget("show") == "•"
    dialog.close()
