"""Fences (polygon, circle, corridor) built from config, and signed distances to their edges.

Config format -- one ``[[geofences]]`` TOML table per fence::

    [[geofences]]
    id = "north-yard"            # required, unique; 1-64 of [A-Za-z0-9._:-]
    name = "North yard"          # optional label for people
    crs = "gcj02"                # required: what the coordinates were drawn in (wgs84|gcj02|bd09)
    grace_m = 5                  # optional, default 0: widens the fence by this many metres
    lane = "geo-north"           # optional, default the id: the event's channel
    direction = "both"           # optional, in|out|both (default both)
    # exactly one shape:
    polygon = [ [[lng, lat], ...],        # the outer ring (closing point optional) ...
                [[lng, lat], ...] ]       # ... then zero or more holes
    # or, the same as a table:  polygon = { outer = [[lng, lat], ...], holes = [[[lng, lat], ...]] }
    # or a circle:              center = [lng, lat]   radius_m = 150
    # or a corridor (roads, pipelines): line = [[lng, lat], ...]   width_m = 60   (total width)

Geometry is done in metres, in one azimuthal-equidistant projection per site (centred on the
middle of all fences). Long edges and corridor centre lines are densified along the WGS-84
geodesic before projection; corridors are buffered with flat caps and round joins
(../shared/reference/geofence.md §2). Signed distance: metres to the fence edge, positive inside.
"""
from __future__ import annotations

import logging
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import shapely
from shapely.geometry import LineString, Point, Polygon

from sitegate.geofence.coords import convert_arrays
from sitegate.geofence.fence_schema import FenceSpec, LngLat, Problem, check_fence_table
from sitegate.geofence.projection import SiteProjection, densify_geodesic

log = logging.getLogger(__name__)

CIRCLE_QUAD_SEGS = 64   # the drawn outline only; circle distances are computed exactly
CORRIDOR_QUAD_SEGS = 16
WIDE_SITE_M = 100_000.0  # beyond this the single projection still works but is worth a warning

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True, eq=False)
class Fence:
    """One fence, in the site's projected metres."""

    id: str
    kind: str            # "polygon" | "circle" | "corridor"
    crs: str             # what the config was drawn in (all geometry here is WGS-84-based)
    lane: str
    direction: str       # "in" | "out" | "both"
    grace_m: float
    shape: shapely.Geometry          # the area, in site metres (prepared)
    name: str = ""
    center_xy: tuple[float, float] | None = None   # circles only
    radius_m: float = 0.0                           # circles only
    line_xy: tuple[tuple[float, float], ...] = ()   # corridors only: the densified centre line

    def signed_distance_xy(self, x: npt.ArrayLike, y: npt.ArrayLike) -> FloatArray:
        """Metres to the edge, positive inside, for arrays of site x/y (grace not included)."""
        x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
        if self.center_xy is not None:
            return self.radius_m - np.hypot(x - self.center_xy[0], y - self.center_xy[1])
        dist = shapely.distance(self.shape.boundary, shapely.points(x, y))
        inside = shapely.contains_xy(self.shape, x, y)
        return np.where(inside, dist, -dist)

    def contains_xy(self, x: npt.ArrayLike, y: npt.ArrayLike) -> npt.NDArray[np.bool_]:
        if self.center_xy is not None:
            return self.signed_distance_xy(x, y) > 0
        return shapely.contains_xy(self.shape, x, y)


class FenceSet(Sequence[Fence]):
    """The fences of one site and the projection they share. Behaves as a sequence of fences."""

    def __init__(self, fences: list[Fence], projection: SiteProjection | None):
        self._fences = list(fences)
        self._by_id = {f.id: f for f in self._fences}
        self.projection = projection

    def __len__(self) -> int:
        return len(self._fences)

    def __getitem__(self, i):  # type: ignore[override]
        return self._fences[i]

    def __iter__(self) -> Iterator[Fence]:
        return iter(self._fences)

    def __repr__(self) -> str:
        return f"FenceSet({[f.id for f in self._fences]!r})"

    def by_id(self, fence_id: str) -> Fence:
        return self._by_id[fence_id]

    @property
    def ids(self) -> list[str]:
        return [f.id for f in self._fences]

    def to_xy(self, lng: npt.ArrayLike, lat: npt.ArrayLike) -> tuple[FloatArray, FloatArray]:
        if self.projection is None:
            raise ValueError("an empty FenceSet has no projection")
        return self.projection.to_xy(lng, lat)

    def signed_distances(self, lng: npt.ArrayLike, lat: npt.ArrayLike) -> FloatArray:
        """Signed metres (positive inside, grace not included) of WGS-84 points to every fence:
        an array of shape ``(len(self), n_points)``."""
        lng_a = np.atleast_1d(np.asarray(lng, dtype=float))
        if not self._fences:
            return np.empty((0, lng_a.size))
        x, y = self.to_xy(lng_a, np.atleast_1d(np.asarray(lat, dtype=float)))
        return np.vstack([f.signed_distance_xy(x, y) for f in self._fences])

    def signed_distance_one(self, lng: float, lat: float) -> list[float]:
        """Signed metres of one WGS-84 point to each fence (fast path for single clock-ins)."""
        if not self._fences:
            return []
        assert self.projection is not None
        x, y = self.projection.to_xy_scalar(lng, lat)
        return [float(f.signed_distance_xy(x, y)) for f in self._fences]


