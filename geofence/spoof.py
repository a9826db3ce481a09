"""Spoofing signals for phone fixes. Each is a flag with a human reason: the fix is recorded and
flagged for the clerk to review, never silently dropped (DingTalk marks such punches invalid with
a reason; ../shared/reference/geofence.md §4).

Signals:

- ``mock``: the phone itself says the position came from a mock provider (Android
  ``Location.isMock()``, iOS ``isSimulatedBySoftware``; can be erased on a rooted phone);
- ``impossible_speed``: between this fix and the phone's neighbouring fixes (in fix-time order),
  ``v = max(0, d - a1 - a2) / dt`` exceeds ``max_speed_mps`` (~55 m/s = 200 km/h): the accuracy
  radii are subtracted so honest jitter never trips it;
- ``repeated_coordinates``: the phone sent exactly the same full-precision coordinates for a
  different fix time within the window (a real receiver never repeats to the last digit);
- ``shared_coordinates``: another phone sent exactly the same full-precision coordinates within
  the window (one fake location shared between workers);
- ``zero_accuracy`` / ``constant_accuracy``: accuracy 0, or the very same accuracy over the last
  N fixes (mock apps tend to send a fixed value).

"Full precision" means at least ``min_decimals`` decimals in either coordinate as sent: an app
that rounds to 5 decimals (~1 m) may honestly repeat a value while standing still, so rounded
coordinates are not compared. Memory is bounded: a ring of ``history`` fixes per phone, at most
``max_phones`` phones (least recently seen forgotten first), and at most ``max_shared`` entries in
the shared-coordinates map.
"""
from __future__ import annotations

import bisect
import math
from collections import OrderedDict
from dataclasses import dataclass, field

from sitegate.geofence.projection import geodesic_distance_m


@dataclass(frozen=True)
class SpoofConfig:
    max_speed_mps: float = 55.0
    history: int = 8                 # fixes kept per phone
    constant_accuracy_n: int = 5     # this many fixes in a row with the same accuracy: flag
    window_s: float = 600.0          # for repeated / shared coordinates
    min_decimals: int = 6
    max_phones: int = 100_000
    max_shared: int = 200_000

    def __post_init__(self) -> None:
        if self.constant_accuracy_n > self.history:
            raise ValueError("SpoofConfig.constant_accuracy_n must be <= history")


@dataclass(frozen=True)
class SpoofFlag:
    code: str      # mock | impossible_speed | repeated_coordinates | shared_coordinates |
    #                zero_accuracy | constant_accuracy
    reason: str

    def to_dict(self) -> dict:
        return {"code": self.code, "reason": self.reason}


@dataclass
class _Sample:
    fix_time: float
    lng: float              # as sent, for exact comparison
    lat: float
    wgs_lng: float          # for distances
    wgs_lat: float
    accuracy_m: float
    speed_flagged: bool = False


@dataclass
class _Phone:
    samples: list[_Sample] = field(default_factory=list)   # fix-time order


def decimals(value: float) -> int:
    """Decimals in the shortest repr of a float (``121.5272106`` -> 7)."""
    text = repr(float(value))
    if "e" in text or "E" in text:
        mantissa, exp = text.lower().split("e")
        frac = mantissa.split(".")[1] if "." in mantissa else ""
        return max(0, len(frac.rstrip("0")) - int(exp))
    frac = text.split(".")[1] if "." in text else ""
    return len(frac.rstrip("0"))


