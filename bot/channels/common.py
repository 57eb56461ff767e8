"""What every chat channel needs besides the Assistant: who may see what, and residents' rate limits.

Kept apart from any one channel so Telegram and the web page limit and classify users the same way.
"""

from __future__ import annotations

import time
from collections import defaultdict, deque
from collections.abc import Hashable
from dataclasses import dataclass, field
from datetime import date
from typing import Literal

from .. import messages

Role = Literal["admin", "staff", "resident"]


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
