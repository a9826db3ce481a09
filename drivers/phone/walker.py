"""A simulated phone walking a path and producing signed clock-in requests.

The library half of ``sitegate sim phone``: :class:`PhoneWalker` yields signed request payloads
(dicts, see :mod:`sitegate.geofence.clockin` for the format); :func:`request_bodies` turns them
into the exact bytes to send, optionally resending one earlier request verbatim (a replay).
Posting over HTTP is a thin loop in :mod:`.simulator`.

Realism that matters to the gateway: positions carry Gaussian noise whose sigma follows the
reported accuracy (sigma ~ 0.66 x accuracy for Android's 68 % radius), the reported accuracy
varies from fix to fix (a constant one is a spoofing signal), coordinates are sent at full
precision, and can be sent in GCJ-02 or BD-09 like Amap/Baidu location SDKs do.
"""
from __future__ import annotations

import json
import math
import random
import secrets
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

from sitegate.geofence.clockin import sign_request
from sitegate.geofence.coords import WGS84, check_lnglat, check_system, convert
from sitegate.geofence.fences import Fence, FenceSet
from sitegate.geofence.projection import SiteProjection
from sitegate.errors import UsageError

SIGMA_PER_ACCURACY = 0.66


@dataclass(frozen=True)
class Waypoint:
    lng: float              # WGS-84
    lat: float
    dwell_s: float = 0.0    # time spent standing here before walking on


@dataclass(frozen=True)
class WalkSettings:
    speed_mps: float = 1.4          # walking pace
    interval_s: float = 15.0        # one fix every interval
    accuracy_m: float | None = 8.0  # typical reported accuracy; None sends accuracy_m null
    accuracy_spread: float = 0.25   # reported accuracy varies +-25 % around accuracy_m
    jitter_m: float | None = None   # position noise sigma per axis; default 0.66 x accuracy
    seed: int = 1
    is_mock: bool = False
    crs: str = WGS84                # what the phone sends
    provider: str = "gps"

    def __post_init__(self) -> None:
        if not self.speed_mps > 0 or not self.interval_s > 0:
            raise UsageError("speed and interval must be > 0")
        if self.accuracy_m is not None and not self.accuracy_m >= 0:
            raise UsageError("accuracy must be >= 0 metres")
        if self.jitter_m is not None and not self.jitter_m >= 0:
            raise UsageError("jitter must be >= 0 metres")
        check_system(self.crs)


class PhoneWalker:
    """Walks ``waypoints`` (WGS-84) and yields one signed payload per fix interval."""

    def __init__(self, phone_id: str, key: bytes, waypoints: list[Waypoint], settings: WalkSettings = WalkSettings()):
        if not waypoints:
            raise UsageError("a walk needs at least one waypoint")
        for w in waypoints:
            check_lnglat(w.lng, w.lat)
        self.phone_id = phone_id
        self.key = key
        self.waypoints = list(waypoints)
        self.settings = settings
        self._proj = SiteProjection.at(waypoints[0].lng, waypoints[0].lat)
        xs, ys = self._proj.to_xy([w.lng for w in waypoints], [w.lat for w in waypoints])
        self._xy = list(zip(xs.tolist(), ys.tolist()))

    @property
    def duration_s(self) -> float:
        total = sum(w.dwell_s for w in self.waypoints)
        for (x1, y1), (x2, y2) in zip(self._xy, self._xy[1:]):
            total += math.hypot(x2 - x1, y2 - y1) / self.settings.speed_mps
        return total

    def true_xy(self, elapsed_s: float) -> tuple[float, float]:
        """Where the walker really is ``elapsed_s`` seconds after starting (site metres)."""
        t = elapsed_s
        for i, w in enumerate(self.waypoints):
            if t <= w.dwell_s or i == len(self.waypoints) - 1:
                return self._xy[i]
            t -= w.dwell_s
            (x1, y1), (x2, y2) = self._xy[i], self._xy[i + 1]
            leg = math.hypot(x2 - x1, y2 - y1) / self.settings.speed_mps
            if t <= leg:
                f = t / leg if leg else 1.0
                return x1 + f * (x2 - x1), y1 + f * (y2 - y1)
            t -= leg
        return self._xy[-1]  # pragma: no cover - the loop always returns

    def true_lnglat(self, elapsed_s: float) -> tuple[float, float]:
        x, y = self.true_xy(elapsed_s)
        lng, lat = self._proj.to_lnglat(x, y)
        return float(lng), float(lat)

    def payloads(self, start_time: float | None = None, clock: Callable[[], float] = time.time,
                 pace: Callable[[float], None] | None = None) -> Iterator[dict]:
        """Signed payloads, one per interval until the path's end.

        ``start_time`` (epoch s) gives a simulated timeline: fix i is dated start + i x interval.
        Without it each fix is dated by ``clock()`` when it is produced. ``pace`` (e.g.
        ``time.sleep``) is called with ``interval_s`` before each fix after the first, so in live
        mode every fix is dated when it is made and sent.
        """
        s = self.settings
        rng = random.Random(s.seed)
        steps = int(math.floor(self.duration_s / s.interval_s)) + 1
        for i in range(steps):
            if i and pace is not None:
                pace(s.interval_s)
            elapsed = i * s.interval_s
            x, y = self.true_xy(elapsed)
            accuracy = None
            sigma = s.jitter_m if s.jitter_m is not None else SIGMA_PER_ACCURACY * (s.accuracy_m or 0.0)
            if s.accuracy_m is not None:
                accuracy = round(max(1.0, s.accuracy_m * (1 + rng.uniform(-s.accuracy_spread, s.accuracy_spread))), 1) \
                    if s.accuracy_m > 0 else 0.0
            x, y = x + rng.gauss(0.0, sigma), y + rng.gauss(0.0, sigma)
            lng, lat = self._proj.to_lnglat(x, y)
            out_lng, out_lat = convert(float(lng), float(lat), WGS84, s.crs)
            when = start_time + elapsed if start_time is not None else clock()
            payload = {
                "phone_id": self.phone_id,
                "lng": out_lng,
                "lat": out_lat,
                "crs": check_system(s.crs),
                "accuracy_m": accuracy,
                "fix_time": int(round(when * 1000)),
                "provider": s.provider,
                "is_mock": s.is_mock,
                "nonce": secrets.token_hex(16),
            }
            yield sign_request(payload, self.key)


