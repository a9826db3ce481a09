"""Traffic at the demo's gates: every few seconds a worker passes one of the simulated devices
(ID-card reader, WG turnstile, ZKTeco or Hikvision face terminal), in if outside, out if inside;
now and then a stranger lays an ID card that is not on the roster on the reader (denied, kept for
the clerk, never sent to the platform as attendance).

The simulators are driven through their Python API (``present``, ``swipe``, ``punch``, ``pass_``)
and speak the real wire protocols to the gateway's drivers.
"""
from __future__ import annotations

import logging
import random
import threading
from collections import Counter
from typing import Callable

from sitegate.demo.people import DemoWorker
from sitegate.errors import SitegateError
from sitegate.idcard import check_digit

log = logging.getLogger(__name__)

STRANGER_FIRST17 = "37010219900101123"
STRANGER_RATE = 0.1
CARD_ON_READER_S = 1.5
GATES = ("ga467", "wg", "zk", "hik")


class GateTraffic:
    """``sims``: simulator name (``GATES``) -> started simulator; ``pin_of``: the worker's device
    PIN from the gateway's roster (face terminals know workers by PIN), or None."""

    def __init__(self, sims: dict[str, object], people: list[DemoWorker], pin_of: Callable[[str], int | None],
                 *, rate_s: float = 3.0, seed: int = 7):
        self.sims = {name: sim for name, sim in sims.items() if name in GATES}
        self.people = people
        self.pin_of = pin_of
        self.rate_s = rate_s
        self.rng = random.Random(seed)
        self.inside: set[str] = set()
        self.counts: Counter[str] = Counter()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        if not self.sims:
            return
        self._thread = threading.Thread(target=self._run, name="demo-gate-traffic", daemon=True)
        self._thread.start()
        log.info("demo: gate traffic every ~%.1f s at %s", self.rate_s, ", ".join(sorted(self.sims)))

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None

    def _run(self) -> None:
        # the first round visits every gate once, so each kind of device shows up early
        first_round = list(self.sims)
        self.rng.shuffle(first_round)
        while not self._stop.wait(self.rate_s * (0.5 if first_round else self.rng.uniform(0.5, 1.5))):
            gate = first_round.pop() if first_round else None
            try:
                self.passage(gate)
            except (SitegateError, OSError) as exc:   # a simulator stopping under us; the demo goes on
                log.warning("demo gate traffic: %s", exc)

    def passage(self, gate: str | None = None) -> str:
        """One worker (or a stranger) at ``gate`` (default: a random one); returns the gate used."""
        person = self.rng.choice(self.people)
        going_in = person.id_card_number not in self.inside
        if gate is None:
            # the ID-card reader is an entry lane (direction "in")
            choices = list(self.sims) if going_in else [g for g in self.sims if g != "ga467"] or list(self.sims)
            gate = self.rng.choice(choices)
        if gate == "ga467" and self.rng.random() < STRANGER_RATE:
            self._stranger()
            return gate
        if gate in ("zk", "hik"):
            pin = self.pin_of(person.id_card_number)
            if pin is None:
                return gate
            if gate == "zk":
                self.sims["zk"].punch(str(pin), verify="face", status=0 if going_in else 1)
            else:
                self.sims["hik"].pass_(str(pin), verify="face", status="checkIn" if going_in else "checkOut")
        elif gate == "wg":
            self.sims["wg"].swipe(int(person.card_no), door=1, direction="in" if going_in else "out")
        elif gate == "ga467":
            self._card(person.name, person.id_card_number)
            going_in = True
        self.counts[gate] += 1
        (self.inside.add if going_in else self.inside.discard)(person.id_card_number)
        return gate

    def _card(self, name: str, id_number: str) -> None:
        from sitegate.drivers.ga467_serial.card import card_from_dict

        card = card_from_dict({"name": name, "id_number": id_number, "valid_to": "20351231",
                               "birth": id_number[6:14]})
        self.sims["ga467"].present(card, for_seconds=CARD_ON_READER_S)

    def _stranger(self) -> None:
        self._card("路人甲", STRANGER_FIRST17 + check_digit(STRANGER_FIRST17))
        self.counts["stranger"] += 1
