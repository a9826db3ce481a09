"""Validation of ``[[geofences]]`` config tables into plain WGS-84 specs (no geometry yet).

Every problem is reported as ``(key_path, message)`` -- e.g.
``("geofences[0].radius_m", "must be > 0 (expected metres)")`` -- so the config checker can turn
it into ``FILE:LINE: key: problem``. One bad fence never hides the problems of another.

The table format is documented in :mod:`sitegate.geofence.fences`.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Any

from sitegate.geofence.coords import SYSTEMS, CoordinateError, check_system, convert_arrays

Problem = tuple[str, str]
LngLat = tuple[float, float]

COMMON_KEYS = {"id", "name", "crs", "grace_m", "lane", "direction"}
SHAPE_KEYS = {"polygon": {"polygon"}, "circle": {"center", "radius_m"}, "corridor": {"line", "width_m"}}
ALLOWED_KEYS = COMMON_KEYS | set().union(*SHAPE_KEYS.values())
DIRECTIONS = ("in", "out", "both")
MAX_GRACE_M = 1000.0
_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$")


@dataclass
class FenceSpec:
    """One validated fence table, coordinates already converted to WGS-84."""

    path: str                       # "geofences[3]", the key path prefix for later problems
    id: str
    kind: str                       # "polygon" | "circle" | "corridor"
    crs: str                        # what the coordinates were drawn in
    name: str = ""
    lane: str = ""
    direction: str = "both"
    grace_m: float = 0.0
    outer: list[LngLat] = field(default_factory=list)
    holes: list[list[LngLat]] = field(default_factory=list)
    center: LngLat | None = None
    radius_m: float = 0.0
    line: list[LngLat] = field(default_factory=list)
    width_m: float = 0.0


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


class _Checker:
    """Collects problems for one fence table."""

    def __init__(self, path: str, problems: list[Problem]):
        self.path = path
        self.problems = problems
        self.ok = True

    def problem(self, key: str, message: str) -> None:
        self.problems.append((f"{self.path}.{key}" if key else self.path, message))
        self.ok = False

    def metres(self, table: dict, key: str, *, default: float | None = None, positive: bool = True,
               maximum: float | None = None) -> float:
        if key not in table:
            if default is None:
                self.problem(key, "is required (metres)")
                return math.nan
            return default
        v = table[key]
        if not _is_number(v) or not math.isfinite(float(v)):
            self.problem(key, f"must be a number of metres, got {v!r}")
            return math.nan
        v = float(v)
        if positive and v <= 0:
            self.problem(key, f"must be > 0 (expected metres), got {v!r}")
        elif not positive and v < 0:
            self.problem(key, f"must be >= 0 (expected metres), got {v!r}")
        elif maximum is not None and v > maximum:
            self.problem(key, f"must be at most {maximum:g} m, got {v!r}")
        return v

    def point(self, v: Any, key: str) -> LngLat | None:
        if not isinstance(v, (list, tuple)) or len(v) != 2 or not all(_is_number(c) for c in v):
            self.problem(key, f"must be a [lng, lat] pair of numbers, got {v!r}")
            return None
        lng, lat = float(v[0]), float(v[1])
        if not (math.isfinite(lng) and math.isfinite(lat)):
            self.problem(key, f"must be finite numbers, got {v!r}")
            return None
        if not -180 <= lng <= 180 or not -90 <= lat <= 90:
            hint = "; looks like [lat, lng]: write longitude first" if -90 <= lng <= 90 and -180 <= lat <= 180 else ""
            self.problem(key, f"[lng, lat] out of range (lng -180..180, lat -90..90), got {v!r}{hint}")
            return None
        return lng, lat

    def points(self, v: Any, key: str, minimum: int, what: str) -> list[LngLat] | None:
        if not isinstance(v, (list, tuple)):
            self.problem(key, f"must be a list of [lng, lat] points ({what}), got {type(v).__name__}")
            return None
        pts = [self.point(p, f"{key}[{i}]") for i, p in enumerate(v)]
        if any(p is None for p in pts):
            return None
        clean: list[LngLat] = [p for p in pts if p is not None]
        if what == "ring" and len(clean) > 1 and clean[0] == clean[-1]:
            clean.pop()  # an explicitly closed ring: the closing point is implied
        distinct = len(set(clean))
        if distinct < minimum:
            self.problem(key, f"needs at least {minimum} distinct points ({what}), got {distinct}")
            return None
        return clean


def _to_wgs(points: list[LngLat], crs: str) -> list[LngLat]:
    if not points:
        return []
    lngs, lats = convert_arrays([p[0] for p in points], [p[1] for p in points], crs, "wgs84")
    return list(zip(lngs.tolist(), lats.tolist()))


def _check_polygon(c: _Checker, v: Any) -> tuple[list[LngLat], list[list[LngLat]]] | None:
    if isinstance(v, dict):
        extra = sorted(set(v) - {"outer", "holes"})
        for k in extra:
            c.problem(f"polygon.{k}", "unknown key (expected 'outer' and optional 'holes')")
        if "outer" not in v:
            c.problem("polygon.outer", "is required (the outer ring: a list of [lng, lat] points)")
            return None
        outer = c.points(v["outer"], "polygon.outer", 3, "ring")
        raw_holes = v.get("holes", [])
        if not isinstance(raw_holes, (list, tuple)):
            c.problem("polygon.holes", "must be a list of rings")
            return None
        holes = [c.points(h, f"polygon.holes[{i}]", 3, "ring") for i, h in enumerate(raw_holes)]
    elif isinstance(v, (list, tuple)) and v:
        # list-of-rings form: [[outer points...], [hole points...], ...]
        if all(isinstance(p, (list, tuple)) and len(p) == 2 and all(_is_number(x) for x in p) for p in v):
            c.problem("polygon", "must be a list of rings (first the outer ring, then holes): "
                                 "wrap the points in one more [ ]")
            return None
        outer = c.points(v[0], "polygon[0]", 3, "ring")
        holes = [c.points(h, f"polygon[{i}]", 3, "ring") for i, h in enumerate(v[1:], start=1)]
    else:
        c.problem("polygon", "must be a list of rings [[outer...], [hole...]] or a table {outer, holes}")
        return None
    if outer is None or any(h is None for h in holes):
        return None
    return outer, [h for h in holes if h is not None]


def check_fence_table(table: Any, path: str, problems: list[Problem]) -> FenceSpec | None:
    """Validate one ``[[geofences]]`` table; returns the spec or None (problems appended)."""
    c = _Checker(path, problems)
    if not isinstance(table, dict):
        c.problem("", f"must be a table with id, crs and a shape, got {type(table).__name__}")
        return None
    for key in sorted(set(table) - ALLOWED_KEYS):
        c.problem(key, f"unknown key (allowed: {', '.join(sorted(ALLOWED_KEYS))})")

    fid = table.get("id")
    if not isinstance(fid, str) or not _ID_RE.match(fid):
        c.problem("id", "is required: 1-64 letters, digits, '.', '_', ':' or '-', starting with a letter or digit"
                  + (f", got {fid!r}" if fid is not None else ""))
        fid = ""
    name = table.get("name", "")
    if not isinstance(name, str):
        c.problem("name", f"must be a string, got {name!r}")
        name = ""
    crs = ""
    if "crs" not in table:
        c.problem("crs", f"is required: the system the coordinates were drawn in ({', '.join(SYSTEMS)}); "
                         "Amap/Tencent maps use gcj02, Baidu bd09, GPS wgs84")
    else:
        try:
            crs = check_system(table["crs"] if isinstance(table["crs"], str) else repr(table["crs"]))
        except CoordinateError as exc:
            c.problem("crs", str(exc))
    lane = table.get("lane", fid)
    if not isinstance(lane, str) or not lane:
        c.problem("lane", f"must be a non-empty string (the event's channel), got {lane!r}")
        lane = fid
    direction = table.get("direction", "both")
    if direction not in DIRECTIONS:
        c.problem("direction", f"must be one of {', '.join(DIRECTIONS)}, got {direction!r}")
    grace = c.metres(table, "grace_m", default=0.0, positive=False, maximum=MAX_GRACE_M)

    kinds = [k for k, keys in SHAPE_KEYS.items() if keys & set(table)]
    if len(kinds) != 1:
        c.problem("", "needs exactly one shape: polygon, or center + radius_m (circle), or line + width_m "
                      f"(corridor); got {' and '.join(kinds) if kinds else 'none'}")
        return None
    kind = kinds[0]
    spec = FenceSpec(path=path, id=fid, kind=kind, crs=crs, name=name, lane=lane, direction=str(direction),
                     grace_m=grace)
    if kind == "polygon":
        rings = _check_polygon(c, table["polygon"])
        if rings is not None and c.ok:
            spec.outer = _to_wgs(rings[0], crs)
            spec.holes = [_to_wgs(h, crs) for h in rings[1]]
    elif kind == "circle":
        center = None
        if "center" in table:
            center = c.point(table["center"], "center")
        else:
            c.problem("center", "is required for a circle: [lng, lat]")
        spec.radius_m = c.metres(table, "radius_m")
        if center is not None and c.ok:
            spec.center = _to_wgs([center], crs)[0]
    else:
        line = None
        if "line" in table:
            line = c.points(table["line"], "line", 2, "centre line")
        else:
            c.problem("line", "is required for a corridor: [[lng, lat], ...] along the centre line")
        spec.width_m = c.metres(table, "width_m")
        if line is not None and c.ok:
            spec.line = _to_wgs(line, crs)
    return spec if c.ok else None
