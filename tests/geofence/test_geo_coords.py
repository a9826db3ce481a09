"""WGS-84 / GCJ-02 / BD-09: published vectors (../shared/reference/geofence.md §1), round trips."""
from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pyproj import Geod

from sitegate.errors import UsageError
from sitegate.geofence import coords
from sitegate.geofence.coords import CoordinateError, convert, convert_arrays

TOL = 1e-12
GEOD = Geod(ellps="WGS84")

# (number, function, input, expected) -- the reference's table, copied verbatim.
VECTORS = [
    (1, coords.wgs84_to_gcj02, (121.5272106, 31.1774276), (121.531541859215, 31.17530398364597)),
    (2, coords.wgs84_to_gcj02, (113.912316, 22.543847), (113.9171764808363, 22.540796131694766)),
    (3, coords.wgs84_to_gcj02, (116.377817, 39.911954), (116.38404722455657, 39.91334545536069)),
    (4, coords.wgs84_to_gcj02, (116.404, 39.915), (116.41024449916938, 39.91640428150164)),
    (5, lambda x, y: coords.gcj02_to_wgs84(x, y, exact=False), (116.404, 39.915),
     (116.39775550083061, 39.91359571849836)),
    (6, coords.gcj02_to_bd09, (116.404, 39.915), (116.41036949371029, 39.92133699351021)),
    (7, lambda x, y: coords.bd09_to_gcj02(x, y, exact=False), (116.404, 39.915),
     (116.39762729119315, 39.90865673957631)),
    (8, coords.wgs84_to_gcj02, (105, 35), (105.00328624145706, 34.99909863223526)),
    (9, coords.wgs84_to_bd09, (105, 35), (105.00966682831948, 35.005403668456964)),
]

NP_FUNCS = {
    coords.wgs84_to_gcj02: coords.wgs84_to_gcj02_np,
    coords.gcj02_to_bd09: coords.gcj02_to_bd09_np,
    coords.wgs84_to_bd09: coords.wgs84_to_bd09_np,
}


@pytest.mark.parametrize("num,func,inp,expected", VECTORS, ids=[f"vector{v[0]}" for v in VECTORS])
def test_published_vectors(num, func, inp, expected):
    lng, lat = func(*inp)
    assert abs(lng - expected[0]) <= TOL and abs(lat - expected[1]) <= TOL, (num, lng, lat)


@pytest.mark.parametrize("num,func,inp,expected", [v for v in VECTORS if v[1] in NP_FUNCS],
                         ids=[f"vector{v[0]}" for v in VECTORS if v[1] in NP_FUNCS])
def test_published_vectors_vectorised(num, func, inp, expected):
    lng, lat = NP_FUNCS[func](np.array([inp[0], inp[0]]), np.array([inp[1], inp[1]]))
    assert np.all(np.abs(lng - expected[0]) <= TOL) and np.all(np.abs(lat - expected[1]) <= TOL)


def test_vector10_outside_china_is_identity_every_way():
    for f in (coords.wgs84_to_gcj02, coords.gcj02_to_wgs84, coords.gcj02_to_bd09, coords.bd09_to_gcj02,
              coords.wgs84_to_bd09, coords.bd09_to_wgs84):
        assert f(183, 45) == (183, 45), f.__name__
    for f in (coords.wgs84_to_gcj02_np, coords.gcj02_to_wgs84_np, coords.gcj02_to_bd09_np,
              coords.bd09_to_gcj02_np, coords.wgs84_to_bd09_np, coords.bd09_to_wgs84_np):
        lng, lat = f([183.0], [45.0])
        assert (lng[0], lat[0]) == (183.0, 45.0), f.__name__
    # inside the valid range too: Berlin is untouched
    for src in coords.SYSTEMS:
        for dst in coords.SYSTEMS:
            assert convert(13.4, 52.5, src, dst) == (13.4, 52.5)


def test_closed_form_inverses_are_refined():
    # vector 5's rough inverse is metres off; the exact one lands on the vector-4 input.
    w = coords.gcj02_to_wgs84(116.41024449916938, 39.91640428150164)
    assert abs(w[0] - 116.404) < 1e-9 and abs(w[1] - 39.915) < 1e-9
    rough = coords.gcj02_to_wgs84(116.41024449916938, 39.91640428150164, exact=False)
    assert GEOD.inv(rough[0], rough[1], 116.404, 39.915)[2] > 0.01
    g = coords.bd09_to_gcj02(116.41036949371029, 39.92133699351021)
    assert abs(g[0] - 116.404) < 1e-10 and abs(g[1] - 39.915) < 1e-10


