"""Faust's consumer with eager delivery (streams/runtime/faust_fixes/eager_delivery.py): it
answers as mode's `Service.wait_first` does, without a task for a coroutine that does not
suspend."""

from __future__ import annotations

import asyncio
import contextvars
import warnings

import pytest
from mode import Service

from streams.runtime.faust_fixes.eager_delivery import Consumer, install, wait_first_eagerly

seen = contextvars.ContextVar("seen", default="caller")


async def _wait(service: Service, *coros, timeout=None):
    return await wait_first_eagerly(service, service.wait_first, *coros, timeout=timeout)


def _run(test):
    async def main():
        service = Service()
        tasks_before = len(asyncio.all_tasks())
        result = await test(service)
        await asyncio.sleep(0)  # cancelled tasks end
        return result, len(asyncio.all_tasks()) - tasks_before
    return asyncio.run(main())


def test_a_coroutine_that_does_not_suspend_completes_without_a_task():
    made = []

    async def deliver():
        made.append(len(asyncio.all_tasks()))
        return "queued"

    async def test(service):
        event = asyncio.Event()
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # the unstarted event.wait() is closed
            result = await _wait(service, deliver(), event.wait())
        return result, made[0] == len(asyncio.all_tasks())

    (result, no_new_task), _ = _run(test)
    assert result.done and result.results == ["queued"] and not result.stopped
    assert no_new_task


def test_a_coroutine_that_suspends_goes_on_in_a_task_and_returns_its_result():
    async def test(service):
        gate = asyncio.get_running_loop().create_future()

        async def deliver():
            value = await gate
            await asyncio.sleep(0)
            return value * 2

        asyncio.get_running_loop().call_later(0.01, gate.set_result, 21)
        return await _wait(service, deliver(), asyncio.Event().wait())

    result, left = _run(test)
    assert result.results == [42] and not result.stopped
    assert left == 0  # the losers' tasks are cancelled


def test_a_suspended_coroutine_is_cancelled_when_another_wins():
    stages = []

    async def test(service):
        suspend = asyncio.Event()

        async def deliver():
            stages.append("started")
            try:
                await asyncio.Event().wait()  # a full buffer that never drains
            except asyncio.CancelledError:
                stages.append("cancelled")
                raise

        asyncio.get_running_loop().call_later(0.01, suspend.set)
        result = await _wait(service, deliver(), suspend.wait())
        await asyncio.sleep(0.01)
        return result

    result, _ = _run(test)
    assert len(result.done) == 1 and result.results == [True]
    assert stages == ["started", "cancelled"]


def test_an_error_of_the_first_step_is_raised():
    async def deliver():
        raise ValueError("undecodable")

    async def test(service):
        with pytest.raises(ValueError, match="undecodable"):
            await _wait(service, deliver(), asyncio.Event().wait())

    _run(test)


def test_a_stopped_service_answers_stopped():
    async def test(service):
        service._stopped.set()

        async def deliver():
            return 1
        return await _wait(service, deliver())

    result, _ = _run(test)
    assert result.stopped and not result.done


def test_the_first_step_runs_in_a_copy_of_the_context():
    async def deliver():
        seen.set("callback")
        await asyncio.sleep(0)
        return seen.get()

    async def test(service):
        result = await _wait(service, deliver(), asyncio.Event().wait())
        return result.results, seen.get()

    (results, caller_sees), _ = _run(test)
    assert results == ["callback"] and caller_sees == "caller"


def test_faust_makes_this_consumer():
    from faust.transport.drivers import aiokafka as aiokafka_driver

    install()
    assert aiokafka_driver.Transport.Consumer is Consumer
