"""The phone simulator: a worker's phone walking a path and sending signed geofence clock-ins
(``sitegate sim phone``). The clock-in request format is defined in
:mod:`sitegate.geofence.clockin`."""
