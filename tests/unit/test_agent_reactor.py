"""``Reactor``: one thread running callbacks for readable descriptors, timers and calls from other threads."""

from __future__ import annotations

import os
import threading

from elasticjob.agent.reactor import Reactor


def test_calls_from_other_threads_run_on_the_reactor_thread_in_order() -> None:
    reactor = Reactor("test-reactor")
    ran: list[tuple[int, str]] = []
    done = threading.Event()
    for number in range(100):
        reactor.call_soon(lambda n=number: ran.append((n, threading.current_thread().name)))  # type: ignore[misc]
    reactor.call_soon(done.set)

    assert done.wait(5)
    assert [n for n, _ in ran] == list(range(100))
    assert {name for _, name in ran} == {"test-reactor"}


def test_timers_run_in_deadline_order_and_a_cancelled_one_never_runs() -> None:
    reactor = Reactor()
    ran: list[str] = []
    done = threading.Event()
    reactor.call_later(0.2, lambda: ran.append("late"))
    cancelled = reactor.call_later(0.1, lambda: ran.append("cancelled"))
    reactor.call_later(0.05, lambda: ran.append("early"))
    reactor.call_later(0.3, done.set)
    cancelled.cancel()

    assert done.wait(5)
    assert ran == ["early", "late"]


def test_a_reader_is_called_until_removed_and_a_failing_callback_does_not_stop_the_loop() -> None:
    reactor = Reactor()
    read_fd, write_fd = os.pipe()
    received: list[bytes] = []
    closed = threading.Event()

    def on_readable() -> None:
        data = os.read(read_fd, 100)
        if data:
            received.append(data)
            return
        reactor.remove_reader(read_fd)
        os.close(read_fd)
        closed.set()

    reactor.call_soon(lambda: 1 / 0)  # logged, and the loop goes on
    reactor.add_reader(read_fd, on_readable)
    for chunk in (b"a", b"b", b"c"):
        os.write(write_fd, chunk)
    os.close(write_fd)

    assert closed.wait(5)
    assert b"".join(received) == b"abc"


def test_a_timer_years_away_does_not_stop_the_loop() -> None:
    reactor = Reactor()
    done = threading.Event()
    reactor.call_later(10**10, lambda: None)  # a DAEMON whose cron fires in 2099
    reactor.call_later(0.01, lambda: reactor.call_soon(done.set))

    assert done.wait(5)
