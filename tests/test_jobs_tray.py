"""Issue 13 (its tray part) and issue 16 item 9: running batches in the tray menu.

A real bridge in demo mode (the emulator answering slowly), a batch posted to its real
POST /jobs, and the real pystray menu: the batch's progress, «Пауза», «Продолжить», «Отменить»,
notifications when it pauses and when it finishes, and «Выход» asking first while it runs.
"""

from __future__ import annotations

import requests

from gigachat.core.settings import Settings
from tests.conftest import wait_for
from tests.test_tray_menu import Bridge, pystray  # noqa: F401 - pystray is a module fixture

ITEMS = 12


def menu_item(menu, text_start: str):
    return next((item for item in menu.items if item.text.startswith(text_start)), None)


def job_menu(bridge: Bridge):
    """The job's own submenu (its text is the progress), or None while there is none."""
    bridge.controller.refresh()
    jobs = next((item for item in bridge.menu if item.visible and item.submenu
                 and bridge.controller.state.jobs), None)
    if jobs is None:
        return None
    entries = [item for item in jobs.submenu.items if item.visible]
    return entries[0] if entries else None


def post_batch(url: str) -> str:
    body = {"route": "analyze/text", "items": [{"text": f"Позиция {n}"} for n in range(ITEMS)]}
    answer = requests.post(url + "/jobs", json=body, timeout=30)
    assert answer.status_code == 202, answer.text
    return answer.json()["id"]


def test_a_batch_shows_progress_pauses_resumes_and_finishes_with_notifications(
        pystray, monkeypatch, tmp_path):  # noqa: F811
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))  # the jobs database
    bridge = Bridge(pystray, Settings(port=0))
    try:
        bridge.wait_color("green")
        bridge.controller.service.emulator.configure(latency=0.3)
        job_id = post_batch(bridge.controller.url)
        entry = wait_for(lambda: job_menu(bridge), timeout=30, interval=0.05)
        assert entry.text.startswith(("Пакет: ", "Пакет в очереди: ")) and f"из {ITEMS}" in entry.text
        assert [i.text for i in entry.submenu.items if i.visible] == ["Пауза", "Отменить"]
        summary = next(item for item in bridge.menu if item.submenu and item.visible)
        assert summary.text.startswith("Пакет")  # one job: its progress is the menu line

        # «Выход» while it runs asks first (the question goes to the UI thread), nothing stops.
        asked_before = len(bridge.windows.opened)
        assert bridge.click("Выход") is None
        assert len(bridge.windows.opened) == asked_before + 1
        assert not bridge.controller.quitting.is_set()

        menu_item(entry.submenu, "Пауза")(bridge.app.icon)
        wait_for(lambda: any(t == "Задание ГигаЧат на паузе" for t, _ in bridge.notes), timeout=30)
        entry = wait_for(lambda: (e := job_menu(bridge)) and "на паузе" in e.text and e, timeout=30)
        assert [i.text for i in entry.submenu.items if i.visible] == ["Продолжить", "Отменить"]
        paused = requests.get(f"{bridge.controller.url}/jobs/{job_id}", timeout=10).json()
        assert paused["state"] == "paused"

        bridge.controller.service.emulator.configure(latency=0.0)
        menu_item(entry.submenu, "Продолжить")(bridge.app.icon)
        done = wait_for(lambda: next((m for t, m in bridge.notes if t == "Пакет заданий выполнен"), None),
                        timeout=60, interval=0.05)
        assert done == f"Готово {ITEMS} из {ITEMS}."
        wait_for(lambda: job_menu(bridge) is None, timeout=30)
        result = requests.get(f"{bridge.controller.url}/jobs/{job_id}", timeout=10).json()
        assert result["state"] == "done" and result["progress"]["done"] == ITEMS
        quitter = bridge.click("Выход")  # no job running: no question
        quitter.join(30)
        assert bridge.controller.quitting.is_set()
    finally:
        bridge.stop()


def test_cancel_from_the_menu_cancels_the_batch(pystray, monkeypatch, tmp_path):  # noqa: F811
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    bridge = Bridge(pystray, Settings(port=0))
    try:
        bridge.wait_color("green")
        bridge.controller.service.emulator.configure(latency=0.5)
        job_id = post_batch(bridge.controller.url)
        entry = wait_for(lambda: job_menu(bridge), timeout=30, interval=0.05)
        menu_item(entry.submenu, "Отменить")(bridge.app.icon)
        state = wait_for(lambda: (s := requests.get(f"{bridge.controller.url}/jobs/{job_id}",
                                                    timeout=10).json()["state"]) == "cancelled" and s,
                         timeout=30)
        assert state == "cancelled"
        wait_for(lambda: job_menu(bridge) is None, timeout=30)
    finally:
        bridge.stop()
