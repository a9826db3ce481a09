"""A real clerk web server on 127.0.0.1 (ephemeral port) over a real store, with a hand-driven clock."""
from __future__ import annotations

from dataclasses import dataclass, field

import pytest
from web_helpers import PASSWORD, Client, ManualClock, make_config, roster_rows

from sitegate.buffer import Roster, Store
from sitegate.metrics import Metrics
from sitegate.roster_cache import RosterCache
from sitegate.web import WebContext, WebServer
from sitegate.web.accounts import Accounts


@dataclass
class Gateway:
    server: WebServer
    ctx: WebContext
    store: Store
    clock: ManualClock
    base: str
    devices: list[dict] = field(default_factory=list)
    alive: list[bool] = field(default_factory=lambda: [True])

    def client(self) -> Client:
        return Client(self.base)

    def logged_in(self, username: str = "clerk") -> Client:
        c = self.client()
        assert c.login(username).status_code == 303
        return c


@pytest.fixture
def gw(tmp_path):
    cfg = make_config(tmp_path / "data")
    store = Store.open(tmp_path / "data", uplinks=["national"])
    Roster(store).upsert_many(roster_rows())
    accounts = Accounts(store)
    accounts.add("clerk", PASSWORD, display_name="王会计")
    accounts.add("boss", PASSWORD, display_name="项目经理", role="admin")
    clock = ManualClock()
    devices: list[dict] = []
    alive = [True]
    ctx = WebContext(cfg=cfg, store=store, roster=RosterCache(store), metrics=Metrics(store, lambda: devices),
                     devices=lambda: devices, healthy=lambda: alive[0], uplink_name="national", clock=clock)
    server = WebServer(ctx, "127.0.0.1:0")
    port = server.start()
    try:
        yield Gateway(server, ctx, store, clock, f"http://127.0.0.1:{port}", devices, alive)
    finally:
        server.stop()
        store.close()
