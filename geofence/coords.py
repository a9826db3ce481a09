"""WGS-84 <-> GCJ-02 <-> BD-09 conversion, scalar and vectorised (numpy).

sitegate keeps WGS-84 inside and converts at input and output: a fence drawn on an Amap screen
(GCJ-02) and a phone's raw GPS fix (WGS-84) disagree by hundreds of metres otherwise.

Formulas and constants: the public reference implementations googollee/eviltransform,
wandergis/coordtransform and Artoria2e5/PRCoords (see ../shared/reference/geofence.md §1).
Deliberate choices:

- Krasovsky ``a = 6378245.0`` (one popular package uses 6378137 and is ~1 cm off);
- GCJ->WGS and BD->GCJ have no closed form: we refine by fixed-point iteration
  ``w <- w - (f(w) - g)`` which shrinks the error ~150x per step, to far below 1 mm;
- outside the "in China" box every transform is the identity, BD-09 included (reference vector
  10: "outside China, any operation: unchanged"; Baidu's maps use WGS-84 abroad). The box also covers Korea and parts
  of Japan: it is a guard, never the way to decide which system a coordinate is in.

The map is not one-to-one within ~700 m of the box edge (a point just inside may land just
outside, where the identity also applies); the edges lie outside China's territory (its land
spans about 73.5-134.8 E, 3.9-53.6 N), so the inverse there simply follows the iteration.

The scalar functions accept any float (they do not range-check: ``(183, 45)`` is simply outside
China); :func:`convert` and :func:`convert_arrays` are the checked entry points.
"""
from __future__ import annotations

import math
from typing import Final

import numpy as np
import numpy.typing as npt

from sitegate.errors import UsageError

WGS84: Final = "wgs84"
GCJ02: Final = "gcj02"
BD09: Final = "bd09"
SYSTEMS: Final = (WGS84, GCJ02, BD09)

KRASOVSKY_A: Final = 6378245.0
KRASOVSKY_EE: Final = 0.00669342162296594323
X_PI: Final = math.pi * 3000.0 / 180.0

CHINA_LNG: Final = (72.004, 137.8347)
CHINA_LAT: Final = (0.8293, 55.8271)

# Fixed-point refinement: stop when a step moves less than this (1e-13 deg ~ 0.01 um), or after
# MAX_ITER steps (4 steps already reach ~1 um; the cap only guards against a non-converging edge).
_TOL_DEG: Final = 1e-13
_MAX_ITER: Final = 12

FloatArray = npt.NDArray[np.float64]


class CoordinateError(UsageError):
    """An unknown coordinate system, or a coordinate that is not a finite in-range number."""


def out_of_china(lng: float, lat: float) -> bool:
    """True outside the box where GCJ-02 differs from WGS-84 (the transform is then the identity)."""
    return not (CHINA_LNG[0] <= lng <= CHINA_LNG[1] and CHINA_LAT[0] <= lat <= CHINA_LAT[1])


def _delta(lng: float, lat: float) -> tuple[float, float]:
    """The GCJ-02 offset (dlng, dlat) in degrees at a WGS-84 point, without the China guard."""
    x, y = lng - 105.0, lat - 35.0
    pi = math.pi
    s = (20.0 * math.sin(6.0 * x * pi) + 20.0 * math.sin(2.0 * x * pi)) * 2.0 / 3.0
    dlat_m = -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * math.sqrt(abs(x)) + s
    dlat_m += (20.0 * math.sin(y * pi) + 40.0 * math.sin(y / 3.0 * pi)) * 2.0 / 3.0
    dlat_m += (160.0 * math.sin(y / 12.0 * pi) + 320.0 * math.sin(y * pi / 30.0)) * 2.0 / 3.0
    dlng_m = 300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * math.sqrt(abs(x)) + s
    dlng_m += (20.0 * math.sin(x * pi) + 40.0 * math.sin(x / 3.0 * pi)) * 2.0 / 3.0
    dlng_m += (150.0 * math.sin(x / 12.0 * pi) + 300.0 * math.sin(x / 30.0 * pi)) * 2.0 / 3.0
    rad = lat / 180.0 * pi
    m = 1.0 - KRASOVSKY_EE * math.sin(rad) ** 2
    sqrt_m = math.sqrt(m)
    dlat = (dlat_m * 180.0) / ((KRASOVSKY_A * (1.0 - KRASOVSKY_EE)) / (m * sqrt_m) * pi)
    dlng = (dlng_m * 180.0) / (KRASOVSKY_A / sqrt_m * math.cos(rad) * pi)
    return dlng, dlat


