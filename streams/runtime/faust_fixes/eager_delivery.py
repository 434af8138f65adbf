"""Faust's consumer, handing each record to the agents without four tasks per record.

Upstream: faust/transport/consumer.py `Consumer._drain_messages` (its `self.wait_first`
  call), mode/services.py `Service.wait_first`, faust/transport/drivers/aiokafka.py
  `Transport.Consumer` (the class replaced)
Checked against: faust-streaming 0.15.3, mode-streaming 0.7.1

Faust's consumer loop delivers every record with `wait_first(callback(message),
suspend_flow.wait())`: four tasks, a wait and three cancellations per record. Yet the
callback suspends only when a stream's buffer is full or the flow is suspended for a
rebalance; otherwise it queues the event and returns.

Here `wait_first` runs the first coroutine's first step at once, as its task would have
run first anyway, in a copy of the context as a task would. A coroutine that completes
then needs no task; one that suspends goes on in a task, raced against the others as
before, so a rebalance still cancels a callback stuck on a full buffer.
"""

from __future__ import annotations

import asyncio
import contextvars
from collections.abc import Awaitable, Callable, Coroutine, Generator
from typing import Any

from faust.transport.drivers import aiokafka as aiokafka_driver
from mode.services import Service, WaitResults


class _GoOn:
    """Awaitable that goes on with a coroutine from where its first steps left it."""

    __slots__ = ("_coro", "_yielded")

    def __init__(self, coro: Coroutine, yielded: Any) -> None:
        self._coro = coro
        self._yielded = yielded  # what the coroutine last yielded to its driver

    def __await__(self) -> Generator[Any, Any, Any]:
        coro, yielded = self._coro, self._yielded
        while True:
            try:
                sent = yield yielded
            except BaseException as exc:  # e.g. the task cancelled: the coroutine sees it
                try:
                    yielded = coro.throw(exc)
                except StopIteration as stop:
                    return stop.value
            else:
                try:
                    yielded = coro.send(sent)
                except StopIteration as stop:
                    return stop.value


async def _go_on(coro: Coroutine, yielded: Any) -> Any:
    return await _GoOn(coro, yielded)


def _close(coros) -> None:
    for coro in coros:
        if asyncio.iscoroutine(coro):
            coro.close()  # never started: no "never awaited" warning


async def wait_first_eagerly(service: Service, wait_first: Callable[..., Awaitable[WaitResults]],
                             *coros, timeout: float | None = None) -> WaitResults:
    """`Service.wait_first(*coros)`, the first coroutine's first step run at once;
    `wait_first` is the service's own, for a coroutine that suspends."""
    first = coros[0] if coros else None
    if not asyncio.iscoroutine(first):
        return await wait_first(*coros, timeout=timeout)
    context = contextvars.copy_context()
    try:
        yielded = context.run(first.send, None)
    except StopIteration as stop:
        _close(coros[1:])
        if service._stopped.is_set() or service._crashed.is_set():
            return WaitResults([], [], True)
        return WaitResults([first], [stop.value], False)
    except BaseException:
        _close(coros[1:])
        raise
    task = asyncio.get_running_loop().create_task(_go_on(first, yielded), context=context)
    return await wait_first(task, *coros[1:], timeout=timeout)


class Consumer(aiokafka_driver.Consumer):
    async def wait_first(self, *coros, timeout=None) -> WaitResults:
        return await wait_first_eagerly(self, super().wait_first, *coros, timeout=timeout)


def install() -> None:
    """Faust's Kafka transport makes this consumer."""
    aiokafka_driver.Transport.Consumer = Consumer
