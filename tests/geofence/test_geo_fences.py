"""Fences from config: polygon (with holes), circle, 20 km corridor, crs handling, problems.

Expected distances are built independently of the code under test, with pyproj's geodesic
(Geod.fwd/inv on the WGS-84 ellipsoid), not with the site projection.
"""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pyproj import Geod

from sitegate.geofence import coords
from sitegate.geofence.fences import parse_fences

GEOD = Geod(ellps="WGS84")
LNG0, LAT0 = 117.0, 36.65   # Jinan


def offset(lng, lat, azimuth_deg, metres):
    x, y, _ = GEOD.fwd(lng, lat, azimuth_deg, metres)
    return float(x), float(y)


def square(lng, lat, half_m):
    """Corners of a square of side 2*half_m centred on (lng, lat), counter-clockwise."""
    n = offset(lng, lat, 0, half_m)[1]
    s = offset(lng, lat, 180, half_m)[1]
    e = offset(lng, lat, 90, half_m)[0]
    w = offset(lng, lat, 270, half_m)[0]
    return [[w, s], [e, s], [e, n], [w, n]]


def one(tables):
    fences, problems = parse_fences(tables)
    assert problems == []
    return fences


# ---- polygon with a hole --------------------------------------------------------------------

@pytest.fixture(scope="module")
def yard():
    return one([{"id": "yard", "crs": "wgs84", "polygon": [square(LNG0, LAT0, 500), square(LNG0, LAT0, 100)]}])


def test_polygon_with_hole_signed_distances(yard):
    pts = [
        offset(LNG0, LAT0, 90, 300),   # in the ring: 200 m from the outer edge, 200 m from the hole
        offset(LNG0, LAT0, 90, 450),   # 50 m inside the outer edge
        offset(LNG0, LAT0, 90, 520),   # 20 m outside
        offset(LNG0, LAT0, 90, 60),    # in the hole: 40 m from its edge -> outside the fence
        (LNG0, LAT0),                  # centre of the hole: 100 m outside
    ]
    s = yard.signed_distances([p[0] for p in pts], [p[1] for p in pts])[0]
    np.testing.assert_allclose(s, [200, 50, -20, -40, -100], atol=0.05)


def test_polygon_dict_form_equals_list_form(yard):
    fences = one([{"id": "yard", "crs": "wgs84",
                   "polygon": {"outer": square(LNG0, LAT0, 500), "holes": [square(LNG0, LAT0, 100)]}}])
    p = offset(LNG0, LAT0, 45, 250)
    assert fences.signed_distances(*p)[0, 0] == pytest.approx(yard.signed_distances(*p)[0, 0], abs=1e-9)


def test_closed_ring_is_accepted():
    ring = square(LNG0, LAT0, 200)
    fences = one([{"id": "y", "crs": "wgs84", "polygon": [ring + [ring[0]]]}])
    assert fences.signed_distances(LNG0, LAT0)[0, 0] == pytest.approx(200, abs=0.05)


def test_fence_drawn_in_gcj02_is_converted_to_wgs84():
    # The same square drawn on an Amap screen (GCJ-02): a raw GPS fix at the true centre is inside
    # by 200 m; read as WGS-84 by mistake, the fence would sit ~500 m away.
    ring = [list(coords.wgs84_to_gcj02(*p)) for p in square(LNG0, LAT0, 200)]
    gcj = one([{"id": "g", "crs": "gcj02", "polygon": [ring]}])
    assert gcj.signed_distances(LNG0, LAT0)[0, 0] == pytest.approx(200, abs=0.05)
    wrong = one([{"id": "g", "crs": "wgs84", "polygon": [ring]}])
    assert wrong.signed_distances(LNG0, LAT0)[0, 0] < -100


# ---- circle ---------------------------------------------------------------------------------

@pytest.mark.parametrize("crs", ["wgs84", "gcj02", "bd09"])
def test_circle_radius_edges(crs):
    center = coords.convert(LNG0, LAT0, "wgs84", crs)
    fences = one([{"id": "plant", "crs": crs, "center": list(center), "radius_m": 150, "grace_m": 0}])
    pts = [(LNG0, LAT0), offset(LNG0, LAT0, 30, 145), offset(LNG0, LAT0, 200, 155), offset(LNG0, LAT0, 0, 1000)]
    s = fences.signed_distances([p[0] for p in pts], [p[1] for p in pts])[0]
    np.testing.assert_allclose(s, [150, 5, -5, -850], atol=0.01)


# ---- 20 km corridor -------------------------------------------------------------------------

A = (116.90, 36.60)
AZ_AB = 70.0
B = offset(*A, AZ_AB, 20_000)