def wgs84_to_gcj02(lng: float, lat: float) -> tuple[float, float]:
    if out_of_china(lng, lat):
        return lng, lat
    dlng, dlat = _delta(lng, lat)
    return lng + dlng, lat + dlat


def gcj02_to_wgs84(lng: float, lat: float, *, exact: bool = True) -> tuple[float, float]:
    """Inverse of :func:`wgs84_to_gcj02`. ``exact=False`` gives the common one-step "rough" inverse
    (errs up to 4.65 m), kept only to check against published vectors."""
    if out_of_china(lng, lat):
        return lng, lat
    wlng, wlat = lng, lat
    for _ in range(_MAX_ITER if exact else 1):
        # Unguarded offset: near the box edge the guarded map is discontinuous and would oscillate.
        dlng, dlat = _delta(wlng, wlat)
        step_lng, step_lat = wlng + dlng - lng, wlat + dlat - lat
        wlng, wlat = wlng - step_lng, wlat - step_lat
        if abs(step_lng) < _TOL_DEG and abs(step_lat) < _TOL_DEG:
            break
    return wlng, wlat


def gcj02_to_bd09(lng: float, lat: float) -> tuple[float, float]:
    if out_of_china(lng, lat):
        return lng, lat
    return _gcj02_to_bd09_raw(lng, lat)


def _gcj02_to_bd09_raw(lng: float, lat: float) -> tuple[float, float]:
    z = math.sqrt(lng * lng + lat * lat) + 0.00002 * math.sin(lat * X_PI)
    theta = math.atan2(lat, lng) + 0.000003 * math.cos(lng * X_PI)
    return z * math.cos(theta) + 0.0065, z * math.sin(theta) + 0.006


def _bd09_to_gcj02_closed(lng: float, lat: float) -> tuple[float, float]:
    x, y = lng - 0.0065, lat - 0.006
    z = math.sqrt(x * x + y * y) - 0.00002 * math.sin(y * X_PI)
    theta = math.atan2(y, x) - 0.000003 * math.cos(x * X_PI)
    return z * math.cos(theta), z * math.sin(theta)


def bd09_to_gcj02(lng: float, lat: float, *, exact: bool = True) -> tuple[float, float]:
    """Inverse of :func:`gcj02_to_bd09`. The published closed form (``exact=False``) round-trips
    with up to 0.22 m error; the default refines it by fixed point to far below 1 mm."""
    if out_of_china(lng, lat):
        return lng, lat
    glng, glat = _bd09_to_gcj02_closed(lng, lat)
    if not exact:
        return glng, glat
    for _ in range(_MAX_ITER):
        blng, blat = _gcj02_to_bd09_raw(glng, glat)
        step_lng, step_lat = blng - lng, blat - lat
        glng, glat = glng - step_lng, glat - step_lat
        if abs(step_lng) < _TOL_DEG and abs(step_lat) < _TOL_DEG:
            break
    return glng, glat


def wgs84_to_bd09(lng: float, lat: float) -> tuple[float, float]:
    return gcj02_to_bd09(*wgs84_to_gcj02(lng, lat))


def bd09_to_wgs84(lng: float, lat: float) -> tuple[float, float]:
    return gcj02_to_wgs84(*bd09_to_gcj02(lng, lat))


def check_system(name: str) -> str:
    """Return the canonical system name, or raise :class:`CoordinateError` naming the choices."""
    key = str(name).strip().lower().replace("-", "").replace("_", "")
    canonical = {"wgs84": WGS84, "gcj02": GCJ02, "bd09": BD09, "bd09ll": BD09}.get(key)
    if canonical is None:
        raise CoordinateError(f"unknown coordinate system {name!r} (expected one of {', '.join(SYSTEMS)})")
    return canonical


def check_lnglat(lng: float, lat: float) -> None:
    """Raise :class:`CoordinateError` unless lng/lat are finite and within +-180 / +-90 degrees."""
    if not (math.isfinite(lng) and math.isfinite(lat)):
        raise CoordinateError(f"coordinates must be finite numbers, got lng={lng!r} lat={lat!r}")
    if not -180.0 <= lng <= 180.0:
        raise CoordinateError(f"longitude {lng!r} is outside -180..180")
    if not -90.0 <= lat <= 90.0:
        hint = " (looks like [lat, lng]; give longitude first)" if -90.0 <= lng <= 90.0 else ""
        raise CoordinateError(f"latitude {lat!r} is outside -90..90{hint}")


