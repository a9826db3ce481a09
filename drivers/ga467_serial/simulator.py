"""``sitegate sim ga467``: an ID-card reader on a pseudo-terminal, speaking the real serial protocol.

The simulator opens a pty pair and links the slave at ``--link PATH``, so sitegate (or any
vendor tool) opens it like ``/dev/ttyUSB0``. Cards come from the command line or a JSON file;
the simulator encodes their text block itself (``textblock.encode_text_block``). Faults on
demand: garbage before a reply, a bad checksum, no answer at all, and "unplug" (the pty closes and
the link disappears, then both come back).

Python API for tests and the demo::

    sim = Ga467Simulator("/tmp/idreader")
    sim.start(); sim.present(card); …; sim.remove(); sim.unplug(); sim.replug(); sim.stop()
"""
from __future__ import annotations

import argparse
import json
import logging
import os
import queue
import random
import select
import threading
import time
import tty
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from sitegate.drivers.simcli import rate
from sitegate.errors import SitegateError, UsageError

from .card import IdCard, card_from_dict
from .codec import Command, Frame, FrameParser, decode_request
from .device import SimulatedReader

log = logging.getLogger(__name__)

SIM_NAME = "ga467"
FAULTS = ("garbage", "bad_checksum", "no_answer")
_TICK = 0.05  # how often the serve loop looks at its schedule and commands


@dataclass
class ScheduledCard:
    """One step of a presentation schedule: the card lies on the reader, then is taken away."""

    card: IdCard
    present_for: float = 3.0
    absent_for: float = 2.0
    appended_address: str | None = None


