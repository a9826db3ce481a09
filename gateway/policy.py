"""The gate policy: who is this, and may they pass?

Resolves an observation against the roster cache and decides admit or deny with a reason:
unknown, blacklisted, left the project, ID card or contract expired, anti-passback, and
repeated swipes (a second swipe within ``repeat_window_s`` is the same passage, not a new event).
Pure in-memory work: no I/O, so a decision takes microseconds.
"""
from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import date

from sitegate.buffer.roster import Worker
from sitegate.drivers.api import CredentialKind, Observation
from sitegate.model import ADMIT, DenyReason, Direction, GateDecision, Outcome
from sitegate.roster_cache import RosterCache


# A passage dated this much before the last one seen is history (a device's stored record handed
# over late). Closer than that, clocks of different devices may disagree: arrival order wins.
HISTORY_AFTER_S = 120.0


@dataclass(frozen=True)
class Verdict:
    decision: GateDecision
    worker: Worker | None
    repeat: bool = False          # same passage again: acknowledge, record nothing new
    history: bool = False         # an old passage handed over late: who is inside was not changed


def deny(reason: DenyReason, detail: str = "") -> GateDecision:
    return GateDecision(Outcome.DENIED, reason, detail)


class GatePolicy:
    def __init__(self, roster: RosterCache, *, repeat_window_s: float = 10.0, anti_passback: bool = False,
                 anti_passback_lanes: list[str] | None = None, check_id_card_validity: bool = True,
                 today=date.today):
        self.roster = roster
        self.repeat_window_s = repeat_window_s
        self.anti_passback = anti_passback
        self.anti_passback_lanes = set(anti_passback_lanes or [])
        self.check_id_card_validity = check_id_card_validity
        self._today = today
        self._lock = threading.Lock()
        # worker id -> (direction, monotonic seconds, lane) of the last admitted passage
        self._last: dict[str, tuple[Direction, float, str]] = {}

    @classmethod
    def from_config(cls, roster: RosterCache, gate: dict) -> "GatePolicy":
        return cls(roster, repeat_window_s=gate["repeat_window_s"], anti_passback=gate["anti_passback"],
                   anti_passback_lanes=gate["anti_passback_lanes"],
                   check_id_card_validity=gate["check_id_card_validity"])

    def resolve(self, obs: Observation) -> Worker | None:
        cred = obs.credential
        if cred.kind == CredentialKind.CARD:
            return self.roster.by_card(cred.value)
        if cred.kind == CredentialKind.PIN:
            return self.roster.by_pin(cred.value)
        if cred.kind == CredentialKind.FACE:
            return None
        return self.roster.by_id(cred.value)   # ID_NUMBER, WORKER

    def decide(self, obs: Observation, direction: Direction, *, at_s: float | None = None) -> Verdict:
        """``at_s``: when the passage happened, in seconds of the gateway's monotonic clock
        (``sitegate.passage_time``); default: when the observation was received."""
        worker = self.resolve(obs)
        decision = self._check(obs, worker, direction)
        if obs.device_decision is not None:
            # The device already let them through (or not): record what happened at the gate.
            # Where our policy disagrees, keep both so the clerk sees it (and privileges get re-pushed).
            if obs.device_decision.admitted and not decision.admitted:
                decision = GateDecision(Outcome.ADMITTED, None,
                                        f"device admitted; gateway policy says {decision.reason}")
            elif not obs.device_decision.admitted:
                decision = obs.device_decision
        if not decision.admitted or worker is None:
            return Verdict(decision, worker)
        with self._lock:
            last = self._last.get(worker.id_card_number)
            now = obs.received.mono_ns / 1e9 if at_s is None else at_s
            # abs(): a device's kept record may be older than a passage already seen live
            if last and last[0] == direction and abs(now - last[1]) < self.repeat_window_s:
                return Verdict(decision, worker, repeat=True)
            if last and now < last[1] - HISTORY_AFTER_S:
                # history arriving late (a device's stored records): it neither is refused for
                # anti-passback nor changes who is inside now
                return Verdict(decision, worker, history=True)
            if (self._passback_applies(obs.lane) and last and last[0] == direction
                    and obs.device_decision is None):
                return Verdict(deny(DenyReason.ANTI_PASSBACK, f"already {direction.value} via {last[2] or '?'}"),
                               worker)
            self._last[worker.id_card_number] = (direction, now, obs.lane)
        return Verdict(decision, worker)

    def forget(self, worker_id: str, direction: Direction) -> None:
        """Undo the bookkeeping of a passage that could not be stored."""
        with self._lock:
            last = self._last.get(worker_id)
            if last and last[0] == direction:
                del self._last[worker_id]

    def seed(self, worker_id: str, direction: Direction, mono_s: float, lane: str = "") -> None:
        """Restore who is inside from the store at start (anti-passback survives a restart)."""
        with self._lock:
            self._last[worker_id] = (direction, mono_s, lane)

    def _passback_applies(self, lane: str) -> bool:
        return self.anti_passback and (not self.anti_passback_lanes or lane in self.anti_passback_lanes)

    def _check(self, obs: Observation, worker: Worker | None, direction: Direction) -> GateDecision:
        if worker is None:
            return deny(DenyReason.UNKNOWN, f"{obs.credential.kind.value} not on the roster")
        if worker.blacklisted:
            return deny(DenyReason.BLACKLISTED)
        if worker.status == "left":
            return deny(DenyReason.LEFT_PROJECT)
        today = self._today()
        if worker.valid_to and worker.valid_to < today.isoformat():
            return deny(DenyReason.CONTRACT_EXPIRED, f"valid to {worker.valid_to}")
        if self.check_id_card_validity and obs.identity is not None and obs.identity.expired:
            return deny(DenyReason.ID_CARD_EXPIRED, f"ID card valid to {obs.identity.valid_to}")
        return ADMIT


