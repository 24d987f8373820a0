"""Issue 16, items 6 and 7: the key dialog in an accountant's words, and «Сохранить» that checks.

Real Tk windows on Xvfb; the check and the save are stand-ins here (the real ones against the
emulator and the Secret Service are in test_tray_dialogs.py), so each outcome can be chosen.
"""

from __future__ import annotations

import contextlib
import functools

from gigachat.core.errors import BridgeError
from gigachat.desktop.key_dialog import SAVE, SAVE_UNCHECKED, SCOPE_LABELS, KeyDialog, scope_value
from gigachat.emulator import DEMO_KEY
from tests import xrig

xdisplay, root = xrig.xdisplay, xrig.tk_root  # session display; a Tk root per test




pump = functools.partial(xrig.pump, timeout=20.0)


def texts(widget) -> list[str]:
    """Every text a user can read in the window."""
    found = []
    for child in widget.winfo_children():
        with contextlib.suppress(Exception):  # widgets without a text option
            found.append(str(child.cget("text")))
        found.extend(texts(child))
    return found


class Saver:
    """Stands in for the controller's save: raises the given errors in turn, records calls."""

    def __init__(self, *errors: BaseException | None) -> None:
        self.errors = list(errors)
        self.calls: list[tuple[str, str, bool]] = []

    def __call__(self, key: str, scope: str, verify: bool = True) -> None:
        self.calls.append((key, scope, verify))
        error = self.errors.pop(0) if self.errors else None
        if error is not None:
            raise error


def dialog_with(root, saver: Saver) -> KeyDialog:
    dialog = KeyDialog(root, scope="GIGACHAT_API_CORP", check=lambda k, s: None, save=saver)
    dialog.key_entry.insert(0, DEMO_KEY)
    return dialog


def test_words_an_accountant_knows_and_no_base64(root):
    dialog = dialog_with(root, Saver())
    shown = " ".join(texts(dialog.window))
    assert "Ключ авторизации (Authorization key в личном кабинете)" in shown
    assert "base64" not in shown.lower()
    assert dialog.scope.get() == "Юрлицо, оплата по факту (CORP)"
    assert list(dialog.scope_box.cget("values")) == [
        "Физическое лицо (PERS)", "Юрлицо, пакеты токенов (B2B)", "Юрлицо, оплата по факту (CORP)"]
    assert "личный кабинет" in dialog.cabinet_button.cget("text")
    assert all(scope_value(label) == value for value, label in SCOPE_LABELS.items())
    dialog.scope.set("Физическое лицо (PERS)")
    assert dialog.scope_value() == "GIGACHAT_API_PERS"
    dialog.close()


def test_an_unverifiable_key_is_saved_only_on_a_second_explicit_click(root):
    saver = Saver(BridgeError("Нет связи с ГигаЧат: сервер не ответил.", code="network"))
    dialog = dialog_with(root, saver)
    dialog.save()
    pump(root, lambda: "Не удалось проверить ключ" in dialog.message.get())
    assert "Ключ не сохранён" in dialog.message.get() and not dialog.saved
    assert dialog.save_button.cget("text") == SAVE_UNCHECKED
    assert saver.calls == [(DEMO_KEY, "GIGACHAT_API_CORP", True)]
    dialog.save()  # the explicit second click
    pump(root, lambda: dialog.saved)
    assert saver.calls[-1] == (DEMO_KEY, "GIGACHAT_API_CORP", False)


def test_editing_the_key_after_a_failed_check_asks_for_a_check_again(root):
    saver = Saver(BridgeError("ГигаЧат не отвечает.", code="timeout"), None)
    dialog = dialog_with(root, saver)
    dialog.save()
    pump(root, lambda: dialog.save_button.cget("text") == SAVE_UNCHECKED)
    dialog.key_entry.insert("end", "x")
    dialog._edited()
    assert dialog.save_button.cget("text") == SAVE


def test_a_wrong_key_is_refused_without_sending_the_user_to_this_same_dialog(root):
    from gigachat.core.errors import WrongKey

    error = WrongKey()
    assert "«Ключ авторизации…»" in error.message  # what the tray and 1C are told
    saver = Saver(error)
    dialog = dialog_with(root, saver)
    dialog.save()
    pump(root, lambda: "Неверный ключ" in dialog.message.get())
    message = dialog.message.get()
    assert "«Ключ авторизации…»" not in message and "поле выше" in message
    assert dialog.save_button.cget("text") == SAVE  # no «без проверки» for a refused key
    assert not dialog.saved
