"""Replay and flood guards for phone clock-ins: a bounded, time-windowed nonce cache and a
per-phone token bucket. Both take ``now`` (epoch seconds) from the caller: nothing reads a clock.
"""
from __future__ import annotations

import heapq
from collections import OrderedDict
from enum import Enum


class NonceResult(str, Enum):
    NEW = "new"
    REPLAYED = "replayed"
    TOO_OLD = "too_old"      # older than what the cache can still prove unseen (see NonceCache)


class NonceCache:
    """Remembers ``(phone_id, nonce)`` for every request whose fix time is inside the window.

    A request is only accepted while ``now - window_s <= fix_time <= now + future_s``; its nonce
    is kept until its fix time leaves that window, after which a replay is rejected by the time
    check instead. So replay protection holds for as long as a request could be accepted.

    Bounded: at most ``capacity`` nonces. When full, the one with the oldest fix time is dropped
    and the *horizon* moves up to that fix time; requests at or before the horizon are answered
    ``TOO_OLD`` (we can no longer prove they are new). Under normal load (capacity >> phones x
    requests per window) the horizon never moves.
    """

    def __init__(self, capacity: int = 200_000, window_s: float = 600.0, future_s: float = 300.0):
        if capacity < 1 or window_s <= 0 or future_s < 0:
            raise ValueError("NonceCache needs capacity >= 1, window_s > 0, future_s >= 0")
        self.capacity = capacity
        self.window_s = float(window_s)
        self.future_s = float(future_s)
        self.horizon = float("-inf")
        self._seen: dict[tuple[str, str], float] = {}
        self._by_time: list[tuple[float, tuple[str, str]]] = []   # heap of (fix_time, key)

    def __len__(self) -> int:
        return len(self._seen)

    def in_window(self, fix_time: float, now: float) -> bool:
        return now - self.window_s <= fix_time <= now + self.future_s

    def add(self, phone_id: str, nonce: str, fix_time: float, now: float) -> NonceResult:
        """Record the nonce; ``NEW`` the first time, ``REPLAYED`` after, ``TOO_OLD`` (see above)."""
        self._expire(now)
        key = (phone_id, nonce)
        if key in self._seen:
            return NonceResult.REPLAYED
        if fix_time <= self.horizon:
            return NonceResult.TOO_OLD
        self._seen[key] = fix_time
        heapq.heappush(self._by_time, (fix_time, key))
        while len(self._seen) > self.capacity:
            t, old = heapq.heappop(self._by_time)
            del self._seen[old]
            self.horizon = max(self.horizon, t)
        return NonceResult.NEW

    def _expire(self, now: float) -> None:
        limit = now - self.window_s
        while self._by_time and self._by_time[0][0] < limit:
            _, old = heapq.heappop(self._by_time)
            del self._seen[old]


class RateLimiter:
    """Token bucket per key (phone): ``rate_per_s`` sustained, ``burst`` at once.

    The burst lets a phone upload the fixes it buffered while offline. At most ``max_keys``
    buckets are kept; the least recently used is forgotten first (it comes back full, which errs
    on the side of letting a worker clock in).
    """

    def __init__(self, rate_per_s: float = 0.2, burst: float = 20.0, max_keys: int = 100_000):
        if rate_per_s <= 0 or burst < 1 or max_keys < 1:
            raise ValueError("RateLimiter needs rate_per_s > 0, burst >= 1, max_keys >= 1")
        self.rate_per_s = float(rate_per_s)
        self.burst = float(burst)
        self.max_keys = max_keys
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()   # key -> (tokens, at)

    def allow(self, key: str, now: float) -> bool:
        tokens, at = self._buckets.pop(key, (self.burst, now))
        elapsed = max(0.0, now - at)          # a clock stepped back refills nothing
        tokens = min(self.burst, tokens + elapsed * self.rate_per_s)
        allowed = tokens >= 1.0
        if allowed:
            tokens -= 1.0
        self._buckets[key] = (tokens, max(at, now))
        while len(self._buckets) > self.max_keys:
            self._buckets.popitem(last=False)
        return allowed

    def __len__(self) -> int:
        return len(self._buckets)
