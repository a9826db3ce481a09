"""Geofence speed: validated clock-in decisions per second end to end, and point-in-fence
checks vectorised vs a per-point loop (the baseline, measured in the same run)."""
from __future__ import annotations

import argparse
import json
import time
from collections import Counter

from sitegate.bench import Figure, check

DESCRIPTION = "clock-in decisions/s end to end (JSON, HMAC, crs, fences, spoof) and vectorised point-in-fence"

SITE_LNG, SITE_LAT = 117.0, 36.65    # Jinan; fences drawn in GCJ-02 like an Amap screen
DECISIONS_TARGET = 2_000.0           # per second: far above a site's peak (a shift of 5,000 in 10 min ~ 10/s)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--requests", type=int, default=3000, help="pre-signed clock-in requests (default 3000)")
    parser.add_argument("--points", type=int, default=200_000, help="points for the vectorised check (default 200000)")
    parser.add_argument("--loop-points", type=int, default=20_000, help="points for the per-point baseline (default 20000)")


def _site():
    import numpy as np

    from sitegate.geofence.fences import parse_fences

    # A 200-vertex yard polygon with a hole, a circle and a 20 km corridor, like a road project.
    ang = np.linspace(0, 2 * np.pi, 200, endpoint=False)
    r = 0.004 * (1 + 0.15 * np.sin(5 * ang))
    outer = [[SITE_LNG + float(dx), SITE_LAT + float(dy)] for dx, dy in zip(r * np.cos(ang), r * np.sin(ang) * 0.8)]
    hole = [[SITE_LNG - 0.0005, SITE_LAT - 0.0005], [SITE_LNG + 0.0005, SITE_LAT - 0.0005],
            [SITE_LNG + 0.0005, SITE_LAT + 0.0005], [SITE_LNG - 0.0005, SITE_LAT + 0.0005]]
    tables = [
        {"id": "yard", "crs": "gcj02", "polygon": [outer, hole], "grace_m": 5},
        {"id": "batching-plant", "crs": "gcj02", "center": [SITE_LNG + 0.01, SITE_LAT], "radius_m": 120},
        {"id": "road", "crs": "gcj02", "line": [[SITE_LNG - 0.1, SITE_LAT + 0.02], [SITE_LNG + 0.12, SITE_LAT + 0.03]],
         "width_m": 60},
    ]
    fences, problems = parse_fences(tables)
    assert not problems, problems
    return fences


def _requests(n: int, now: float) -> tuple[list[bytes], dict[str, bytes]]:
    import numpy as np

    from sitegate.geofence.clockin import sign_request
    from sitegate.geofence.phonekeys import new_phone_key

    rng = np.random.default_rng(7)
    keys = {f"P-{i:05d}": new_phone_key() for i in range(max(1, n // 10))}
    phones = list(keys)
    bodies = []
    for i in range(n):
        phone = phones[i % len(phones)]
        payload = {
            "phone_id": phone, "crs": "gcj02",
            "lng": SITE_LNG + float(rng.normal(0, 0.004)), "lat": SITE_LAT + float(rng.normal(0, 0.004)),
            "accuracy_m": round(float(rng.uniform(4, 30)), 1),
            "fix_time": int((now - 5 + i * 0.001) * 1000), "provider": "gps", "is_mock": False,
            "nonce": f"{i:032x}",
        }
        bodies.append(json.dumps(sign_request(payload, keys[phone])).encode())
    return bodies, keys


def _decisions_per_s(n: int) -> Figure:
    from sitegate.geofence.clockin import parse_and_verify
    from sitegate.geofence.engine import GeofenceEngine
    from sitegate.geofence.guards import NonceCache, RateLimiter

    fences = _site()
    now = time.time()
    bodies, keys = _requests(n, now)
    engine = GeofenceEngine(fences)
    nonces = NonceCache()
    limiter = RateLimiter(rate_per_s=1000, burst=1000)
    counters: Counter[str] = Counter()
    t0 = time.perf_counter()
    accepted = 0
    for body in bodies:
        c = parse_and_verify(body, keys.get, nonces, now, rate_limiter=limiter, counters=counters)  # type: ignore[arg-type]
        engine.evaluate(c)
        accepted += 1
    elapsed = time.perf_counter() - t0
    rate = accepted / elapsed
    return Figure(f"clock-in decisions/s end to end ({n} signed requests, 3 fences)", rate, "/s",
                  target=f">= {DECISIONS_TARGET:,.0f}", met=check(rate, ">=", DECISIONS_TARGET))


def _point_in_fence(n_vec: int, n_loop: int) -> list[Figure]:
    import numpy as np
    import shapely
    from shapely.geometry import Point

    fences = _site()
    yard = fences.by_id("yard").shape
    minx, miny, maxx, maxy = yard.bounds
    rng = np.random.default_rng(11)
    x = rng.uniform(minx - 200, maxx + 200, n_vec)
    y = rng.uniform(miny - 200, maxy + 200, n_vec)

    t0 = time.perf_counter()
    inside_vec = shapely.contains_xy(yard, x, y)
    vec_rate = n_vec / (time.perf_counter() - t0)

    t0 = time.perf_counter()
    inside_loop = [yard.contains(Point(px, py)) for px, py in zip(x[:n_loop].tolist(), y[:n_loop].tolist())]
    loop_rate = n_loop / (time.perf_counter() - t0)
    if list(inside_vec[:n_loop]) != inside_loop:  # the two ways must agree, or the figure means nothing
        raise RuntimeError("vectorised and per-point point-in-polygon disagree")

    t0 = time.perf_counter()
    fences.by_id("yard").signed_distance_xy(x, y)
    dist_rate = n_vec / (time.perf_counter() - t0)
    return [
        Figure("point-in-fence checks/s, contains_xy on 200-vertex polygon", vec_rate, "/s",
               baseline=loop_rate, baseline_name="poly.contains(Point) loop",
               target=">= 10x baseline", met=vec_rate >= 10 * loop_rate),
        Figure("signed distances/s to 200-vertex polygon edge (vectorised)", dist_rate, "/s"),
    ]


def run(args: argparse.Namespace) -> list[Figure]:
    return [_decisions_per_s(args.requests), *_point_in_fence(args.points, args.loop_points)]