_TO_WGS = {WGS84: lambda x, y: (x, y), GCJ02: gcj02_to_wgs84, BD09: bd09_to_wgs84}
_FROM_WGS = {WGS84: lambda x, y: (x, y), GCJ02: wgs84_to_gcj02, BD09: wgs84_to_bd09}


def convert(lng: float, lat: float, src: str, dst: str) -> tuple[float, float]:
    """Convert one point between ``"wgs84"``, ``"gcj02"`` and ``"bd09"`` (checked input)."""
    src, dst = check_system(src), check_system(dst)
    lng, lat = float(lng), float(lat)
    check_lnglat(lng, lat)
    if src == dst:
        return lng, lat
    if (src, dst) == (GCJ02, BD09):
        return gcj02_to_bd09(lng, lat)
    if (src, dst) == (BD09, GCJ02):
        return bd09_to_gcj02(lng, lat)
    return _FROM_WGS[dst](*_TO_WGS[src](lng, lat))


# ---- vectorised (numpy) versions: same formulas, element-wise, for arrays of points ----------

def _in_china_np(lng: FloatArray, lat: FloatArray) -> npt.NDArray[np.bool_]:
    return (lng >= CHINA_LNG[0]) & (lng <= CHINA_LNG[1]) & (lat >= CHINA_LAT[0]) & (lat <= CHINA_LAT[1])


def _delta_np(lng: FloatArray, lat: FloatArray) -> tuple[FloatArray, FloatArray]:
    x, y = lng - 105.0, lat - 35.0
    pi = np.pi
    s = (20.0 * np.sin(6.0 * x * pi) + 20.0 * np.sin(2.0 * x * pi)) * 2.0 / 3.0
    dlat_m = -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * np.sqrt(np.abs(x)) + s
    dlat_m += (20.0 * np.sin(y * pi) + 40.0 * np.sin(y / 3.0 * pi)) * 2.0 / 3.0
    dlat_m += (160.0 * np.sin(y / 12.0 * pi) + 320.0 * np.sin(y * pi / 30.0)) * 2.0 / 3.0
    dlng_m = 300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * np.sqrt(np.abs(x)) + s
    dlng_m += (20.0 * np.sin(x * pi) + 40.0 * np.sin(x / 3.0 * pi)) * 2.0 / 3.0
    dlng_m += (150.0 * np.sin(x / 12.0 * pi) + 300.0 * np.sin(x / 30.0 * pi)) * 2.0 / 3.0
    rad = lat / 180.0 * pi
    m = 1.0 - KRASOVSKY_EE * np.sin(rad) ** 2
    sqrt_m = np.sqrt(m)
    dlat = (dlat_m * 180.0) / ((KRASOVSKY_A * (1.0 - KRASOVSKY_EE)) / (m * sqrt_m) * pi)
    dlng = (dlng_m * 180.0) / (KRASOVSKY_A / sqrt_m * np.cos(rad) * pi)
    return dlng, dlat


def _as_arrays(lng: npt.ArrayLike, lat: npt.ArrayLike) -> tuple[FloatArray, FloatArray]:
    a, b = np.broadcast_arrays(np.asarray(lng, dtype=np.float64), np.asarray(lat, dtype=np.float64))
    return a.copy(), b.copy()


def wgs84_to_gcj02_np(lng: npt.ArrayLike, lat: npt.ArrayLike) -> tuple[FloatArray, FloatArray]:
    lng, lat = _as_arrays(lng, lat)
    inside = _in_china_np(lng, lat)
    dlng, dlat = _delta_np(lng, lat)
    return np.where(inside, lng + dlng, lng), np.where(inside, lat + dlat, lat)


def gcj02_to_wgs84_np(lng: npt.ArrayLike, lat: npt.ArrayLike) -> tuple[FloatArray, FloatArray]:
    glng, glat = _as_arrays(lng, lat)
    inside = _in_china_np(glng, glat)
    out_lng, out_lat = glng.copy(), glat.copy()
    # Iterate only on the points inside the box: outside it the answer is the input.
    g_lng, g_lat = glng[inside], glat[inside]
    w_lng, w_lat = g_lng.copy(), g_lat.copy()
    for _ in range(_MAX_ITER):
        dlng, dlat = _delta_np(w_lng, w_lat)
        step_lng, step_lat = w_lng + dlng - g_lng, w_lat + dlat - g_lat
        w_lng, w_lat = w_lng - step_lng, w_lat - step_lat
        if _converged(step_lng, step_lat):
            break
    out_lng[inside], out_lat[inside] = w_lng, w_lat
    return out_lng, out_lat


