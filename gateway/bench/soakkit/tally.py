"""The tally: every acknowledged passage against the platform's records and the gateway's store.

The platform keys attendance by (ID number, time to the second, direction); in the soak each
worker passes each direction at most once, so a passage is found by (ID number, direction) and
its time is then compared. docs/soak.md defines each count; in short:

- LOST: acknowledged at a gate, not at the platform, and not waiting visibly in the gateway (no
  dead letter naming it, not still queued). Must be 0.
- dead-lettered: refused by the platform for its content, kept with the reason for the clerk.
- still queued: recorded and waiting when the drain gave up (not lost, not delivered either).
- duplicates at the platform: the same record sent again (the platform keeps one); "explained"
  when its first copy arrived while answers were being dropped or just before a kill.
- extra records: at the platform without an acknowledged passage (the gateway recorded a passage
  it could not confirm to the worker, who then tried again), or a second time for one passage.
- wrong time: the platform's time differs from the passage by more than the lane's tolerance.
"""
from __future__ import annotations

import sqlite3
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from sitegate.bench.soakkit.gatewaydb import GatewayDb
from sitegate.bench.soakkit.truth import DIRECTION_CODES, Passage

TIME_TOLERANCE_S = {"phone": 45.0}     # a phone clock-in is dated by the first fix of its run
DEFAULT_TOLERANCE_S = 5.0
KILL_WINDOW_S = 15.0                   # a batch first sent this long before a kill may be resent


@dataclass
class Missing:
    passage: Passage
    verdict: str                       # lost: never recorded | lost: marked delivered | dead | queued
    detail: str = ""


@dataclass
class SoakResult:
    workers: int = 0
    lanes: list[str] = field(default_factory=list)
    planned: int = 0
    attempts: int = 0
    acknowledged: int = 0
    acknowledged_by_kind: Counter = field(default_factory=Counter)
    not_acknowledged: int = 0
    gave_up_by_kind: Counter = field(default_factory=Counter)
    refusals: Counter = field(default_factory=Counter)
    produced: int = 0                  # records/reads the device simulators made
    gateway_events: int = 0
    gateway_admitted: int = 0
    gateway_denied: int = 0
    platform_records: int = 0          # accepted records at the platform
    platform_duplicates: int = 0
    duplicates_explained: int = 0
    duplicates_unexplained: int = 0
    lost: list[Missing] = field(default_factory=list)
    dead: list[Missing] = field(default_factory=list)
    queued: list[Missing] = field(default_factory=list)
    dead_letter_reasons: Counter = field(default_factory=Counter)
    dead_letters_total: int = 0
    extra_unacknowledged: Counter = field(default_factory=Counter)   # by lane kind
    extra_second_record: Counter = field(default_factory=Counter)
    wrong_time: Counter = field(default_factory=Counter)             # by lane kind
    max_time_error_s: float = 0.0
    wrong_lane: int = 0
    max_backlog: int = 0
    p99_latency_ms: float | None = None
    p50_latency_ms: float | None = None
    latency_samples: int = 0
    p99_latency_all_ms: float | None = None   # also the swipes made while the gateway restarted
    latency_samples_all: int = 0
    peak_rss_mb: float = 0.0
    kills: int = 0
    starts: int = 0
    median_start_s: float = 0.0
    drained: bool = False
    drain_s: float = 0.0
    duration_s: float = 0.0
    faults: list[str] = field(default_factory=list)
    skipped_faults: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    mosquitto: object | None = None     # mosquitto.BridgeResult
    launcher: str = ""
    cpu_harness_s: tuple[float, float] = (0.0, 0.0)     # user, sys: simulators, receiver, tally
    cpu_processes_s: tuple[float, float] = (0.0, 0.0)   # user, sys: gateway processes and brokers

    @property
    def lost_count(self) -> int:
        return len(self.lost)


def platform_records(db_path: Path) -> tuple[dict[tuple[str, str], list[sqlite3.Row]], list[sqlite3.Row]]:
    """(ID number, direction) -> accepted records; and every record with duplicates > 0."""
    conn = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)
    conn.row_factory = sqlite3.Row
    try:
        rows = conn.execute("SELECT r.*, b.created_at AS first_at FROM records r "
                            "LEFT JOIN batches b ON b.serial = r.serial").fetchall()
    finally:
        conn.close()
    by_key: dict[tuple[str, str], list[sqlite3.Row]] = defaultdict(list)
    for r in rows:
        if r["status"] == "accepted":
            by_key[(r["id_card_number"], r["direction"])].append(r)
    return by_key, [r for r in rows if r["duplicates"]]


