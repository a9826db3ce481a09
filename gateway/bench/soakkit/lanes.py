"""The lanes of the soak site: one device simulator each and the people who pass it.

Each lane owns its simulator (the product's own, speaking the real protocol), writes its
``[[devices]]`` table, says when it is ready for the shift (privileges or users on the device)
and makes one *attempt* of a passage: the worker presents a card, swipes, shows a face. An
attempt returns whether the passage was acknowledged (see truth.py); a worker whose attempt was
not acknowledged tries again a little later, as people at a turnstile do.
"""
from __future__ import annotations

import logging
import threading
import time
from pathlib import Path

from sitegate.bench.soakkit.gatewaydb import GatewayDb
from sitegate.bench.soakkit.site import HIK_PASSWORD, Person, free_port
from sitegate.bench.soakkit.truth import Ledger, Passage

log = logging.getLogger(__name__)

ACK, RETRY = True, False


class Lane:
    kind = ""
    supports_out = True
    gateway_decides = False     # the passage needs the gateway up (else the device decides)

    def __init__(self, index: int, name: str, device_id: str):
        self.index = index
        self.name = name
        self.device_id = device_id

    def start_device(self, root: Path) -> str:
        """Start the simulator; the ``[[devices]]`` table for the gateway's config."""
        raise NotImplementedError

    def ready(self, n_workers: int) -> bool:
        return True

    def attempt(self, passage: Passage, ledger: Ledger) -> bool:
        raise NotImplementedError

    def unsent(self) -> int:
        """Records the device still keeps for the gateway (0 for devices that keep none)."""
        return 0

    def late_ack(self, passage: Passage, ledger: Ledger) -> bool:
        """At give-up time: was the last attempt acknowledged after all (a slow gateway)?"""
        return False

    def stop(self) -> None:
        pass

    def produced(self) -> int:
        """Records (or reads) the device made in the whole run."""
        return 0


# -- ID-card reader: the gateway decides ---------------------------------------------------------
class IdCardLane(Lane):
    kind = "idcard"
    supports_out = False        # the readers stand at the entrances (direction "in")
    gateway_decides = True
    PRESENT_S = 0.45            # the card lies on the reader this long (the driver polls every 0.1 s)

    def __init__(self, index: int, name: str, device_id: str, db: GatewayDb):
        super().__init__(index, name, device_id)
        self.db = db
        self.sim = None
        self._cards: dict[str, object] = {}
        self._floors: dict[int, int] = {}       # passage seq -> store seq before its first attempt
        self._last_try: dict[int, float] = {}   # passage seq -> wall time of its last presentation
        self.unplugged = threading.Event()

    def start_device(self, root: Path) -> str:
        from sitegate.drivers.ga467_serial.simulator import Ga467Simulator

        link = root / f"ttyIDCARD{self.index}"
        self.sim = Ga467Simulator(link, repeat=False, seed=self.index)
        self.sim.start()
        return f"""
[[devices]]
id        = "{self.device_id}"
driver    = "ga467-serial"
lane      = "{self.name}"
direction = "in"
port      = "{link}"
poll_interval = 0.1
"""

    def _card(self, person: Person):
        from sitegate.drivers.ga467_serial.card import card_from_dict

        card = self._cards.get(person.id_number)
        if card is None:
            w = person.worker
            card = card_from_dict({"name": w.name, "id_number": w.id_card_number, "valid_to": "20351231",
                                   "birth": w.id_card_number[6:14]})
            self._cards[person.id_number] = card
        return card

    def attempt(self, passage: Passage, ledger: Ledger) -> bool:
        floor = self._floors.setdefault(passage.seq, self.db.max_seq())
        if self._stored(passage, floor):          # an earlier attempt was stored after we looked
            ledger.acknowledge(passage, self._last_try.get(passage.seq))
            return ACK
        ledger.attempt(passage)
        began = self._last_try[passage.seq] = time.time()
        self.sim.present(self._card(passage.person), for_seconds=self.PRESENT_S)
        time.sleep(self.PRESENT_S + 0.15)
        if self._stored(passage, floor):
            ledger.acknowledge(passage, began)
            return ACK
        ledger.refused(passage, "reader not answered" if self.unplugged.is_set() else "no admitted event stored")
        return RETRY

    def late_ack(self, passage: Passage, ledger: Ledger) -> bool:
        floor = self._floors.get(passage.seq)
        if floor is not None and self._stored(passage, floor):
            ledger.acknowledge(passage, self._last_try.get(passage.seq))
            return True
        return False

    def _stored(self, passage: Passage, floor: int) -> bool:
        row = self.db.event_after(self.device_id, passage.person.id_hash, floor)
        if row is None:
            return False
        if row["outcome"] != "admitted":
            passage.notes.append(f"denied: {row['deny_reason']}")
        return row["outcome"] == "admitted"

    def unplug(self) -> None:
        self.unplugged.set()
        self.sim.unplug()

    def replug(self) -> None:
        self.sim.replug()
        self.unplugged.clear()

    def produced(self) -> int:
        return int(self.sim.counters["presentations"]) if self.sim else 0

    def stop(self) -> None:
        if self.sim is not None:
            self.sim.stop()


