"""Ctrl+V / Ctrl+C / Ctrl+X / Ctrl+A in every text field whatever the keyboard layout, and a
right-click menu «Вырезать / Копировать / Вставить / Выделить всё».

Tk binds these shortcuts to Latin keysyms, so with the Russian layout active (the usual case for
an accountant) Ctrl+V sends Control-Cyrillic_em and nothing happens. We bind by the physical key
instead: the Cyrillic letter on the same key (ЙЦУКЕН), and on Windows the virtual-key code,
which does not depend on the layout. `install(root)` once per Tk root covers every Entry.
"""

from __future__ import annotations

import sys
import tkinter as tk

# Physical key → action. X11 (and Tk on Windows) name the key by the active layout's letter.
_CYRILLIC = {
    "Cyrillic_em": "paste", "Cyrillic_EM": "paste",  # М on the V key
    "Cyrillic_es": "copy", "Cyrillic_ES": "copy",  # С on the C key
    "Cyrillic_che": "cut", "Cyrillic_CHE": "cut",  # Ч on the X key
    "Cyrillic_ef": "select_all", "Cyrillic_EF": "select_all",  # Ф on the A key
}
_LATIN = {"v": "paste", "c": "copy", "x": "cut", "a": "select_all"}
_WINDOWS_VK = {0x56: "paste", 0x43: "copy", 0x58: "cut", 0x41: "select_all"}  # VK_V, VK_C, ...
_EVENTS = {"paste": "<<Paste>>", "copy": "<<Copy>>", "cut": "<<Cut>>"}
MENU_ITEMS = (("Вырезать", "cut"), ("Копировать", "copy"), ("Вставить", "paste"),
              ("Выделить всё", "select_all"))
ENTRY_CLASSES = ("TEntry", "Entry", "TCombobox")


def action_for(keysym: str, keycode: int, platform: str = sys.platform) -> str | None:
    """The edit action of Ctrl+<this key> when Tk itself would not run it; else None."""
    if keysym.lower() in _LATIN:
        return None  # Latin layout: Tk's own bindings already do it
    if keysym in _CYRILLIC:
        return _CYRILLIC[keysym]
    if platform == "win32":
        return _WINDOWS_VK.get(keycode)
    return None


def run(widget: tk.Misc, action: str) -> None:
    """Do an edit action on a text field, as its own menu item or shortcut would."""
    if action == "select_all":
        widget.selection_range(0, "end")
        widget.icursor("end")
        return
    widget.event_generate(_EVENTS[action])


def _on_control_key(event: tk.Event) -> str | None:
    action = action_for(event.keysym, event.keycode)
    if action is None:
        return None
    run(event.widget, action)
    return "break"


def _show_menu(event: tk.Event) -> str:
    widget = event.widget
    menu = tk.Menu(widget, tearoff=False)
    for label, action in MENU_ITEMS:
        menu.add_command(label=label, command=lambda a=action: run(widget, a))
    widget.focus_set()
    try:
        menu.tk_popup(event.x_root, event.y_root)
    finally:
        menu.grab_release()
    return "break"


def install(widget: tk.Misc) -> None:
    """Bind the shortcuts by physical key and the right-click menu for every text field of
    the widget's Tk interpreter (once: a second call does nothing)."""
    if widget.tk.call("info", "exists", "::gigachat_edit_keys"):
        return
    widget.tk.call("set", "::gigachat_edit_keys", 1)
    root = widget
    right_click = "<Button-2>" if sys.platform == "darwin" else "<Button-3>"
    for cls in ENTRY_CLASSES:
        root.bind_class(cls, "<Control-KeyPress>", _on_control_key, add="+")
        root.bind_class(cls, right_click, _show_menu, add="+")