class Ga467Simulator:
    def __init__(
        self,
        link_path: str | os.PathLike,
        cards: Iterable[IdCard | ScheduledCard] = (),
        *,
        repeat: bool = True,
        garbage_rate: float = 0.0,
        bad_checksum_rate: float = 0.0,
        timeout_rate: float = 0.0,
        seed: int | None = None,
    ):
        self.link = Path(link_path)
        self.schedule = [c if isinstance(c, ScheduledCard) else ScheduledCard(c) for c in cards]
        self.repeat = repeat
        self.rates = {"garbage": garbage_rate, "bad_checksum": bad_checksum_rate, "no_answer": timeout_rate}
        for name, rate in self.rates.items():
            if not 0.0 <= rate <= 1.0:
                raise UsageError(f"{name} rate must be between 0 and 1, got {rate}")
        self.counters: Counter = Counter()
        self.device = SimulatedReader()
        self._rng = random.Random(seed)
        self._lock = threading.Lock()  # guards device, injected faults, schedule position
        self._injected: list[str] = []
        self._commands: queue.SimpleQueue = queue.SimpleQueue()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._master: int | None = None
        self._slave: int | None = None
        self.pty_name: str | None = None
        self._parser = FrameParser()
        self._remove_at: float | None = None
        self._step = 0
        self._next_step_at = 0.0

    # -- lifecycle ----------------------------------------------------------------------------
    def start(self) -> Ga467Simulator:
        if self._thread is not None:
            raise SitegateError("simulator already started")
        self._open_pty()
        self._stop.clear()
        self._next_step_at = time.monotonic()
        self._thread = threading.Thread(target=self._serve, name=f"sim-ga467 {self.link}", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        thread, self._thread = self._thread, None
        self._stop.set()
        if thread is not None:
            thread.join(timeout=5)
        self._close_pty()

    def __enter__(self) -> Ga467Simulator:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def unplug(self) -> None:
        """Like pulling the USB cable: the pty closes (the client's reads fail), the link goes."""
        self._in_thread(self._close_pty)
        self.counters["unplugs"] += 1

    def replug(self) -> None:
        """The device comes back: a new pty behind the same link path."""
        self._in_thread(self._open_pty)
        self.counters["replugs"] += 1

    @property
    def plugged(self) -> bool:
        return self._master is not None

    # -- what lies on the reader ----------------------------------------------------------------
    def present(self, card: IdCard, for_seconds: float | None = None, appended_address: str | None = None) -> None:
        with self._lock:
            self.device.present(card, appended_address)
            self._remove_at = None if for_seconds is None else time.monotonic() + for_seconds
            self.counters["presentations"] += 1

    def remove(self) -> None:
        with self._lock:
            self.device.remove()
            self._remove_at = None

    def fail_next(self, command: Command, sw3: int, count: int = 1) -> None:
        """The reader answers the next ``count`` ``command`` requests with SW3 ``sw3``."""
        with self._lock:
            self.device.fail_next(command, sw3, count)

    def inject(self, fault: str, count: int = 1) -> None:
        """Apply ``fault`` ('garbage', 'bad_checksum', 'no_answer') to the next ``count`` replies."""
        if fault not in FAULTS:
            raise UsageError(f"unknown fault {fault!r}; choose from {', '.join(FAULTS)}")
        with self._lock:
            self._injected += [fault] * count

    # -- the serve thread -------------------------------------------------------------------------
    def _in_thread(self, fn: Callable[[], None]) -> None:
        # The serve thread owns the pty descriptors: closing them under its select() would race.
        if self._thread is None or not self._thread.is_alive():
            fn()
            return
        done, failure = threading.Event(), []
        self._commands.put((fn, done, failure))
        if not done.wait(timeout=5):
            raise SitegateError("simulator thread did not answer")
        if failure:
            raise failure[0]

    def _serve(self) -> None:
        while not self._stop.is_set():
            self._run_commands()
            self._run_schedule(time.monotonic())
            master = self._master
            if master is None:
                self._stop.wait(_TICK)
                continue
            ready, _, _ = select.select([master], [], [], _TICK)
            if not ready:
                continue
            try:
                data = os.read(master, 4096)
            except OSError as exc:
                log.warning("ga467 simulator: pty read failed: %s", exc)
                self._stop.wait(_TICK)
                continue
            for item in self._parser.feed(data):
                self._handle(item)

    def _run_commands(self) -> None:
        while True:
            try:
                fn, done, failure = self._commands.get_nowait()
            except queue.Empty:
                return
            try:
                fn()
            except SitegateError as exc:  # handed to the caller's thread; this one keeps serving
                failure.append(exc)
            finally:
                done.set()

    def _handle(self, item) -> None:
        with self._lock:
            if isinstance(item, Frame):  # LEN >= 3 guarantees CMD and PARA
                self.counters["requests"] += 1
                reply = self.device.answer(decode_request(item))
            else:
                self.counters[f"bad_requests_{item.kind}"] += 1
                reply = self.device.answer_error(item)
            fault = self._fault()
        if reply is not None:
            self._send(reply, fault)

    def _fault(self) -> str | None:
        if self._injected:
            return self._injected.pop(0)
        for name, rate in self.rates.items():
            if rate and self._rng.random() < rate:
                return name
        return None

    def _send(self, reply: bytes, fault: str | None) -> None:
        if fault:
            self.counters[f"injected_{fault}"] += 1
        if fault == "no_answer":
            return
        if fault == "garbage":
            # No 0xAA, so the garbage can never look like a preamble.
            junk = bytes(b if b != 0xAA else 0x55 for b in self._rng.randbytes(self._rng.randint(1, 32)))
            reply = junk + reply
        elif fault == "bad_checksum":
            reply = reply[:-1] + bytes((reply[-1] ^ 0xFF,))
        self._write(reply)
        self.counters["replies"] += 1

    def _write(self, data: bytes) -> None:
        view = memoryview(data)
        while view and not self._stop.is_set() and self._master is not None:
            _, ready, _ = select.select([], [self._master], [], _TICK)
            if not ready:
                continue
            try:
                view = view[os.write(self._master, view):]
            except BlockingIOError:
                continue
            except OSError as exc:
                log.warning("ga467 simulator: pty write failed: %s", exc)
                return

    def _run_schedule(self, now: float) -> None:
        with self._lock:
            if self._remove_at is not None and now >= self._remove_at:
                self.device.remove()
                self._remove_at = None
            if not self.schedule or now < self._next_step_at:
                return
            if self._step >= len(self.schedule):
                if not self.repeat:
                    return
                self._step = 0
            entry = self.schedule[self._step]
            self._step += 1
            self.device.present(entry.card, entry.appended_address)
            self._remove_at = now + entry.present_for
            self._next_step_at = now + entry.present_for + entry.absent_for
            self.counters["presentations"] += 1

    # -- the pseudo-terminal ----------------------------------------------------------------------
    def _open_pty(self) -> None:
        if self._master is not None:
            return
        if os.path.lexists(self.link) and not os.path.islink(self.link):
            # Never replace a real file or device node (think --link /dev/ttyUSB0).
            raise SitegateError(f"{self.link} exists and is not a symlink; refusing to replace it")
        master, slave = os.openpty()
        try:
            tty.setraw(slave)  # no echo, no line discipline: bytes pass unchanged both ways
            os.set_blocking(master, False)
            name = os.ttyname(slave)
            self.link.parent.mkdir(parents=True, exist_ok=True)
            tmp = self.link.with_name(f".{self.link.name}.{os.getpid()}.tmp")
            tmp.unlink(missing_ok=True)
            os.symlink(name, tmp)
            os.replace(tmp, self.link)  # atomic: a client never sees a half-made link
        except OSError as exc:
            os.close(master)
            os.close(slave)
            raise SitegateError(f"cannot link {self.link} to a pseudo-terminal: {exc}") from None
        self._master, self._slave, self.pty_name = master, slave, name
        self._parser.reset()
        log.info("ga467 simulator: %s -> %s", self.link, self.pty_name)

    def _close_pty(self) -> None:
        master, slave = self._master, self._slave
        self._master = self._slave = None
        try:
            if self.pty_name and os.readlink(self.link) == self.pty_name:
                self.link.unlink()
        except OSError:
            pass
        for fd in (master, slave):
            if fd is not None:
                os.close(fd)


# -- command line -----------------------------------------------------------------------------
def add_arguments(p: argparse.ArgumentParser) -> None:
    p.description = "An ID-card reader (SAM module, GA 467 frames) on a pseudo-terminal."
    p.add_argument("--link", required=True, metavar="PATH", help="symlink to create for the pty (open it like /dev/ttyUSB0)")
    cards = p.add_mutually_exclusive_group()
    cards.add_argument("--card", metavar="JSON", help="one card as a JSON object of identity fields")
    cards.add_argument("--cards", metavar="FILE", help="JSON list of cards, each optionally with present_for/absent_for seconds")
    p.add_argument("--present-for", type=float, default=3.0, metavar="S", help="default seconds a card lies on the reader (%(default)s)")
    p.add_argument("--absent-for", type=float, default=2.0, metavar="S", help="default seconds between cards (%(default)s)")
    p.add_argument("--once", action="store_true", help="go through the cards once instead of cycling")
    p.add_argument("--garbage-rate", type=rate, default=0.0, metavar="R", help="share of replies preceded by garbage bytes")
    p.add_argument("--bad-checksum-rate", type=rate, default=0.0, metavar="R", help="share of replies with a wrong checksum")
    p.add_argument("--timeout-rate", type=rate, default=0.0, metavar="R", help="share of requests left unanswered")
    p.add_argument("--unplug-after", type=float, metavar="S", help="unplug the reader after S seconds (once)")
    p.add_argument("--down-for", type=float, default=3.0, metavar="S", help="how long it stays unplugged (%(default)s)")
    p.add_argument("--seed", type=int, help="random seed for the fault injection")


_SCHEDULE_KEYS = {"present_for", "absent_for", "appended_address"}


def load_cards(args: argparse.Namespace) -> list[ScheduledCard]:
    """The schedule from --card / --cards; UsageError names the file and the bad entry."""
    if args.card:
        source, entries = "--card", [_json(args.card, "--card")]
    elif args.cards:
        try:
            text = Path(args.cards).read_text(encoding="utf-8-sig")
        except OSError as exc:
            raise UsageError(f"--cards {args.cards}: {exc.strerror}") from None
        source, entries = args.cards, _json(text, args.cards)
        if not isinstance(entries, list):
            raise UsageError(f"{args.cards}: expected a JSON list of cards")
    else:
        return []
    out = []
    for n, entry in enumerate(entries, start=1):
        if not isinstance(entry, dict):
            raise UsageError(f"{source}: card {n}: expected a JSON object")
        fields = {k: v for k, v in entry.items() if k not in _SCHEDULE_KEYS}
        try:
            card = card_from_dict(fields)
            present_for = float(entry.get("present_for", args.present_for))
            absent_for = float(entry.get("absent_for", args.absent_for))
        except (UsageError, TypeError, ValueError) as exc:
            raise UsageError(f"{source}: card {n}: {exc}") from None
        out.append(ScheduledCard(card, present_for, absent_for, entry.get("appended_address")))
    return out


def _json(text: str, source: str):
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise UsageError(f"{source}:{exc.lineno}: not valid JSON: {exc.msg}") from None


def main(args: argparse.Namespace) -> int:
    """Run until interrupted (``sitegate sim`` turns SIGTERM into KeyboardInterrupt)."""
    schedule = load_cards(args)
    sim = Ga467Simulator(args.link, schedule, repeat=not args.once, garbage_rate=args.garbage_rate,
                         bad_checksum_rate=args.bad_checksum_rate, timeout_rate=args.timeout_rate, seed=args.seed)
    sim.start()
    try:
        print(f"ga467 simulator: {sim.link} -> {sim.pty_name}, {len(schedule)} card(s)", flush=True)
        if args.unplug_after is not None:
            time.sleep(args.unplug_after)
            sim.unplug()
            print(f"ga467 simulator: unplugged for {args.down_for} s", flush=True)
            time.sleep(args.down_for)
            sim.replug()
            print(f"ga467 simulator: back on {sim.link} -> {sim.pty_name}", flush=True)
        while True:
            time.sleep(3600)
    finally:
        sim.stop()