# -- WG controller: controller mode (the device decides) or online mode (the gateway does) ------
class WgLane(Lane):
    kind = "wg-controller"
    # Online mode: the worker waits at the turnstile until the door opens, up to OPEN_WAIT_S. The
    # gateway opens only for a swipe at most OPEN_WINDOW_S (10 s, controller clock, whole seconds)
    # old (drivers/wg_udp/driver.py), so waiting longer than that makes every open that arrives
    # during a wait the answer to THIS swipe. With a shorter wait (3 s in the first runs) the late
    # open of an earlier swipe, downloaded after a restart, was taken for the next worker's: that
    # worker counted as let through while the gateway had refused his swipe as too old, and the
    # earlier worker, told nothing, swiped again and was recorded twice.
    OPEN_WAIT_S = 13.0

    def __init__(self, index: int, name: str, device_id: str, *, online: bool = False):
        super().__init__(index, name, device_id)
        self.online = online
        self.kind = "wg-online" if online else "wg-controller"
        self.gateway_decides = online
        self.serial = 223000100 + index
        self.sim = None
        self.latencies: list[tuple[float, float]] = []   # online mode: (swipe wall time, s until 0x40)
        self._opened = threading.Event()
        self._opened_at = 0.0

    def start_device(self, root: Path) -> str:
        from sitegate.drivers.wg_udp.simulator import WgSimulator

        self.sim = WgSimulator(self.serial, "127.0.0.1", 0, on_open=self._on_open)
        self.sim.start()
        self.sim.port = self.sim.address[1]     # a reopened socket binds the same port
        return f"""
[[devices]]
id        = "{self.device_id}"
driver    = "wg-udp"
lane      = "{self.name}"
direction = "device"
host      = "127.0.0.1"
port      = {self.sim.port}
serial    = {self.serial}
mode      = "{'online' if self.online else 'controller'}"
listen    = "127.0.0.1:0"
poll_interval = 2.0
"""

    def _on_open(self, _opened) -> None:
        self._opened_at = time.perf_counter()
        self._opened.set()

    def ready(self, n_workers: int) -> bool:
        if self.online:
            return True
        return len(self.sim.controller.privileges) >= n_workers     # len() of a dict: one atomic read

    def attempt(self, passage: Passage, ledger: Ledger) -> bool:
        ledger.attempt(passage)
        self._opened.clear()
        began_wall, began = time.time(), time.perf_counter()
        record = self.sim.swipe(passage.person.card, door=1, direction=passage.direction)
        if not self.online:
            if record.granted:
                ledger.acknowledge(passage, began_wall)
                return ACK
            ledger.refused(passage, f"controller refused (reason {record.reason})")
            return RETRY
        if self._opened.wait(self.OPEN_WAIT_S):
            self.latencies.append((began_wall, self._opened_at - began))
            ledger.acknowledge(passage, began_wall)
            return ACK
        ledger.refused(passage, "door not opened")
        return RETRY

    def close_socket(self) -> None:
        self.sim.stop()

    def reopen_socket(self) -> None:
        self.sim.start()

    def unsent(self) -> int:
        c = self.sim.controller
        return max(0, c.records.newest - c.read_index)

    def produced(self) -> int:
        return self.sim.controller.records.newest if self.sim else 0

    def stop(self) -> None:
        if self.sim is not None:
            self.sim.stop()


