"""The one road: Observation -> policy -> AttendanceEvent on disk -> Outcome back to the driver.

``Pipeline.emit`` runs in the driver's own thread. It returns only after the event is durable, so
whatever the driver then tells the device (OK, open, deny) never gets ahead of the disk. A device
resending a record it already delivered (same ``source_key``) gets the first outcome back and no
second event.
"""
from __future__ import annotations

import logging
import sqlite3
import time
from collections import Counter

from sitegate.drivers.api import CredentialKind, Observation, Outcome
from sitegate.ids import uuid7
from sitegate.idcard import mask
from sitegate.model import (
    AttendanceEvent, DenyReason, Direction, EventTime, GateDecision, Method, Outcome as Decided, Source, WorkerRef,
)
from sitegate.passage_time import PassageTime, passage_time
from sitegate.policy import GatePolicy

log = logging.getLogger(__name__)


class Pipeline:
    def __init__(self, store, policy: GatePolicy, *, devices: dict[str, dict], metrics=None):
        self.store = store
        self.policy = policy
        self.devices = devices                # device id -> its [[devices]] table
        self.metrics = metrics
        self.counts: Counter = Counter()      # decisions by (method, outcome, reason)
        self.latency_ns: list[int] = []       # observation received -> durable, last 10,000

    def direction_of(self, obs: Observation) -> Direction:
        if obs.direction is not None:
            return obs.direction
        configured = self.devices.get(obs.device_id, {}).get("direction", "in")
        return Direction.OUT if configured == "out" else Direction.IN

    def emit(self, obs: Observation) -> Outcome:
        if obs.source_key is not None:
            seen = self._already_recorded(obs)
            if seen is not None:
                return seen
        direction = self.direction_of(obs)
        when = passage_time(obs.received, obs.device_time)
        verdict = self.policy.decide(obs, direction, at_s=when.mono_s)
        if verdict.repeat:
            self._count(obs, verdict.decision, "repeat")
            return Outcome(verdict.decision, None, verdict.worker)
        event = self._event(obs, direction, verdict, when)
        try:
            self.store.append(event, photo=obs.photo)
        except sqlite3.IntegrityError:
            # the same source_key raced in from a resend on another connection
            seen = self._already_recorded(obs)
            if seen is not None:
                return seen
            raise
        except Exception:
            if verdict.worker is not None and verdict.decision.admitted and not verdict.history:
                self.policy.forget(verdict.worker.id_card_number, direction)
            raise
        self._count(obs, verdict.decision)
        # received.mono_ns is CLOCK_BOOTTIME (sitegate.clock); an injected test clock gives nonsense: skip it
        # geofence clock-ins are dated by the first fix of their run: not a gate latency
        lat = time.clock_gettime_ns(time.CLOCK_BOOTTIME) - obs.received.mono_ns
        if obs.method != Method.GEOFENCE and 0 <= lat < 60_000_000_000:
            self.latency_ns.append(lat)
            if len(self.latency_ns) > 10_000:
                del self.latency_ns[:5_000]
        return Outcome(verdict.decision, event.event_id, verdict.worker)

    def _already_recorded(self, obs: Observation) -> Outcome | None:
        rows = self.store.query(
            "SELECT event_id, outcome, deny_reason, decision_detail FROM events WHERE device_id = ? AND source_key = ?",
            (obs.device_id, obs.source_key))
        if not rows:
            return None
        r = rows[0]
        decision = GateDecision(Decided(r["outcome"]), DenyReason(r["deny_reason"]) if r["deny_reason"] else None,
                                r["decision_detail"])
        self.counts["duplicate", obs.device_id] += 1
        return Outcome(decision, r["event_id"], None, duplicate=True)

    def _event(self, obs: Observation, direction: Direction, verdict, when: PassageTime) -> AttendanceEvent:
        w = verdict.worker
        if w is not None:
            worker = WorkerRef(id_card_number=w.id_card_number, id_card_type=w.id_card_type, name=w.name,
                               team_sys_no=w.team_sys_no, team_name=w.team_name)
        elif obs.identity is not None:   # an unknown person's own ID card: keep who it was (encrypted)
            worker = WorkerRef(id_card_number=obs.identity.id_number, id_card_type=obs.identity.id_card_type,
                               name=obs.identity.name)
        elif obs.credential.kind in (CredentialKind.ID_NUMBER, CredentialKind.WORKER):
            worker = WorkerRef(id_card_number=obs.credential.value)
        else:
            worker = WorkerRef()
        extra = dict(obs.extra)
        if obs.credential.kind in (CredentialKind.CARD, CredentialKind.PIN):
            extra.setdefault("credential", f"{obs.credential.kind.value}:{obs.credential.value}")
        st = obs.received
        if when.wall != st.wall:
            extra["received_at"] = st.wall.isoformat()   # dated by the device: keep when we heard of it
        if when.distrust:
            extra["device_time"] = obs.device_time.isoformat()
            extra["device_time_unused"] = when.distrust
            self.counts["device_time_unused", obs.device_id] += 1
        dev = self.devices.get(obs.device_id, {})
        return AttendanceEvent(
            event_id=str(uuid7(int(when.wall.timestamp() * 1e9))),
            worker=worker,
            direction=direction,
            method=obs.method,
            source=Source(device_id=obs.device_id, lane=obs.lane or dev.get("lane", ""), driver=dev.get("driver", "")),
            # mono_ns/boot_id stay the receipt's: with an unsynced clock the wall is corrected from them
            time=EventTime(wall=when.wall, mono_ns=st.mono_ns, boot_id=st.boot_id, synced=when.synced,
                           device_time=obs.device_time),
            decision=verdict.decision,
            location=obs.location,
            extra=extra,
            source_key=obs.source_key,
        )

    def _count(self, obs: Observation, decision: GateDecision, kind: str = "event") -> None:
        reason = decision.reason.value if decision.reason else ""
        self.counts[kind, obs.method.value, decision.outcome.value, reason] += 1
        if self.metrics is not None:
            self.metrics.decision(obs.method.value, decision.outcome.value, reason, repeat=kind == "repeat")
        if not decision.admitted:
            who = mask(obs.credential.value) if obs.credential.kind in (CredentialKind.ID_NUMBER, CredentialKind.WORKER) \
                else f"{obs.credential.kind.value} {obs.credential.value}"
            log.info("denied %s at %s: %s %s", who, obs.device_id, reason, decision.detail)
