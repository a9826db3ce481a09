"""``sitegate sim wg``: a WG access controller on a real UDP socket (default 127.0.0.1:60000).

Python API for tests and the demo::

    sim = WgSimulator(223000123).start()       # ephemeral port: sim.address
    sim.swipe(3659533, door=1, direction="in")  # decided from the privilege table; pushed if 0x90 set
    sim.opens                                   # remote opens (0x40) received
    sim.drop_next(2); sim.garbage_next(1)       # faults on the next replies
    sim.stop()
"""
from __future__ import annotations

import argparse
import logging
import random
import socket
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime

from sitegate.drivers.simcli import rate, replay_forever
from sitegate.errors import SitegateError, UsageError

from .codec import DEFAULT_PORT
from .controller import DEFAULT_CAPACITY, RemoteOpen, WgController
from .messages import Privilege, PushTarget, Record

log = logging.getLogger(__name__)

SIM_NAME = "wg"
_TICK = 0.05


class WgSimulator:
    def __init__(self, serial: int, host: str = "127.0.0.1", port: int = 0, *, capacity: int = DEFAULT_CAPACITY,
                 push: tuple[str, int] | None = None, push_interval: int = 0, drop_rate: float = 0.0,
                 garbage_rate: float = 0.0, seed: int | None = None, clock: Callable[[], datetime] = datetime.now,
                 on_open: Callable[[RemoteOpen], None] | None = None):
        for name, rate in (("drop", drop_rate), ("garbage", garbage_rate)):
            if not 0.0 <= rate <= 1.0:
                raise UsageError(f"{name} rate must be between 0 and 1, got {rate}")
        self.controller = WgController(serial, capacity=capacity, clock=clock)
        self.controller.on_open = on_open  # see WgController.on_open
        if push is not None:
            self.controller.push_target = PushTarget(push[0], push[1], push_interval)
        self.host, self.port = host, port
        self.drop_rate, self.garbage_rate = drop_rate, garbage_rate
        self.counters: Counter = Counter()
        self._rng = random.Random(seed)
        self._lock = threading.Lock()  # guards the controller and the fault counters
        self._drop_next = 0
        self._garbage_next = 0
        self._stop = threading.Event()
        self._sock: socket.socket | None = None
        self._thread: threading.Thread | None = None
        self._next_push = 0.0

    # -- lifecycle ----------------------------------------------------------------------------------
    def start(self) -> WgSimulator:
        if self._thread is not None:
            raise SitegateError("simulator already started")
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            sock.bind((self.host, self.port))
        except OSError as exc:
            sock.close()
            raise SitegateError(f"wg simulator cannot listen on {self.host}:{self.port}: {exc.strerror}") from None
        sock.settimeout(_TICK)
        self._sock = sock
        # Discover (0x94) answers with the address actually bound.
        self.controller.info = replace(self.controller.info, ip=sock.getsockname()[0])
        self._stop.clear()
        self._thread = threading.Thread(target=self._serve, name=f"sim-wg {self.controller.serial}", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        thread, self._thread = self._thread, None
        self._stop.set()
        if thread is not None:
            thread.join(timeout=5)
        if self._sock is not None:
            self._sock.close()
            self._sock = None

    def __enter__(self) -> WgSimulator:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    @property
    def address(self) -> tuple[str, int]:
        if self._sock is None:
            raise SitegateError("simulator not started")
        return self._sock.getsockname()

    @property
    def serial(self) -> int:
        return self.controller.serial

    # -- what happens at the doors ------------------------------------------------------------------
    def swipe(self, card: int, door: int = 1, direction: str = "in") -> Record:
        """A card at the reader of ``door``; the record is stored and pushed (if a target is set)."""
        with self._lock:
            record = self.controller.swipe(card, door, direction)
            packet, target = self.controller.status_packet(), self.controller.push_target
        self._push(packet, target)
        return record

    def allow(self, card: int, doors: tuple[bool, bool, bool, bool] = (True, True, True, True)) -> None:
        """Store a privilege directly (as if 0x50 had been sent), without dates."""
        with self._lock:
            self.controller.privileges[card] = Privilege(card, doors=doors)

    def push_status(self) -> bool:
        """Push the current status now (what the interval timer does); False without a target."""
        with self._lock:
            packet, target = self.controller.status_packet(), self.controller.push_target
        return self._push(packet, target)

    @property
    def opens(self) -> list[RemoteOpen]:
        with self._lock:
            return list(self.controller.opens)

    # -- faults -------------------------------------------------------------------------------------
    def drop_next(self, count: int = 1) -> None:
        """Do not answer the next ``count`` requests (the client must retry)."""
        with self._lock:
            self._drop_next += count

    def garbage_next(self, count: int = 1) -> None:
        """Send a garbage datagram before each of the next ``count`` replies."""
        with self._lock:
            self._garbage_next += count

    # -- the serve thread ---------------------------------------------------------------------------
    def _serve(self) -> None:
        sock = self._sock
        assert sock is not None
        while not self._stop.is_set():
            self._interval_push(time.monotonic())
            try:
                data, peer = sock.recvfrom(2048)
            except TimeoutError:
                continue
            except OSError as exc:
                if self._stop.is_set():
                    break
                log.warning("wg simulator: receive failed: %s", exc)
                continue
            with self._lock:
                try:
                    reply = self.controller.handle(data)
                except Exception:  # a simulator bug must not silence the controller
                    log.exception("wg simulator: request %s failed", data[:64].hex())
                    reply = None
                drop, garbage = self._faults()
            if reply is None:
                continue
            if drop:
                self.counters["dropped"] += 1
                continue
            try:
                if garbage:
                    self.counters["garbage"] += 1
                    sock.sendto(self._garbage(), peer)
                sock.sendto(reply, peer)
                self.counters["replies"] += 1
            except OSError as exc:
                log.debug("wg simulator: reply to %s failed: %s", peer, exc)

    def _faults(self) -> tuple[bool, bool]:
        drop = self._drop_next > 0 or (self.drop_rate > 0 and self._rng.random() < self.drop_rate)
        if self._drop_next > 0:
            self._drop_next -= 1
        garbage = self._garbage_next > 0 or (self.garbage_rate > 0 and self._rng.random() < self.garbage_rate)
        if self._garbage_next > 0 and not drop:
            self._garbage_next -= 1
        return drop, garbage and not drop

    def _garbage(self) -> bytes:
        kind = self._rng.randrange(3)
        if kind == 0:  # wrong size
            return self._rng.randbytes(self._rng.choice([1, 20, 63, 65, 128]))
        if kind == 1:  # right size, wrong type byte
            return b"\x42" + self._rng.randbytes(63)
        return b"\x17\x20\x00\x00" + self._rng.randbytes(60)  # right header, another controller

    def _interval_push(self, now: float) -> None:
        target = self.controller.push_target
        if target is None or target.interval <= 0 or now < self._next_push:
            return
        self._next_push = now + target.interval
        self.push_status()

    def _push(self, packet: bytes, target: PushTarget | None) -> bool:
        if target is None or self._sock is None:
            return False
        try:
            self._sock.sendto(packet, (target.host, target.port))
        except OSError as exc:
            log.debug("wg simulator: push to %s:%d failed: %s", target.host, target.port, exc)
            return False
        self.counters["pushed"] += 1
        return True


# -- command line -----------------------------------------------------------------------------------
def _host_port(text: str) -> tuple[str, int]:
    host, sep, port = text.rpartition(":")
    if not sep or not host or not (port.isascii() and port.isdigit()) or not 0 <= int(port) <= 65535:
        raise argparse.ArgumentTypeError(f"{text!r} is not HOST:PORT")
    return host, int(port)


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.description = "A WG access controller (64-byte UDP packets) for tests and demos."
    p.add_argument("--listen", type=_host_port, default=("127.0.0.1", DEFAULT_PORT), metavar="HOST:PORT",
                   help="where to listen (default 127.0.0.1:60000)")
    p.add_argument("--serial", type=int, required=True, help="controller serial number (9 digits)")
    p.add_argument("--push", type=_host_port, metavar="HOST:PORT", help="push target, as if set with 0x90")
    p.add_argument("--push-interval", type=int, default=0, metavar="S", help="status push every S seconds (0: on events only)")
    p.add_argument("--capacity", type=int, default=DEFAULT_CAPACITY, metavar="N", help="records kept (%(default)s)")
    p.add_argument("--allow", type=int, action="append", default=[], metavar="CARD", help="card allowed on every door (repeatable)")
    p.add_argument("--swipe", type=int, action="append", default=[], metavar="CARD", help="card to swipe periodically (repeatable)")
    p.add_argument("--swipe-every", type=float, default=5.0, metavar="S", help="seconds between swipes (%(default)s)")
    p.add_argument("--drop-rate", type=rate, default=0.0, metavar="R", help="share of replies not sent")
    p.add_argument("--garbage-rate", type=rate, default=0.0, metavar="R", help="share of replies preceded by a garbage datagram")
    p.add_argument("--seed", type=int, help="random seed for the fault injection")


def main(args: argparse.Namespace) -> int:
    """Run until interrupted (``sitegate sim`` turns SIGTERM into KeyboardInterrupt)."""
    if not 0 < args.serial <= 0xFFFFFFFF:
        raise UsageError(f"--serial {args.serial} is not a controller serial number")
    if args.capacity < 1:
        raise UsageError("--capacity must be at least 1")
    host, port = args.listen
    sim = WgSimulator(args.serial, host, port, capacity=args.capacity, push=args.push,
                      push_interval=args.push_interval, drop_rate=args.drop_rate, garbage_rate=args.garbage_rate,
                      seed=args.seed)
    for card in args.allow:
        sim.allow(card)
    sim.start()
    try:
        bound = sim.address
        print(f"wg simulator: serial {args.serial} on {bound[0]}:{bound[1]}", flush=True)
        replay_forever(args.swipe, args.swipe_every,
                       lambda card, going_in: sim.swipe(card, direction="in" if going_in else "out"))
    finally:
        sim.stop()