# Round trips over the interior of the "in China" box (its last ~700 m are not invertible:
# see the coords module docstring).
china = st.tuples(st.floats(72.1, 137.7), st.floats(0.9, 55.7))


def _metres(a, b) -> float:
    return GEOD.inv(a[0], a[1], b[0], b[1])[2]


@settings(max_examples=300, deadline=None)
@given(china)
def test_wgs_gcj_round_trip_below_1mm(p):
    back = coords.gcj02_to_wgs84(*coords.wgs84_to_gcj02(*p))
    assert _metres(p, back) < 0.001


@settings(max_examples=300, deadline=None)
@given(china)
def test_bd_round_trips_below_1mm(p):
    assert _metres(p, coords.bd09_to_gcj02(*coords.gcj02_to_bd09(*p))) < 0.001
    assert _metres(p, coords.bd09_to_wgs84(*coords.wgs84_to_bd09(*p))) < 0.001
    # and from the BD side: BD -> GCJ -> BD
    assert _metres(p, coords.gcj02_to_bd09(*coords.bd09_to_gcj02(*p))) < 0.001


@settings(max_examples=100, deadline=None)
@given(st.lists(china, min_size=1, max_size=20),
       st.sampled_from([(a, b) for a in coords.SYSTEMS for b in coords.SYSTEMS]))
def test_vectorised_matches_scalar(points, pair):
    src, dst = pair
    lng, lat = convert_arrays([p[0] for p in points], [p[1] for p in points], src, dst)
    for i, p in enumerate(points):
        s = convert(p[0], p[1], src, dst)
        assert abs(lng[i] - s[0]) < 1e-11 and abs(lat[i] - s[1]) < 1e-11


def test_vectorised_inverse_mixed_inside_and_outside():
    g = coords.wgs84_to_gcj02(116.404, 39.915)
    lng, lat = coords.gcj02_to_wgs84_np([g[0], -73.9, 183.0], [g[1], 40.7, 45.0])
    assert abs(lng[0] - 116.404) < 1e-10 and abs(lat[0] - 39.915) < 1e-10
    assert (lng[1], lat[1], lng[2], lat[2]) == (-73.9, 40.7, 183.0, 45.0)


def test_gcj_offset_magnitude_in_beijing():
    # The reference: GCJ-02 is ~555 m off WGS-84 in Beijing.
    assert 450 < _metres((116.404, 39.915), coords.wgs84_to_gcj02(116.404, 39.915)) < 650


@pytest.mark.parametrize("src,dst", [("wgs84", "WGS84"), ("gcj-02", "gcj02"), ("BD09", "bd09ll")])
def test_system_names_are_forgiving_about_case_and_dashes(src, dst):
    assert convert(116.4, 39.9, src, dst) == (116.4, 39.9)


@pytest.mark.parametrize("lng,lat,src,dst,words", [
    (116.4, 39.9, "wgs", "gcj02", "unknown coordinate system 'wgs'"),
    (116.4, 39.9, "gcj02", "epsg:4326", "unknown coordinate system"),
    (181.0, 39.9, "wgs84", "gcj02", "longitude 181.0"),
    (116.4, 90.5, "wgs84", "gcj02", "latitude 90.5"),
    (39.9, 116.4, "wgs84", "gcj02", "looks like [lat, lng]"),
    (math.nan, 39.9, "wgs84", "gcj02", "finite"),
    (116.4, math.inf, "wgs84", "gcj02", "finite"),
])
def test_convert_rejects_bad_input_with_a_clear_message(lng, lat, src, dst, words):
    with pytest.raises(CoordinateError, match=words.replace("[", r"\[").replace("]", r"\]").replace(".", r"\.")):
        convert(lng, lat, src, dst)
    assert issubclass(CoordinateError, UsageError)


def test_convert_arrays_names_the_first_bad_point():
    with pytest.raises(CoordinateError, match="index 2"):
        convert_arrays([116.0, 116.1, 200.0], [39.0, 39.1, 39.2], "wgs84", "gcj02")