class SpoofDetector:
    """Feed every fix of every phone through :meth:`check`; it returns the flags for that fix."""

    def __init__(self, config: SpoofConfig = SpoofConfig()):
        self.config = config
        self._phones: OrderedDict[str, _Phone] = OrderedDict()
        self._shared: OrderedDict[tuple[float, float], tuple[str, float]] = OrderedDict()

    def check(self, phone_id: str, lng: float, lat: float, accuracy_m: float, fix_time: float, *,
              is_mock: bool = False, wgs: tuple[float, float] | None = None) -> list[SpoofFlag]:
        """Flags for one fix. ``lng``/``lat`` as the phone sent them (any system), ``wgs`` the same
        point in WGS-84 (defaults to lng/lat), ``fix_time`` epoch seconds."""
        cfg = self.config
        wlng, wlat = wgs if wgs is not None else (lng, lat)
        acc = float(accuracy_m) if accuracy_m is not None and math.isfinite(accuracy_m) else 0.0
        flags: list[SpoofFlag] = []
        if is_mock:
            flags.append(SpoofFlag("mock", "the phone reports a mock (simulated) location provider"))
        phone = self._phone(phone_id)
        sample = _Sample(fix_time, lng, lat, wlng, wlat, acc)
        full_precision = max(decimals(lng), decimals(lat)) >= cfg.min_decimals

        speed = self._speed_flag(phone, sample)
        if speed:
            flags.append(speed)
            sample.speed_flagged = True
        if full_precision:
            for old in phone.samples:
                if (old.lng, old.lat) == (lng, lat) and old.fix_time != fix_time \
                        and abs(old.fix_time - fix_time) <= cfg.window_s:
                    flags.append(SpoofFlag("repeated_coordinates",
                                           f"identical coordinates to the last digit as this phone's fix "
                                           f"{abs(fix_time - old.fix_time):.0f} s {'earlier' if old.fix_time < fix_time else 'later'}"))
                    break
            shared = self._shared_flag(phone_id, lng, lat, fix_time)
            if shared:
                flags.append(shared)
        if accuracy_m is not None and accuracy_m == 0:
            flags.append(SpoofFlag("zero_accuracy", "the fix reports accuracy 0 m: no real receiver is exact"))

        times = [s.fix_time for s in phone.samples]
        phone.samples.insert(bisect.bisect_right(times, fix_time), sample)
        del phone.samples[: max(0, len(phone.samples) - cfg.history)]
        constant = self._constant_accuracy_flag(phone)
        if constant and acc != 0 and any(s is sample for s in phone.samples[-cfg.constant_accuracy_n:]):
            flags.append(constant)
        return flags

    def _phone(self, phone_id: str) -> _Phone:
        phone = self._phones.pop(phone_id, None) or _Phone()
        self._phones[phone_id] = phone          # most recently seen last
        while len(self._phones) > self.config.max_phones:
            self._phones.popitem(last=False)
        return phone

    def _speed_flag(self, phone: _Phone, new: _Sample) -> SpoofFlag | None:
        """Compare with the nearest earlier and later fixes that were not themselves flagged."""
        earlier = [s for s in phone.samples if s.fix_time <= new.fix_time and not s.speed_flagged]
        later = [s for s in phone.samples if s.fix_time > new.fix_time and not s.speed_flagged]
        for other in ([earlier[-1]] if earlier else []) + ([later[0]] if later else []):
            d = geodesic_distance_m(other.wgs_lng, other.wgs_lat, new.wgs_lng, new.wgs_lat)
            excess = max(0.0, d - other.accuracy_m - new.accuracy_m)
            dt = abs(new.fix_time - other.fix_time)
            if excess <= 0:
                continue
            v = math.inf if dt == 0 else excess / dt
            if v > self.config.max_speed_mps:
                shown = "instantly" if dt == 0 else f"in {dt:.0f} s ({v:.0f} m/s)"
                return SpoofFlag("impossible_speed",
                                 f"moved {d:.0f} m {shown} from the fix at {other.fix_time:.0f}, "
                                 f"beyond accuracy; limit {self.config.max_speed_mps:g} m/s")
        return None

    def _shared_flag(self, phone_id: str, lng: float, lat: float, fix_time: float) -> SpoofFlag | None:
        key = (lng, lat)
        seen = self._shared.pop(key, None)
        flag = None
        if seen is not None and seen[0] != phone_id and abs(seen[1] - fix_time) <= self.config.window_s:
            flag = SpoofFlag("shared_coordinates",
                             f"identical coordinates to the last digit as phone {seen[0]} "
                             f"{abs(fix_time - seen[1]):.0f} s apart")
        self._shared[key] = (phone_id, fix_time)
        while len(self._shared) > self.config.max_shared:
            self._shared.popitem(last=False)
        return flag

    def _constant_accuracy_flag(self, phone: _Phone) -> SpoofFlag | None:
        n = self.config.constant_accuracy_n
        if n < 2 or len(phone.samples) < n:
            return None
        last = {s.accuracy_m for s in phone.samples[-n:]}
        if len(last) == 1:
            return SpoofFlag("constant_accuracy", f"the same accuracy {next(iter(last)):g} m on the last {n} fixes")
        return None

    @property
    def phones_tracked(self) -> int:
        return len(self._phones)

    @property
    def shared_entries(self) -> int:
        return len(self._shared)
