"""The per-query socket reads and writes keep Trio's stream contract: bytes whole and in
order, EOF as b"", Trio's errors for closed and broken sockets, cancellation, and a
yield to other tasks when bytes were already waiting."""

from __future__ import annotations

import socket

import pytest
import trio
import trio.testing

from qflux.stream_io import receive_some, send_all


def _pair() -> tuple[trio.SocketStream, trio.SocketStream]:
    a, b = socket.socketpair()
    return (
        trio.SocketStream(trio.socket.from_stdlib_socket(a)),
        trio.SocketStream(trio.socket.from_stdlib_socket(b)),
    )


async def _read_exactly(stream: trio.SocketStream, size: int) -> bytes:
    got = bytearray()
    while len(got) < size:
        chunk = await receive_some(stream, 65_536)
        assert chunk, "EOF before every byte arrived"
        got += chunk
    return bytes(got)


async def test_a_write_larger_than_the_socket_buffer_arrives_whole_and_in_order() -> None:
    left, right = _pair()
    payload = bytes(range(256)) * 40_000  # 10 MB: many times the kernel's buffer
    async with trio.open_nursery() as nursery:
        nursery.start_soon(send_all, left, payload)
        assert await _read_exactly(right, len(payload)) == payload


async def test_end_of_stream_reads_as_empty_bytes() -> None:
    left, right = _pair()
    await send_all(left, b"last words")
    await left.aclose()
    assert await _read_exactly(right, 10) == b"last words"
    assert await receive_some(right, 100) == b""


async def test_a_socket_closed_here_raises_closed_resource_error() -> None:
    left, _right = _pair()
    await left.aclose()
    with pytest.raises(trio.ClosedResourceError):
        await receive_some(left, 100)
    with pytest.raises(trio.ClosedResourceError):
        await send_all(left, b"x")


async def test_a_peer_that_went_away_raises_broken_resource_error() -> None:
    left, right = _pair()
    await right.aclose()
    with pytest.raises(trio.BrokenResourceError):
        for _ in range(100):  # the first writes may still be buffered
            await send_all(left, b"x" * 65_536)


async def test_a_wait_for_bytes_is_cancellable() -> None:
    _left, right = _pair()
    with trio.move_on_after(0.05) as scope:
        await receive_some(right, 100)
    assert scope.cancelled_caught


async def test_a_cancelled_scope_stops_the_call_even_with_bytes_waiting() -> None:
    left, right = _pair()
    await send_all(left, b"waiting")
    with trio.CancelScope() as scope:
        scope.cancel()
        await receive_some(right, 100)
    assert scope.cancelled_caught
    assert await receive_some(right, 100) == b"waiting"  # nothing was consumed


async def test_bytes_already_waiting_still_let_other_tasks_run() -> None:
    """A client that pipelines without pause must not hold the event loop: the read
    goes back through the scheduler (one more step of this task) before it returns."""
    left, right = _pair()
    await send_all(left, b"pipelined")
    me = trio.lowlevel.current_task()
    steps = _Steps(me)
    trio.lowlevel.add_instrument(steps)
    try:
        assert await receive_some(right, 100) == b"pipelined"
    finally:
        trio.lowlevel.remove_instrument(steps)
    assert steps.count == 1


class _Steps(trio.abc.Instrument):
    def __init__(self, task: trio.lowlevel.Task) -> None:
        self.task, self.count = task, 0

    def before_task_step(self, task: trio.lowlevel.Task) -> None:
        if task is self.task:
            self.count += 1


async def test_other_streams_use_their_own_methods() -> None:
    left, right = trio.testing.memory_stream_pair()
    await send_all(left, b"over memory")
    assert await receive_some(right, 100) == b"over memory"


async def test_a_read_told_to_wait_first_still_gets_bytes_already_there_and_eof() -> None:
    left, right = _pair()
    await send_all(left, b"already here")
    assert await receive_some(right, 100, ready=False) == b"already here"
    async with trio.open_nursery() as nursery:
        nursery.start_soon(send_all, left, b"later")
        assert await receive_some(right, 100, ready=False) == b"later"
    await left.aclose()
    assert await receive_some(right, 100, ready=False) == b""


async def test_a_read_told_to_wait_first_is_cancelled_while_it_waits() -> None:
    _left, right = _pair()
    with trio.move_on_after(0.05) as scope:
        await receive_some(right, 100, ready=False)
    assert scope.cancelled_caught
