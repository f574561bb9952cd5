"""Stopping a scan on SIGINT/SIGTERM: end the running stage within a second, keep the results.

`StopSignal.install()` replaces the default handlers (which would kill the process and lose
everything found so far). A signal sets `event` (threads such as the ARP sweep poll it) and,
after a short grace, cancels the asyncio stage that is running; the pipeline then skips the
remaining probe stages, identifies what it has, and returns a result marked partial.
"""

from __future__ import annotations

import asyncio
import signal
import threading
from collections.abc import Callable, Coroutine
from types import FrameType
from typing import Any, TypeVar

T = TypeVar("T")
SIGNALS = (signal.SIGINT, signal.SIGTERM)
GRACE = 0.5  # seconds a stage has to wind down on its own before it is cancelled


class Stopped(Exception):
    """The stage was cut short by a signal."""


class StopSignal:
    def __init__(self) -> None:
        self.event = threading.Event()
        self.signal_name: str | None = None
        self.stage: str | None = None  # the stage running when the signal came
        self._cancel: Callable[[], None] | None = None
        self._previous: dict[int, Any] = {}

    @property
    def stopped(self) -> bool:
        return self.event.is_set()

    def describe(self) -> str:
        return f"{self.signal_name or 'stop'} during {self.stage or 'the scan'}"

    def install(self) -> None:
        """Take over SIGINT and SIGTERM (main thread only; elsewhere a no-op)."""
        if threading.current_thread() is not threading.main_thread():
            return
        for sig in SIGNALS:
            self._previous[sig] = signal.signal(sig, self._handle)

    def restore(self) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)
        self._previous.clear()

    def _handle(self, signum: int, _frame: FrameType | None) -> None:
        if not self.event.is_set():
            self.signal_name = signal.Signals(signum).name
        self.event.set()
        if self._cancel is not None:
            self._cancel()

    def trip(self, name: str = "stop") -> None:
        """Stop as a signal would (for callers without a signal, and for tests)."""
        self.signal_name = self.signal_name or name
        self.event.set()
        if self._cancel is not None:
            self._cancel()

    def run(self, stage: str, coro: Coroutine[Any, Any, T]) -> T:
        """Run one asyncio stage; raises Stopped if a signal came before or during it."""
        if self.event.is_set():
            coro.close()
            raise Stopped(self.describe())
        self.stage = stage

        async def main() -> T:
            task = asyncio.current_task()
            loop = asyncio.get_running_loop()
            assert task is not None

            def cancel_soon() -> None:
                # A grace period first: threads polling `event` (ARP) return what they found.
                def later() -> None:
                    loop.call_later(GRACE, task.cancel)

                loop.call_soon_threadsafe(later)

            self._cancel = cancel_soon
            try:
                if self.event.is_set():  # a signal between the check above and here
                    coro.close()
                    raise asyncio.CancelledError
                return await coro
            finally:
                self._cancel = None

        try:
            return asyncio.run(main())
        except asyncio.CancelledError:
            raise Stopped(self.describe()) from None
