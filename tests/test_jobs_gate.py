"""The upstream gate's priorities: a person at a 1C form goes ahead of waiting batch items."""

from __future__ import annotations

import threading

import pytest

from gigachat.core.gate import HIGH, LOW, FifoGate, GateAborted, GateTimeout, background
from tests.conftest import wait_for


def _queue_up(gate: FifoGate, order: list[str], name: str, priority: int | None,
              use_context: bool = False) -> threading.Thread:
    """A thread that waits for a slot, notes its name, and frees the slot at once."""

    def run() -> None:
        def take() -> None:
            with gate.slot(10, priority):
                order.append(name)

        if use_context:
            with background():
                take()
        else:
            take()

    thread = threading.Thread(target=run, name=f"gate-test-{name}")
    thread.start()
    return thread


def test_high_priority_waiters_go_first_and_each_priority_is_fifo():
    gate = FifoGate(1)
    gate.acquire()
    order: list[str] = []
    threads = []
    for name, priority in (("low1", LOW), ("high1", HIGH), ("low2", LOW), ("high2", None)):
        threads.append(_queue_up(gate, order, name, priority))
        count = len(threads)
        wait_for(lambda count=count: gate.queue_length == count)
    assert gate.waiting(HIGH) == 2 and gate.waiting(LOW) == 2
    gate.release()
    for thread in threads:
        thread.join(10)
    assert order == ["high1", "high2", "low1", "low2"]
    assert gate.active == 0 and gate.queue_length == 0


def test_background_block_makes_waits_low_priority():
    gate = FifoGate(1)
    gate.acquire()
    order: list[str] = []
    job = _queue_up(gate, order, "job", None, use_context=True)
    wait_for(lambda: gate.waiting(LOW) == 1)
    person = _queue_up(gate, order, "person", None)
    wait_for(lambda: gate.waiting(HIGH) == 1)
    gate.release()
    job.join(10)
    person.join(10)
    assert order == ["person", "job"]


def test_default_is_high_outside_background():
    gate = FifoGate(1)
    gate.acquire()
    with background():
        pass
    waiter = threading.Thread(target=lambda: gate.acquire(10), name="gate-test-default")
    waiter.start()
    wait_for(lambda: gate.waiting(HIGH) == 1)
    gate.release()
    waiter.join(10)
    assert gate.active == 1 and gate.queue_length == 0
    gate.release()


def test_low_waiter_times_out_cleanly_and_free_slots_need_no_wait():
    gate = FifoGate(2)
    assert gate.acquire(0, LOW) and gate.acquire(0, HIGH)
    assert gate.acquire(0.05, LOW) is False
    assert gate.queue_length == 0
    with pytest.raises(GateTimeout), gate.slot(0.05, LOW):
        pass
    gate.release()
    gate.release()
    assert gate.active == 0


def test_a_sync_call_overtakes_a_waiting_batch_item(emulator):
    """Real client, PERS gate: a job item waiting at LOW lets a later sync call in first."""
    from gigachat.core.bridge import create_bridge
    from gigachat.core.settings import Settings
    from gigachat.emulator import DEMO_KEY

    settings = Settings(auth_url=emulator.oauth_url, api_url=emulator.api_url)
    bridge = create_bridge(settings, lambda: DEMO_KEY).start()
    client = bridge.client
    try:
        client.chat({"model": "GigaChat-2", "messages": [{"role": "user", "content": "разогрев"}]})
        emulator.configure(latency=0.5)

        def call(text: str, low: bool) -> None:
            payload = {"model": "GigaChat-2", "messages": [{"role": "user", "content": text}]}
            if low:
                with background():
                    client.chat(payload)
            else:
                client.chat(payload)

        threads = [threading.Thread(target=call, args=("первый", False), name="t-first")]
        threads[0].start()
        wait_for(lambda: client.in_flight == 1)
        threads.append(threading.Thread(target=call, args=("пакет", True), name="t-batch"))
        threads[1].start()
        wait_for(lambda: client.queue_length == 1)
        threads.append(threading.Thread(target=call, args=("человек", False), name="t-person"))
        threads[2].start()
        wait_for(lambda: client.queue_length == 2)
        for thread in threads:
            thread.join(30)
        texts = [entry["user_text"] for entry in emulator.chat_log][1:]
        assert texts == ["первый", "человек", "пакет"]
        assert emulator.stats["rejected_concurrency"] == 0
    finally:
        bridge.stop()


def test_a_background_waiter_whose_abort_is_set_passes_its_turn_on():
    gate = FifoGate(1)
    gate.acquire()
    cancelled = threading.Event()
    results: list[bool] = []

    def job() -> None:
        with background(abort=cancelled.is_set):
            try:
                results.append(gate.acquire(10))
            except GateAborted:
                results.append("aborted")

    waiter = threading.Thread(target=job, name="gate-test-abort")
    waiter.start()
    wait_for(lambda: gate.waiting(LOW) == 1)
    order: list[str] = []
    person = _queue_up(gate, order, "later", LOW)
    wait_for(lambda: gate.waiting(LOW) == 2)
    cancelled.set()
    gate.release()
    waiter.join(10)
    person.join(10)
    assert results == ["aborted"] and order == ["later"]
    assert gate.active == 0 and gate.queue_length == 0
    with background(abort=lambda: True), pytest.raises(GateAborted):
        gate.acquire(0)
    assert gate.active == 0