def request_bodies(payloads: Iterable[dict], replay: int | None = None) -> Iterator[tuple[bytes, bool]]:
    """The bytes to send for each payload, and whether it is a replay. With ``replay=K`` the K-th
    request (1-based) is sent twice: once, and verbatim again right after."""
    for n, payload in enumerate(payloads, start=1):
        body = json.dumps(payload, separators=(",", ":")).encode("utf-8")
        yield body, False
        if replay is not None and n == replay:
            yield body, True


def path_through_fence(fence: Fence, fences: FenceSet, *, approach_m: float = 150.0,
                       dwell_s: float = 120.0, linger_s: float = 60.0) -> list[Waypoint]:
    """A walk that comes from ``approach_m`` outside the fence, goes in, and leaves again, then
    stays ``linger_s`` where it ended (the phone keeps reporting after the worker has left).

    Polygon and circle: from the west to an inside point, dwell there, back out to the west.
    Corridor: from one side to the start of the centre line, along it, out sideways at its end.
    """
    proj = fences.projection
    assert proj is not None
    if fence.kind == "corridor" and len(fence.line_xy) >= 2:
        line = list(fence.line_xy)
        start_out = _sideways(line[0], line[1], approach_m + _half_width(fence))
        end_out = _sideways(line[-1], line[-2], -(approach_m + _half_width(fence)))
        xy = [start_out, line[0], *line[1:], end_out]
        dwells = [0.0, dwell_s] + [0.0] * (len(line) - 1) + [linger_s]
    else:
        inner = fence.center_xy or tuple(fence.shape.point_on_surface().coords)[0]
        minx = fence.shape.bounds[0]
        outside = (minx - approach_m, inner[1])
        xy = [outside, inner, outside]
        dwells = [0.0, dwell_s, linger_s]
    lngs, lats = proj.to_lnglat([p[0] for p in xy], [p[1] for p in xy])
    return [Waypoint(float(a), float(b), d) for a, b, d in zip(lngs, lats, dwells)]


def _half_width(fence: Fence) -> float:
    # The corridor's area is about length x width; this is only for placing the approach.
    length = sum(math.dist(a, b) for a, b in zip(fence.line_xy, fence.line_xy[1:]))
    return fence.shape.area / length / 2 if length else 0.0


def _sideways(p: tuple[float, float], q: tuple[float, float], dist: float) -> tuple[float, float]:
    """The point ``dist`` metres to the left of p, perpendicular to p->q."""
    dx, dy = q[0] - p[0], q[1] - p[1]
    n = math.hypot(dx, dy) or 1.0
    return p[0] - dy / n * dist, p[1] + dx / n * dist


def load_waypoints(data: object) -> list[Waypoint]:
    """Waypoints from JSON: ``[[lng, lat], [lng, lat, dwell_s], ...]`` (WGS-84) or
    ``{"crs": "gcj02", "points": [...]}``."""
    crs = WGS84
    if isinstance(data, dict):
        crs = check_system(str(data.get("crs", WGS84)))
        data = data.get("points")
    if not isinstance(data, list) or not data:
        raise UsageError("waypoints: expected a non-empty list of [lng, lat] or [lng, lat, dwell_s]")
    out = []
    for i, p in enumerate(data):
        if not (isinstance(p, list) and len(p) in (2, 3) and all(isinstance(v, (int, float)) and not isinstance(v, bool)
                                                                  for v in p)):
            raise UsageError(f"waypoints[{i}]: expected [lng, lat] or [lng, lat, dwell_s], got {p!r}")
        lng, lat = convert(p[0], p[1], crs, WGS84)
        dwell = float(p[2]) if len(p) == 3 else 0.0
        if not dwell >= 0:
            raise UsageError(f"waypoints[{i}]: dwell_s must be >= 0")
        out.append(Waypoint(lng, lat, dwell))
    return out
