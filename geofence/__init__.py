"""Geofence clock-ins from workers' phones: is this worker on site?

Modules, in the order a clock-in goes through them:

- :mod:`.clockin` -- the signed request from the phone: ``parse_and_verify``, ``sign_request``;
  :mod:`.guards` (nonce cache, rate limiter) and :mod:`.phonekeys` (key material) beside it;
- :mod:`.coords` -- WGS-84 / GCJ-02 / BD-09 (WGS-84 inside, converted at the edges);
- :mod:`.fences` -- polygon, circle and corridor fences from ``[[geofences]]`` config, signed
  distances in metres (:mod:`.projection`, :mod:`.fence_schema`);
- :mod:`.decision` -- IN / OUT / UNCERTAIN from distance and accuracy;
  :mod:`.hysteresis` -- clock-in/clock-out per (worker, fence), late fixes in time order;
- :mod:`.spoof` -- spoofing signals, each a flag with a reason for the clerk;
- :mod:`.engine` -- all of the above for one verified clock-in.

Sources: ../shared/reference/geofence.md (formulas, constants, vectors, rules).
"""