# -- face terminals: they decide, keep their records and resend ---------------------------------
class ZkLane(Lane):
    kind = "zk"

    def __init__(self, index: int, name: str, device_id: str):
        super().__init__(index, name, device_id)
        self.port = free_port()
        self.serial = f"CKJSOAK{index:03d}"
        self.sim = None

    def start_device(self, root: Path) -> str:
        from sitegate.drivers.zk_push.simulator import ZkTerminalSim

        self.sim = ZkTerminalSim(f"http://127.0.0.1:{self.port}", self.serial, poll_s=1.0, retry_s=0.5)
        self.sim.start()
        return f"""
[[devices]]
id        = "{self.device_id}"
driver    = "zk-push"
lane      = "{self.name}"
direction = "device"
listen    = "127.0.0.1:{self.port}"
serial    = "{self.serial}"
"""

    def attempt(self, passage: Passage, ledger: Ledger) -> bool:
        ledger.attempt(passage)
        began = time.time()
        self.sim.punch(str(passage.person.pin), verify="face", status=0 if passage.direction == "in" else 1)
        ledger.acknowledge(passage, began)     # attendance terminals record every recognised face
        return ACK

    def unsent(self) -> int:
        return self.sim.unsent

    def produced(self) -> int:
        return len(self.sim.terminal.records) if self.sim else 0

    def stop(self) -> None:
        if self.sim is not None:
            self.sim.stop()


class HikLane(Lane):
    kind = "hik"

    def __init__(self, index: int, name: str, device_id: str):
        super().__init__(index, name, device_id)
        self.push_port = free_port()
        self.sim = None

    def start_device(self, root: Path) -> str:
        from sitegate.drivers.hik_isapi.simulator import HikTerminalSim

        self.sim = HikTerminalSim("admin", HIK_PASSWORD, host="127.0.0.1", port=0,
                                  push_url=f"http://127.0.0.1:{self.push_port}/", retry_s=0.5)
        self.sim.start()
        return f"""
[[devices]]
id        = "{self.device_id}"
driver    = "hik-isapi"
lane      = "{self.name}"
direction = "device"
host      = "{self.sim.base_url}"
username  = "admin"
password_file = "{root}/hik-password"
listen    = "127.0.0.1:{self.push_port}"
"""

    def ready(self, n_workers: int) -> bool:
        return len(self.sim.users) >= n_workers

    def attempt(self, passage: Passage, ledger: Ledger) -> bool:
        ledger.attempt(passage)
        began = time.time()
        serial = self.sim.pass_(str(passage.person.pin), verify="face",
                                status="checkIn" if passage.direction == "in" else "checkOut")
        with self.sim.terminal.lock:
            event = next((e for e in reversed(self.sim.terminal.events) if e.serial_no == serial), None)
        if event is not None and event.item.get("employeeNoString"):
            ledger.acknowledge(passage, began)
            return ACK
        ledger.refused(passage, "face not on the terminal")
        return RETRY

    def unsent(self) -> int:
        return self.sim.waiting

    def produced(self) -> int:
        return len(self.sim.terminal.events) if self.sim else 0

    def stop(self) -> None:
        if self.sim is not None:
            self.sim.stop()