@pytest.fixture(scope="module")
def road():
    return one([{"id": "road", "crs": "wgs84", "line": [list(A), list(B)], "width_m": 60, "lane": "geo-road",
                 "direction": "in"}])


def _along(distance_m):
    """Point on the geodesic A->B at distance_m, and the forward azimuth there."""
    lng, lat, back = GEOD.fwd(*A, AZ_AB, distance_m)
    return (float(lng), float(lat)), float(back) + 180.0


@pytest.mark.parametrize("along_m", [100.0, 10_000.0, 19_900.0], ids=["near-start", "middle", "near-end"])
@pytest.mark.parametrize("side", [90.0, -90.0], ids=["left", "right"])
def test_corridor_inside_and_outside_its_width(road, along_m, side):
    (lng, lat), az = _along(along_m)
    inside = offset(lng, lat, az + side, 25)     # half width 30 m: 5 m inside
    outside = offset(lng, lat, az + side, 35)    # 5 m outside
    centre = (lng, lat)
    s = road.signed_distances([inside[0], outside[0], centre[0]], [inside[1], outside[1], centre[1]])[0]
    np.testing.assert_allclose(s, [5, -5, 30], atol=0.05)


def test_corridor_has_flat_caps(road):
    (lng, lat), az = _along(0.0)
    before = offset(lng, lat, az + 180, 10)       # 10 m before the start, on the axis
    (lng2, lat2), az2 = _along(20_000.0)
    after = offset(lng2, lat2, az2, 10)
    s = road.signed_distances([before[0], after[0]], [before[1], after[1]])[0]
    np.testing.assert_allclose(s, [-10, -10], atol=0.05)


def test_corridor_follows_the_geodesic_not_the_straight_degrees():
    # A 55 km east-west line drawn straight in degrees would be tens of metres off the geodesic
    # in its middle (reference §2); with densification the geodesic's midpoint is on the axis.
    a, b = (116.5, 39.9), (117.15, 39.9)
    fences = one([{"id": "pipe", "crs": "wgs84", "line": [list(a), list(b)], "width_m": 20}])
    mid = GEOD.npts(*a, *b, 1)[0]
    assert fences.signed_distances(*mid)[0, 0] == pytest.approx(10, abs=0.05)
    straight_mid = ((a[0] + b[0]) / 2, 39.9)
    assert fences.signed_distances(*straight_mid)[0, 0] < -10


def test_fence_attributes(road):
    f = road.by_id("road")
    assert (f.kind, f.lane, f.direction, f.grace_m, f.crs) == ("corridor", "geo-road", "in", 0.0, "wgs84")
    assert road.ids == ["road"] and len(road) == 1 and list(road)[0] is f


def test_defaults_lane_is_id_direction_both():
    f = one([{"id": "x", "crs": "wgs84", "center": [LNG0, LAT0], "radius_m": 10}]).by_id("x")
    assert (f.lane, f.direction, f.grace_m) == ("x", "both", 0.0)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.floats(-800, 800), st.floats(-800, 800)), min_size=1, max_size=30))
def test_vectorised_equals_one_at_a_time(yard, offsets_m):
    pts = [offset(LNG0, LAT0, 90, dx) for dx, _ in offsets_m]
    pts = [offset(p[0], p[1], 0, dy) for p, (_, dy) in zip(pts, offsets_m)]
    many = yard.signed_distances([p[0] for p in pts], [p[1] for p in pts])[0]
    for i, p in enumerate(pts):
        assert many[i] == pytest.approx(yard.signed_distance_one(*p)[0], abs=1e-9)


# ---- problems -------------------------------------------------------------------------------

GOOD = {"id": "c", "crs": "wgs84", "center": [LNG0, LAT0], "radius_m": 100}


