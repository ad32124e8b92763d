"""``poll_select``: kazoo's ``select`` contract, on real sockets."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator

import pytest

from elasticjob.registry.handler import PollingHandler, poll_select


@pytest.fixture
def pair() -> Iterator[tuple[socket.socket, socket.socket]]:
    left, right = socket.socketpair()
    yield left, right
    left.close()
    right.close()


def test_nothing_to_read_waits_for_the_timeout_and_returns_empty(pair: tuple[socket.socket, socket.socket]) -> None:
    left, _ = pair
    began = time.monotonic()
    assert poll_select([left], [], [], 0.05) == ([], [], [])
    assert time.monotonic() - began >= 0.045


def test_a_socket_with_data_is_readable_and_the_objects_passed_in_come_back(
    pair: tuple[socket.socket, socket.socket],
) -> None:
    left, right = pair
    other_left, other_right = socket.socketpair()
    try:
        right.sendall(b"x")
        readable, writable, errors = poll_select([left, other_left], [], [], 1.0)
        assert readable == [left] and writable == [] and errors == []
        assert poll_select([left.fileno()], [], [], 1.0)[0] == [left.fileno()]  # descriptors work too
    finally:
        other_left.close()
        other_right.close()


def test_a_socket_is_writable_and_read_and_write_interest_are_reported_apart(
    pair: tuple[socket.socket, socket.socket],
) -> None:
    left, _ = pair
    assert poll_select([], [left], [], 1.0) == ([], [left], [])
    assert poll_select([left], [left], [], 1.0) == ([], [left], [])  # nothing to read yet


def test_a_closed_peer_counts_as_readable(pair: tuple[socket.socket, socket.socket]) -> None:
    left, right = pair
    right.close()
    assert poll_select([left], [], [], 1.0)[0] == [left]
    assert left.recv(10) == b""


def test_invalid_arguments_are_refused_like_kazoo_does(pair: tuple[socket.socket, socket.socket]) -> None:
    left, _ = pair
    with pytest.raises(ValueError):
        poll_select([left], [], [], -1)
    with pytest.raises(TypeError):
        poll_select([left], [], [], "soon")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        poll_select([-1], [], [], 0)
    closed = socket.socket()
    fd = closed.detach()
    socket.close(fd)
    with pytest.raises(ValueError):
        poll_select([fd], [], [], 0)


def test_the_handler_waits_with_poll_select(pair: tuple[socket.socket, socket.socket]) -> None:
    left, right = pair
    right.sendall(b"x")
    assert PollingHandler().select([left], [], [], 1.0) == ([left], [], [])
