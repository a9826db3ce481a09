"""Child process of the crash test: append events from 4 threads as fast as possible and print each
event id only after ``append`` returned (i.e. after the store acknowledged it as durable)."""
import os
import sys
import threading

from sitegate.buffer import Store
from tests.foundation.helpers import event


def main() -> None:
    store = Store.open(sys.argv[1], uplinks=["national"])

    def produce() -> None:
        while True:
            ev = event()
            store.append(ev, photo=b"\xff\xd8\xff\xe0" + os.urandom(2000) if ev.event_id[-1] in "05a" else None)
            os.write(1, (ev.event_id + "\n").encode())   # one write per line: atomic on a pipe

    for _ in range(4):
        threading.Thread(target=produce, daemon=True).start()
    threading.Event().wait()


if __name__ == "__main__":
    main()
