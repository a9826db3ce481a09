"""A platform (or a TLS-terminating proxy) cannot keep the roster download paging without end:
a huge ``totalCount``, or one row per page towards a large one, is refused (docs/security.md)."""
from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs

import pytest

from sitegate.uplink.national import GarbageResponse, NationalClient
from sitegate.uplink.national.client import MAX_LISTED_ROWS, ListingTooLarge
from sitegate.uplink.national.codec import encrypt_id
from sitegate.uplink.national.roster_sync import _download

APPID = "TESTAPPID0001"
SECRET = "0123456789abcdef0123456789ABCDEF"
ROW = {"workerName": "张三", "idCardNumber": encrypt_id("11010119900101001X", SECRET)}


class EndlessPlatform:
    """Answers every ProjectWorker.Query page with ``rows_per_page`` rows and the same ``total``."""

    def __init__(self, total: int, rows_per_page: int):
        self.pages: list[int] = []
        platform = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.0"

            def log_message(self, *args):
                pass

            def do_POST(self):  # noqa: N802 - http.server's naming
                form = parse_qs(self.rfile.read(int(self.headers["Content-Length"])).decode())
                platform.pages.append(json.loads(form["data"][0])["pageIndex"])
                body = json.dumps({"code": 0, "message": "成功",
                                   "data": {"totalCount": total, "rows": [ROW] * rows_per_page}},
                                  ensure_ascii=False).encode()
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05})
        self.thread.start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/open.api"

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join()


@pytest.fixture
def platform(request):
    total, rows_per_page = request.param
    server = EndlessPlatform(total, rows_per_page)
    yield server
    server.stop()


@pytest.mark.parametrize("platform", [(10**12, 1)], indirect=True)
def test_a_huge_total_count_is_refused_on_the_first_page_and_not_retried(platform):
    with NationalClient(platform.url, APPID, SECRET) as client:
        rows = []
        with pytest.raises(ListingTooLarge, match=r"totalCount 1000000000000 .* above the limit") as refused:
            rows.extend(client.project_workers("P001", page_size=1000))
        assert rows == [] and platform.pages == [0] and isinstance(refused.value, GarbageResponse)
        # the roster sync does not try such a list again (3 tries would triple the waste)
        with pytest.raises(ListingTooLarge):
            _download(client, "P001", 1000, None, sleep=lambda s: None)
        assert platform.pages == [0, 0]


@pytest.mark.parametrize("platform", [(MAX_LISTED_ROWS, 1)], indirect=True)
def test_one_row_per_page_towards_a_large_count_stops_at_the_page_limit(platform):
    with NationalClient(platform.url, APPID, SECRET) as client:
        seen = 0
        with pytest.raises(ListingTooLarge, match=r"after 100 pages of pageSize 1000"):
            for _ in client.project_workers("P001", page_size=1000):
                seen += 1
        assert seen == 100 and platform.pages == list(range(100))   # page 100 is never asked for


@pytest.mark.parametrize("platform", [(MAX_LISTED_ROWS, 1000)], indirect=True)
def test_a_roster_of_exactly_the_limit_still_downloads(platform):
    with NationalClient(platform.url, APPID, SECRET) as client:
        rows = list(client.project_workers("P001", page_size=1000))
    assert len(rows) == MAX_LISTED_ROWS and platform.pages == list(range(100))