def _epoch(beijing: str) -> float:
    from sitegate.uplink.national.beijing import parse_beijing_time

    return parse_beijing_time(beijing).timestamp()


def tally(result: SoakResult, passages: list[Passage], platform_db: Path, gw: GatewayDb, *,
          drop_windows: list[tuple[float, float]], kills: list[float]) -> SoakResult:
    acked = [p for p in passages if p.acknowledged]
    result.planned = len(passages)
    result.attempts = sum(p.attempts for p in passages)
    result.acknowledged = len(acked)
    result.acknowledged_by_kind = Counter(p.kind for p in acked)
    result.not_acknowledged = sum(1 for p in passages if not p.acknowledged)
    result.gave_up_by_kind = Counter(f"{p.kind} {p.direction}" for p in passages if not p.acknowledged)

    by_key, dup_rows = platform_records(platform_db)
    result.platform_records = sum(len(v) for v in by_key.values())
    expected: dict[tuple[str, str], Passage] = {}
    for p in acked:
        if p.key in expected:
            result.notes.append(f"passage {p.seq} acknowledged twice for one worker and direction")
        expected[p.key] = p

    by_hash = {p.person.id_hash: p.person for p in passages}
    gw_events = gw.query("SELECT e.event_id, e.id_hash, e.direction, e.outcome, d.state, d.last_error "
                         "FROM events e LEFT JOIN deliveries d USING (event_id)")
    result.gateway_events = len(gw_events)
    result.gateway_admitted = sum(1 for r in gw_events if r["outcome"] == "admitted")
    result.gateway_denied = result.gateway_events - result.gateway_admitted
    states: dict[tuple[str, str], list[sqlite3.Row]] = defaultdict(list)
    for r in gw_events:
        person = by_hash.get(r["id_hash"])
        if person is not None and r["outcome"] == "admitted":
            states[(person.id_number, DIRECTION_CODES.get(r["direction"], r["direction"]))].append(r)
    dead_reasons = {r["event_id"]: r["reason"] for r in gw.query("SELECT event_id, reason FROM dead_letters")}
    result.dead_letters_total = len(dead_reasons)
    result.dead_letter_reasons = Counter(_short(v) for v in dead_reasons.values())

    for key, p in expected.items():
        found = by_key.get(key, [])
        if not found:
            result_list, missing = _classify(p, states.get(key, []), dead_reasons)
            getattr(result, result_list).append(missing)
            continue
        if len(found) > 1:
            result.extra_second_record[p.kind] += len(found) - 1
        best = min(found, key=lambda r: abs(_epoch(r["date"]) - p.at))
        error = abs(_epoch(best["date"]) - p.at)
        result.max_time_error_s = max(result.max_time_error_s, error)
        if error > TIME_TOLERANCE_S.get(p.kind, DEFAULT_TOLERANCE_S):
            result.wrong_time[p.kind] += 1
        if best["channel"] != p.lane:
            result.wrong_lane += 1
    kinds = {p.person.id_number: p.kind for p in passages}
    for key, rows in by_key.items():
        if key not in expected:
            result.extra_unacknowledged[kinds.get(key[0], "unknown worker")] += len(rows)

    result.platform_duplicates = sum(r["duplicates"] for r in dup_rows)
    for r in dup_rows:
        first = r["first_at"] or 0.0
        explained = any(a - 2 <= first <= b + 10 for a, b in drop_windows) or \
            any(k - KILL_WINDOW_S <= first <= k + 1 for k in kills)
        if explained:
            result.duplicates_explained += r["duplicates"]
        else:
            result.duplicates_unexplained += r["duplicates"]
    return result


def _classify(p: Passage, rows: list[sqlite3.Row], dead_reasons: dict[str, str]) -> tuple[str, Missing]:
    if not rows:
        return "lost", Missing(p, "lost: never recorded by the gateway")
    states = Counter(r["state"] for r in rows)
    if states.get("delivered"):
        return "lost", Missing(p, "lost: marked delivered, absent at the platform")
    dead = [r for r in rows if r["state"] == "dead"]
    if dead:
        return "dead", Missing(p, "dead-lettered", dead_reasons.get(dead[0]["event_id"], dead[0]["last_error"]))
    return "queued", Missing(p, "still queued", ", ".join(f"{k} {v}" for k, v in states.items()))


def _short(reason: str) -> str:
    return (reason or "").strip().splitlines()[0][:120] if reason else "(no reason)"