def _project_ring(proj: SiteProjection, ring: list[LngLat]) -> list[tuple[float, float]]:
    dense = densify_geodesic(ring, closed=True)
    xs, ys = proj.to_xy([p[0] for p in dense], [p[1] for p in dense])
    return list(zip(xs.tolist(), ys.tolist()))


_WHERE = re.compile(r"\[\s*(-?[0-9.eE+-]+)\s+(-?[0-9.eE+-]+)")


def _validity_problem(spec: FenceSpec, proj: SiteProjection, geom: shapely.Geometry) -> str | None:
    """None if valid, else a message whose location is given in the fence's own lng/lat."""
    if shapely.is_valid(geom):
        return None
    reason = shapely.is_valid_reason(geom)
    m = _WHERE.search(reason)
    if not m:
        return f"polygon is not valid: {reason}"
    what = reason[: m.start()].strip()
    lng, lat = proj.to_lnglat(float(m.group(1)), float(m.group(2)))
    glng, glat = convert_arrays(lng, lat, "wgs84", spec.crs)
    return f"polygon is not valid: {what} near [{float(glng):.6f}, {float(glat):.6f}] ({spec.crs})"


def _build(spec: FenceSpec, proj: SiteProjection, problems: list[Problem]) -> Fence | None:
    common = dict(id=spec.id, kind=spec.kind, crs=spec.crs, lane=spec.lane, direction=spec.direction,
                  grace_m=spec.grace_m, name=spec.name)
    if spec.kind == "circle":
        assert spec.center is not None
        cx, cy = proj.to_xy_scalar(*spec.center)
        shape = Point(cx, cy).buffer(spec.radius_m, quad_segs=CIRCLE_QUAD_SEGS)
        fence = Fence(shape=shape, center_xy=(cx, cy), radius_m=spec.radius_m, **common)
    elif spec.kind == "corridor":
        dense = densify_geodesic(spec.line)
        xs, ys = proj.to_xy([p[0] for p in dense], [p[1] for p in dense])
        line = LineString(list(zip(xs.tolist(), ys.tolist())))
        shape = line.buffer(spec.width_m / 2, cap_style="flat", join_style="round", quad_segs=CORRIDOR_QUAD_SEGS)
        if shape.is_empty:
            problems.append((f"{spec.path}.line", "the centre line has no length"))
            return None
        fence = Fence(shape=shape, line_xy=tuple(line.coords), **common)
    else:
        shape = Polygon(_project_ring(proj, spec.outer), [_project_ring(proj, h) for h in spec.holes])
        problem = _validity_problem(spec, proj, shape)
        if problem:
            problems.append((f"{spec.path}.polygon", problem))
            return None
        fence = Fence(shape=shape, **common)
    shapely.prepare(fence.shape)
    return fence


def _all_points(spec: FenceSpec) -> list[LngLat]:
    return [*spec.outer, *(p for h in spec.holes for p in h), *spec.line, *([spec.center] if spec.center else [])]


def parse_fences(tables: Any, *, path: str = "geofences",
                 origin: LngLat | None = None) -> tuple[FenceSet, list[Problem]]:
    """Build the site's fences from the ``[[geofences]]`` tables.

    Returns ``(fences, problems)``: the fences that are valid (a :class:`FenceSet`) and one
    ``(key_path, message)`` per problem found. ``origin`` (WGS-84 lng, lat) fixes the projection
    centre; by default it is the middle of all fences.
    """
    problems: list[Problem] = []
    if tables is None:
        tables = []
    if not isinstance(tables, (list, tuple)):
        return FenceSet([], None), [(path, "must be a list of tables ([[geofences]] in TOML)")]
    specs: list[FenceSpec] = []
    first_index: dict[str, int] = {}
    for i, table in enumerate(tables):
        spec = check_fence_table(table, f"{path}[{i}]", problems)
        fid = table.get("id") if isinstance(table, dict) else None
        if isinstance(fid, str) and fid:
            if fid in first_index:
                problems.append((f"{path}[{i}].id", f"duplicate id {fid!r} (also {path}[{first_index[fid]}])"))
                continue
            first_index[fid] = i
        if spec is not None:
            specs.append(spec)
    if not specs:
        return FenceSet([], SiteProjection.at(*origin) if origin else None), problems
    pts = [p for s in specs for p in _all_points(s)]
    proj = SiteProjection.at(*origin) if origin else SiteProjection.around([p[0] for p in pts], [p[1] for p in pts])
    fences = [f for f in (_build(s, proj, problems) for s in specs) if f is not None]
    if fences:
        minx, miny, maxx, maxy = shapely.total_bounds([f.shape for f in fences])
        if max(maxx - minx, maxy - miny) > WIDE_SITE_M:
            log.warning("fences span %.0f km: one gateway is meant for one site", max(maxx - minx, maxy - miny) / 1000)
    problems.sort(key=lambda p: _natural_key(p[0]))
    return FenceSet(fences, proj), problems


def _natural_key(key_path: str) -> list:
    return [int(t) if t.isascii() and t.isdigit() else t for t in re.split(r"(\d+)", key_path)]
