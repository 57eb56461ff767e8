"""What every chat channel needs besides the Assistant: who may see what, and residents' rate limits.

Kept apart from any one channel so Telegram and the web page limit and classify users the same way.
"""

from __future__ import annotations

import asyncio
import functools
import time
from collections import defaultdict, deque
from collections.abc import Callable, Hashable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date
from typing import Literal, TypeVar

from .. import messages

Role = Literal["admin", "staff", "resident"]


T = TypeVar("T")


class AnswerPool:
    """Questions are answered a few at a time, in the order they came, on threads of their own.

    Answering is CPU work that holds the GIL for most of its ~25 ms; with many answers at once on the
    shared default pool each took a random share of the cores, so some waited twice as long as others
    (50 users on two cores: p95 1.3 s at p50 0.75 s); one worker per core keeps the queue first come, first
    served (p95 0.95 s at the same throughput). Drafts, uploads and lists stay on the default pool, so a
    long draft never holds a question back."""

    def __init__(self, workers: int) -> None:
        self._executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="fazhi-answer")

    async def run(self, work: Callable[..., T], *args: object) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._executor, functools.partial(work, *args))


def audience_of(role: Role) -> Literal["staff", "public"]:
    return "public" if role == "resident" else "staff"


@dataclass
class RateLimiter:
    """Per-key sliding window and daily quota (residents only); a key is a user, a session or an address."""

    per_minute: int
    per_day: int
    _recent: dict[Hashable, deque] = field(default_factory=lambda: defaultdict(deque))
    _daily: dict[tuple[Hashable, date], int] = field(default_factory=lambda: defaultdict(int))

    def check(self, key: Hashable) -> str | None:
        """None when the request may go ahead (and counts it); otherwise the message to show."""
        refused = self.blocked(key)
        if refused is None:
            self.record(key)
        return refused

    def blocked(self, key: Hashable) -> str | None:
        """The message to show if `key` is over a limit now, without counting anything."""
        now = time.monotonic()
        window = self._recent[key]
        while window and now - window[0] > 60:
            window.popleft()
        if self._daily[(key, date.today())] >= self.per_day:
            return messages.QUOTA_EXCEEDED.format(quota=self.per_day)
        if len(window) >= self.per_minute:
            return messages.RATE_LIMITED.format(seconds=max(1, int(60 - (now - window[0])) + 1))
        return None

    def record(self, key: Hashable) -> None:
        """Count one event for `key` (e.g. only failed logins, after the fact)."""
        self._recent[key].append(time.monotonic())
        self._daily[(key, date.today())] += 1
