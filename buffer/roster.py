"""The local roster cache: who may enter, looked up by ID number, card number or device PIN.

ID numbers and names are encrypted; look-ups by ID number go through the blind index.
"""
from __future__ import annotations

import sqlite3
import time
from dataclasses import dataclass, field

from sitegate.idcard import mask, normalise

PIN_START = 1001


@dataclass
class Worker:
    id_card_number: str
    name: str
    id_card_type: str = "01"
    team_sys_no: int | None = None
    team_name: str = ""
    work_type: str = ""
    card_no: str | None = None
    valid_to: str | None = None        # YYYY-MM-DD
    blacklisted: bool = False
    status: str = "active"             # active | left
    pin: int | None = None
    source: str = "csv"
    updated_ts: float = field(default=0.0, compare=False)

    @property
    def masked_id(self) -> str:
        return mask(self.id_card_number)

    def public_dict(self) -> dict:
        """For lists and JSON output: the ID number masked."""
        return {
            "id_card_number": self.masked_id, "name": self.name, "id_card_type": self.id_card_type,
            "team_sys_no": self.team_sys_no, "team_name": self.team_name, "work_type": self.work_type,
            "card_no": self.card_no, "valid_to": self.valid_to, "blacklisted": self.blacklisted,
            "status": self.status, "pin": self.pin,
        }


_FIELDS = ("team_sys_no", "team_name", "work_type", "card_no", "valid_to", "blacklisted", "status", "source")


class Roster:
    def __init__(self, store):
        self.store = store
        self.cipher = store.cipher

    def _row_to_worker(self, r: sqlite3.Row) -> Worker:
        return Worker(
            id_card_number=self.cipher.decrypt_text(r["id_enc"]),
            name=self.cipher.decrypt_text(r["name_enc"]),
            id_card_type=r["id_card_type"], team_sys_no=r["team_sys_no"], team_name=r["team_name"],
            work_type=r["work_type"], card_no=r["card_no"], valid_to=r["valid_to"],
            blacklisted=bool(r["blacklisted"]), status=r["status"], pin=r["pin"], source=r["source"],
            updated_ts=r["updated_ts"],
        )

    # -- reads -------------------------------------------------------------------------------
    def get(self, id_card_number: str) -> Worker | None:
        rows = self.store.query("SELECT * FROM workers WHERE id_hash = ?", (self.cipher.index(normalise(id_card_number)),))
        return self._row_to_worker(rows[0]) if rows else None

    def by_card(self, card_no: str) -> Worker | None:
        rows = self.store.query("SELECT * FROM workers WHERE card_no = ? ORDER BY status = 'active' DESC LIMIT 1",
                                (str(card_no),))
        return self._row_to_worker(rows[0]) if rows else None

    def by_pin(self, pin: int) -> Worker | None:
        rows = self.store.query("SELECT * FROM workers WHERE pin = ?", (int(pin),))
        return self._row_to_worker(rows[0]) if rows else None

    def all(self, *, include_left: bool = True) -> list[Worker]:
        sql = "SELECT * FROM workers" + ("" if include_left else " WHERE status = 'active'") + " ORDER BY pin"
        return [self._row_to_worker(r) for r in self.store.query(sql)]

    def count(self) -> int:
        return self.store.query("SELECT count(*) FROM workers WHERE status = 'active'")[0][0]

    # -- writes ------------------------------------------------------------------------------
    def upsert_many(self, workers: list[Worker]) -> dict[str, int]:
        """Insert or update; returns counts of added / changed / unchanged."""
        prepared = []
        for w in workers:
            idn = normalise(w.id_card_number)
            prepared.append((self.cipher.index(idn), idn, w))
        cipher = self.cipher

        def job(conn: sqlite3.Connection) -> dict[str, int]:
            now = time.time()
            added = changed = same = 0
            next_pin = (conn.execute("SELECT max(pin) FROM workers").fetchone()[0] or PIN_START - 1) + 1
            for h, idn, w in prepared:
                old = conn.execute("SELECT * FROM workers WHERE id_hash = ?", (h,)).fetchone()
                values = (w.team_sys_no, w.team_name, w.work_type, w.card_no or None, w.valid_to,
                          int(w.blacklisted), w.status, w.source)
                if old is None:
                    conn.execute(
                        f"INSERT INTO workers(id_hash, id_enc, id_masked, id_card_type, name_enc, {', '.join(_FIELDS)}, "
                        "pin, created_ts, updated_ts) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                        (h, cipher.encrypt(idn), mask(idn), w.id_card_type, cipher.encrypt(w.name), *values,
                         next_pin, now, now))
                    next_pin += 1
                    added += 1
                    continue
                old_name = cipher.decrypt_text(old["name_enc"])
                old_values = tuple(old[f] for f in _FIELDS)
                if old_name == w.name and old_values == values and old["id_card_type"] == w.id_card_type:
                    same += 1
                    continue
                conn.execute(
                    f"UPDATE workers SET name_enc = ?, id_card_type = ?, {', '.join(f + ' = ?' for f in _FIELDS)}, "
                    "updated_ts = ? WHERE id_hash = ?",
                    (cipher.encrypt(w.name), w.id_card_type, *values, now, h))
                changed += 1
            return {"added": added, "changed": changed, "unchanged": same}

        return self.store.write(job)

    def mark_left(self, id_card_numbers: list[str]) -> int:
        hashes = [self.cipher.index(normalise(n)) for n in id_card_numbers]

        def job(conn: sqlite3.Connection) -> int:
            now = time.time()
            return sum(conn.execute("UPDATE workers SET status = 'left', updated_ts = ? WHERE id_hash = ? "
                                    "AND status != 'left'", (now, h)).rowcount for h in hashes)

        return self.store.write(job)