@pytest.mark.parametrize("table,key,words", [
    ({**GOOD, "radius_m": 0}, "geofences[0].radius_m", "must be > 0 (expected metres)"),
    ({**GOOD, "radius_m": "100"}, "geofences[0].radius_m", "must be a number of metres"),
    ({**GOOD, "radius_m": True}, "geofences[0].radius_m", "must be a number of metres"),
    ({**GOOD, "colour": "red"}, "geofences[0].colour", "unknown key"),
    ({k: v for k, v in GOOD.items() if k != "crs"}, "geofences[0].crs", "is required"),
    ({**GOOD, "crs": "epsg:4326"}, "geofences[0].crs", "unknown coordinate system"),
    ({**GOOD, "id": ""}, "geofences[0].id", "is required"),
    ({**GOOD, "id": "a b"}, "geofences[0].id", "letters, digits"),
    ({**GOOD, "grace_m": -1}, "geofences[0].grace_m", "must be >= 0"),
    ({**GOOD, "grace_m": 5000}, "geofences[0].grace_m", "at most 1000"),
    ({**GOOD, "direction": "sideways"}, "geofences[0].direction", "in, out, both"),
    ({**GOOD, "lane": 3}, "geofences[0].lane", "non-empty string"),
    ({**GOOD, "center": [36.65, 117.0]}, "geofences[0].center", "looks like [lat, lng]"),
    ({**GOOD, "center": [117.0]}, "geofences[0].center", "[lng, lat] pair"),
    ({"id": "c", "crs": "wgs84", "radius_m": 5}, "geofences[0].center", "is required for a circle"),
    ({"id": "c", "crs": "wgs84"}, "geofences[0]", "exactly one shape"),
    ({**GOOD, "line": [[1, 1], [2, 2]]}, "geofences[0]", "exactly one shape"),
    ({"id": "r", "crs": "wgs84", "line": [[117, 36]], "width_m": 5}, "geofences[0].line", "at least 2 distinct"),
    ({"id": "r", "crs": "wgs84", "line": [[117, 36], [117, 36]], "width_m": 5}, "geofences[0].line",
     "at least 2 distinct"),
    ({"id": "r", "crs": "wgs84", "line": [[117, 36], [117.1, 36]]}, "geofences[0].width_m", "is required"),
    ({"id": "p", "crs": "wgs84", "polygon": [[117, 36], [117.1, 36], [117.1, 36.1]]}, "geofences[0].polygon",
     "wrap the points"),
    ({"id": "p", "crs": "wgs84", "polygon": [[[117, 36], [117.1, 36]]]}, "geofences[0].polygon[0]",
     "at least 3 distinct"),
    ({"id": "p", "crs": "wgs84", "polygon": [[[117, 36], [117.1, 36], [117.1, "x"]]]},
     "geofences[0].polygon[0][2]", "[lng, lat] pair"),
    ({"id": "p", "crs": "wgs84", "polygon": {"outer": [[117, 36], [117.1, 36], [117.1, 36.1]], "hole": []}},
     "geofences[0].polygon.hole", "unknown key"),
    ({"id": "p", "crs": "wgs84", "polygon": {"holes": []}}, "geofences[0].polygon.outer", "is required"),
    ({"id": "p", "crs": "wgs84", "polygon": [[[117, 36], [117.01, 36.01], [117.01, 36], [117, 36.01]]]},
     "geofences[0].polygon", "Self-intersection near [117.005"),
    ({"id": "p", "crs": "wgs84", "polygon": [square(LNG0, LAT0, 100), square(LNG0 + 0.1, LAT0, 10)]},
     "geofences[0].polygon", "not valid"),
    ("not a table", "geofences[0]", "must be a table"),
])
def test_problems_name_the_key(table, key, words):
    fences, problems = parse_fences([table])
    assert len(fences) == 0
    assert any(k == key and words in m for k, m in problems), problems


def test_duplicate_ids_and_one_bad_fence_does_not_hide_the_good_ones():
    fences, problems = parse_fences([GOOD, {**GOOD, "radius_m": -5, "id": "d"}, GOOD])
    assert fences.ids == ["c"]
    assert ("geofences[1].radius_m", "must be > 0 (expected metres), got -5.0") in problems
    assert ("geofences[2].id", "duplicate id 'c' (also geofences[0])") in problems


def test_not_a_list_and_empty():
    fences, problems = parse_fences({"id": "x"})
    assert len(fences) == 0 and problems == [("geofences", "must be a list of tables ([[geofences]] in TOML)")]
    fences, problems = parse_fences([])
    assert len(fences) == 0 and problems == [] and fences.signed_distances([117.0], [36.0]).shape == (0, 1)


def test_toml_tables_parse():
    import tomllib

    text = """
[[geofences]]
id = "north-yard"
crs = "gcj02"
grace_m = 5
polygon = { outer = [[117.0, 36.6], [117.01, 36.6], [117.01, 36.61], [117.0, 36.61]] }

[[geofences]]
id = "pipeline"
crs = "bd09"
line = [[117.0, 36.7], [117.2, 36.75]]
width_m = 40
lane = "geo-pipe"
"""
    fences, problems = parse_fences(tomllib.loads(text)["geofences"])
    assert problems == [] and fences.ids == ["north-yard", "pipeline"]
    assert fences.by_id("north-yard").grace_m == 5.0 and fences.by_id("pipeline").lane == "geo-pipe"