def _converged(step_lng: FloatArray, step_lat: FloatArray) -> bool:
    return bool(np.max(np.abs(step_lng), initial=0.0) < _TOL_DEG and np.max(np.abs(step_lat), initial=0.0) < _TOL_DEG)


def _gcj02_to_bd09_raw_np(lng: FloatArray, lat: FloatArray) -> tuple[FloatArray, FloatArray]:
    z = np.sqrt(lng * lng + lat * lat) + 0.00002 * np.sin(lat * X_PI)
    theta = np.arctan2(lat, lng) + 0.000003 * np.cos(lng * X_PI)
    return z * np.cos(theta) + 0.0065, z * np.sin(theta) + 0.006


def gcj02_to_bd09_np(lng: npt.ArrayLike, lat: npt.ArrayLike) -> tuple[FloatArray, FloatArray]:
    lng, lat = _as_arrays(lng, lat)
    inside = _in_china_np(lng, lat)
    blng, blat = _gcj02_to_bd09_raw_np(lng, lat)
    return np.where(inside, blng, lng), np.where(inside, blat, lat)


def bd09_to_gcj02_np(lng: npt.ArrayLike, lat: npt.ArrayLike) -> tuple[FloatArray, FloatArray]:
    blng_all, blat_all = _as_arrays(lng, lat)
    inside = _in_china_np(blng_all, blat_all)
    out_lng, out_lat = blng_all.copy(), blat_all.copy()
    blng, blat = blng_all[inside], blat_all[inside]
    x, y = blng - 0.0065, blat - 0.006
    z = np.sqrt(x * x + y * y) - 0.00002 * np.sin(y * X_PI)
    theta = np.arctan2(y, x) - 0.000003 * np.cos(x * X_PI)
    glng, glat = z * np.cos(theta), z * np.sin(theta)
    for _ in range(_MAX_ITER):
        flng, flat = _gcj02_to_bd09_raw_np(glng, glat)
        step_lng, step_lat = flng - blng, flat - blat
        glng, glat = glng - step_lng, glat - step_lat
        if _converged(step_lng, step_lat):
            break
    out_lng[inside], out_lat[inside] = glng, glat
    return out_lng, out_lat


def wgs84_to_bd09_np(lng: npt.ArrayLike, lat: npt.ArrayLike) -> tuple[FloatArray, FloatArray]:
    return gcj02_to_bd09_np(*wgs84_to_gcj02_np(lng, lat))


def bd09_to_wgs84_np(lng: npt.ArrayLike, lat: npt.ArrayLike) -> tuple[FloatArray, FloatArray]:
    return gcj02_to_wgs84_np(*bd09_to_gcj02_np(lng, lat))


_TO_WGS_NP = {WGS84: _as_arrays, GCJ02: gcj02_to_wgs84_np, BD09: bd09_to_wgs84_np}
_FROM_WGS_NP = {WGS84: _as_arrays, GCJ02: wgs84_to_gcj02_np, BD09: wgs84_to_bd09_np}


def convert_arrays(lng: npt.ArrayLike, lat: npt.ArrayLike, src: str, dst: str) -> tuple[FloatArray, FloatArray]:
    """Vectorised :func:`convert`: arrays (or anything numpy broadcasts) of lng and lat."""
    src, dst = check_system(src), check_system(dst)
    lng, lat = _as_arrays(lng, lat)
    bad = ~(np.isfinite(lng) & np.isfinite(lat) & (np.abs(lng) <= 180.0) & (np.abs(lat) <= 90.0))
    if bad.any():
        i = int(np.flatnonzero(bad.ravel())[0])
        raise CoordinateError(
            f"{int(bad.sum())} point(s) not finite or out of range, first at index {i}: "
            f"lng={lng.ravel()[i]!r} lat={lat.ravel()[i]!r}"
        )
    if src == dst:
        return lng, lat
    if (src, dst) == (GCJ02, BD09):
        return gcj02_to_bd09_np(lng, lat)
    if (src, dst) == (BD09, GCJ02):
        return bd09_to_gcj02_np(lng, lat)
    return _FROM_WGS_NP[dst](*_TO_WGS_NP[src](lng, lat))
