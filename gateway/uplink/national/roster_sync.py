"""Roster download: the platform's project roster (``ProjectWorker.Query``) into the local roster.

Every row the platform lists is upserted with ``source = "platform"``; what only the site knows
is kept (blacklist, contract end, a card number the platform does not have). Workers who came from
the platform and are no longer on its roster are marked ``left`` — but only when the download was
complete and readable: a page of undecryptable rows, or an empty roster where there were workers,
must not lock a whole site out of its gates. Field names: reference/protocols.md §5.
"""
from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

from sitegate.buffer import Roster, Worker
from sitegate.idcard import normalise
from sitegate.uplink.national.errors import GarbageResponse, PlatformError, TransportError

log = logging.getLogger(__name__)

PAGE_SIZE = 50  # what platforms are used to (reference/protocols.md §5)
ATTEMPTS = 3    # a query is harmless to repeat; nothing is applied before the whole list is in


@dataclass
class RosterSyncReport:
    listed: int = 0          # rows the platform listed
    added: int = 0
    changed: int = 0
    unchanged: int = 0
    removed: int = 0         # marked left
    skipped: int = 0         # rows that could not be read (no ID number, not decryptable)
    removal_held: str = ""   # why nobody was marked left although some seem gone

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    def summary(self) -> str:
        text = (f"{self.listed} worker(s) on the platform roster: {self.added} added, {self.changed} changed, "
                f"{self.unchanged} unchanged, {self.removed} marked left, {self.skipped} row(s) unreadable")
        return f"{text}; {self.removal_held}" if self.removal_held else text


def _team(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().isascii() and value.strip().isdigit():
        return int(value.strip())
    return None


def _text(value: Any) -> str:
    return value.strip() if isinstance(value, str) else ("" if value is None else str(value))


def worker_of(row: dict[str, Any], known: Worker | None) -> Worker | None:
    """The local Worker for a platform row (ID number already decrypted), keeping what only the
    site knows from ``known``; None for a row without an ID number."""
    number = normalise(_text(row.get("idCardNumber")))
    if not number:
        return None
    card = _text(row.get("cardNumber")) or (known.card_no if known else None)
    return Worker(
        id_card_number=number,
        name=_text(row.get("workerName")) or (known.name if known else ""),
        id_card_type=_text(row.get("idCardType")) or "01",
        team_sys_no=_team(row.get("teamSysNo")),
        team_name=_text(row.get("teamName")),
        work_type=_text(row.get("workType")),
        card_no=card or None,
        valid_to=known.valid_to if known else None,
        blacklisted=known.blacklisted if known else False,
        status="active",
        source="platform",
    )


def _download(client, project_code: str, page_size: int, progress: Callable[[int], None] | None,
              sleep: Callable[[float], None] = time.sleep) -> list[dict[str, Any]]:
    """Every row, or the client's error after ATTEMPTS tries of the whole list (a lost answer, a
    garbage page or -5 is tried again; a configuration fault is not)."""
    for attempt in range(ATTEMPTS):
        rows: list[dict[str, Any]] = []
        try:
            for row in client.project_workers(project_code, page_size):
                rows.append(row)
                if progress is not None:
                    progress(1)
            return rows
        except (TransportError, GarbageResponse, PlatformError) as exc:
            if attempt == ATTEMPTS - 1 or not getattr(exc, "retryable", True):
                raise
            log.warning("roster download failed (%s); trying again", exc)
            sleep(2.0 ** attempt)
    raise AssertionError("unreachable")


def sync_roster(client, store, project_code: str, *, progress: Callable[[int], None] | None = None,
                page_size: int = PAGE_SIZE) -> RosterSyncReport:
    """Download and apply the roster; raises the client's errors (nothing is changed then)."""
    roster = Roster(store)
    local = {w.id_card_number: w for w in roster.all()}
    report = RosterSyncReport()
    unreadable_before = client.counters["bad_roster_row"]
    incoming: dict[str, Worker] = {}
    for row in _download(client, project_code, page_size, progress):
        report.listed += 1
        worker = worker_of(row, local.get(normalise(_text(row.get("idCardNumber")))))
        if worker is None:
            report.skipped += 1
        else:
            incoming[worker.id_card_number] = worker
    unreadable = client.counters["bad_roster_row"] - unreadable_before
    report.skipped += unreadable
    report.listed += unreadable
    if incoming:
        counts = roster.upsert_many(list(incoming.values()))
        report.added, report.changed, report.unchanged = counts["added"], counts["changed"], counts["unchanged"]
    gone = [n for n, w in local.items() if w.source == "platform" and w.status == "active" and n not in incoming]
    if gone and report.skipped:
        report.removal_held = (f"{len(gone)} worker(s) not listed were NOT marked left: {report.skipped} row(s) "
                               "could not be read, so the list may be incomplete")
    elif gone and not incoming:
        report.removal_held = (f"the platform listed nobody; {len(gone)} worker(s) were NOT marked left "
                               "(check site.project_code)")
    elif gone:
        report.removed = roster.mark_left(gone)
    if report.removal_held:
        log.warning("roster sync: %s", report.removal_held)
    store.audit("platform", "roster.sync", project_code, json.dumps(report.as_dict(), ensure_ascii=False))
    log.info("roster sync: %s", report.summary())
    return report
