"""Faust's aiokafka consumer on the stage's own event loop, not on a thread of its own.

Upstream: faust/transport/drivers/aiokafka.py `Consumer._new_consumer_thread` and
  `AIOKafkaConsumerThread`, faust/transport/consumer.py `ThreadDelegateConsumer`,
  mode/threads.py `ServiceThread` (start, `_serve`, `Worker`, `_gather_remaining_tasks`)
  and `QueueServiceThread.call_thread`
Checked against: faust-streaming 0.15.3, mode-streaming 0.7.1, aiokafka 0.14.0

Faust runs its aiokafka consumer in a thread with an event loop of its own, and every
call into it (each `getmany`, commit, seek) crosses threads twice: a method queue and a
future set from the other loop, each a wake-up through the loop's self-pipe and a hand-
over of the GIL. aiokafka is asyncio code; nothing in it needs a thread. Here the
"thread" is a task on the stage's loop, and calls into it are awaited directly. The
consumer's rebalance callbacks still reach Faust through its method queue, as before.
"""

from __future__ import annotations

from mode import Service
from mode.utils.futures import maybe_async

from streams.runtime.faust_fixes import eager_delivery
from faust.transport.drivers import aiokafka as aiokafka_driver


class _Inline:
    """Stands in for mode's WorkerThread: runs the service's thread body as a task of
    the loop that starts it."""

    def __init__(self, service: "ConsumerTask") -> None:
        self.service = service
        self._task = None

    def start(self) -> None:
        self._task = self.service.parent_loop.create_task(self._run(), name="faust-consumer")

    async def _run(self) -> None:
        try:
            await self.service._serve()
        except Exception:
            self.service.set_shutdown()  # as WorkerThread does when _serve raises
            raise

    def stop(self) -> None:
        """Nothing to join: `_serve` ends once the service is stopped."""

    def is_alive(self) -> bool:
        return self._task is not None and not self._task.done()


class Inline:
    """What a mode QueueServiceThread needs to run on the loop that starts it (pass that
    loop as both `loop` and `thread_loop`)."""

    Worker = _Inline

    async def call_thread(self, fun, *args, **kwargs):
        return await maybe_async(fun(*args, **kwargs))  # as the method queue runs it

    async def cast_thread(self, fun, *args, **kwargs) -> None:
        self.parent_loop.create_task(maybe_async(fun(*args, **kwargs)))

    async def _keepalive2(self) -> None:
        """No thread whose loop could stall."""

    @Service.task
    async def _thread_keepalive(self) -> None:
        """No second loop to keep awake."""

    async def _gather_remaining_tasks(self) -> None:
        """mode cancels every task left on the thread's loop when the thread ends: here
        that loop is the stage's, whose tasks are not the consumer's to cancel."""


class ConsumerTask(Inline, aiokafka_driver.AIOKafkaConsumerThread):
    def __init__(self, consumer, *, loop, **kwargs) -> None:
        super().__init__(consumer, loop=loop, thread_loop=loop, **kwargs)


class Consumer(eager_delivery.Consumer):
    def _new_consumer_thread(self) -> ConsumerTask:
        return ConsumerTask(self, loop=self.loop, beacon=self.beacon)


def install() -> None:
    """Faust's Kafka transport makes this consumer (with eager delivery)."""
    aiokafka_driver.Transport.Consumer = Consumer
