"""The HTTP listeners that face devices on the site LAN: the ZKTeco iclock endpoint (zk-push driver)
and the Hikvision event-push listener (hik-isapi driver), both on drivers/httpd.py. Real drivers on
127.0.0.1, real TCP connections, bytes from hypothesis: random bytes, broken request lines, absurd
Content-Length values, oversized and truncated bodies, random paths and serial numbers.

Whatever arrives: the listener answers with a 4xx/2xx status or closes the connection, never a 500
(a 500 here is an exception the protocol code let escape), it keeps serving, and a request from a
terminal with another serial number never becomes an observation. The body parsers themselves are
fuzzed in tests/drivers/test_zk_codec.py and tests/drivers/test_hik_codec.py."""
from __future__ import annotations

import re

import pytest
import requests
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from tests.fuzz.rawhttp import exchange

from sitegate.drivers.hik_isapi.driver import HikIsapiDriver
from sitegate.drivers.hik_isapi.simulator import HikTerminalSim
from sitegate.drivers.zk_push.driver import ZkPushDriver
from sitegate.secrets import write_secret
from tests.drivers.zkhik_fixtures import FakePipeline, RunningDriver, make_context

SN = "CKJ1234567"
SETTINGS = settings(max_examples=100, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])


class Listening:
    def __init__(self, driver, pipeline: FakePipeline):
        self.driver, self.pipeline = driver, pipeline

    @property
    def port(self) -> int:
        return self.driver.address[1]


@pytest.fixture(scope="module")
def zk():
    pipeline = FakePipeline()
    driver = ZkPushDriver(make_context({"listen": "127.0.0.1:0", "serial": SN}, pipeline))
    with RunningDriver(driver) as running:
        yield Listening(running, pipeline)


@pytest.fixture(scope="module")
def hik(tmp_path_factory):
    secret = tmp_path_factory.mktemp("hik") / "hik.pw"
    write_secret(secret, "pw-123")
    sim = HikTerminalSim("admin", "pw-123", retry_s=0.05).start()
    pipeline = FakePipeline()
    driver = HikIsapiDriver(make_context({"host": sim.base_url, "username": "admin", "password_file": str(secret),
                                          "listen": "127.0.0.1:0"}, pipeline))
    try:
        with RunningDriver(driver) as running:
            yield Listening(running, pipeline)
    finally:
        sim.stop()


def status_of(answer: bytes) -> int | None:
    if not answer:
        return None
    first = answer.split(b"\r\n", 1)[0].split()
    if first and first[0].startswith(b"HTTP/"):
        return int(first[1])
    # a request line without a version is HTTP/0.9 to the stdlib: the error page comes without a
    # status line, and names its code in the text
    found = re.search(rb"Error code: (\d{3})", answer)
    assert found, answer[:200]
    return int(found.group(1))


def check_answer(answer: bytes) -> None:
    status = status_of(answer)
    # 501 is the stdlib's answer to a method the listener does not offer; 503 "store unavailable"
    assert status is None or status < 500 or status in (501, 503), answer[:300]


methods = st.sampled_from(["GET", "POST", "PUT", "DELETE", "HEAD", "OPTIONS", "X"])
lengths = st.one_of(st.none(), st.integers(0, 300).map(str), st.sampled_from(
    ["-1", "1e3", "", " 5", "99999999999999999999", "0x10", "4294967296", "\u00b2", "\u00b9\u00b2"]))
bodies = st.binary(max_size=400)


def request(method: str, target: str, headers: dict[str, str], body: bytes, length: str | None) -> bytes:
    lines = [f"{method} {target} HTTP/1.1", "Host: 127.0.0.1"]
    lines += [f"{k}: {v}" for k, v in headers.items()]
    if length is not None:
        lines.append(f"Content-Length: {length}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body     # http.client reads headers as Latin-1


def cut_short(body: bytes, length: str | None) -> bool:
    """The body ended before its Content-Length: the listener may hang up without an answer
    (drivers/httpd.py: nothing to answer, the device resends)."""
    declared = length.strip() if length is not None else ""
    return declared.isascii() and declared.isdigit() and len(body) < int(declared) <= 8 * 1024 * 1024


def header_text(max_size: int = 40):
    return st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=126), max_size=max_size)


# ---- ZKTeco iclock --------------------------------------------------------------------------
zk_paths = st.sampled_from(["/iclock/cdata", "/iclock/getrequest", "/iclock/devicecmd", "/iclock/registry",
                            "/iclock/push", "/iclock/ping", "/", "/x"])
zk_queries = st.one_of(
    st.builds(lambda sn, table: f"SN={sn}&table={table}&Stamp=1", st.sampled_from([SN, "OTHER123", "", "%00"]),
              st.sampled_from(["ATTLOG", "OPERLOG", "rtlog", "ATTPHOTO", "BIODATA", "x"])),
    header_text(60))


@SETTINGS
@given(st.binary(max_size=3000))
@example(b"GET /iclock/cdata?SN=" + b"A" * 70000 + b" HTTP/1.1\r\n\r\n")      # request line beyond 64 KiB
@example(b"POST /iclock/cdata?SN=CKJ1234567&table=ATTLOG HTTP/1.1\r\nContent-Length: 100\r\n\r\nshort")
# "\xb2" is "²" in Latin-1 (how http.client decodes headers): str.isdigit() says yes, int() raises
@example(b"POST /iclock/cdata?SN=CKJ1234567&table=ATTLOG HTTP/1.1\r\nContent-Length: \xb2\r\n\r\n")
def test_zk_random_bytes_never_get_a_500(zk, raw):
    before = zk.pipeline.count()
    check_answer(exchange(zk.port, raw))
    assert zk.pipeline.count() == before


@SETTINGS
@given(methods, zk_paths, zk_queries, bodies, lengths)
# crashed with a 500: "²".isdigit() but int("²") raises (count of TABLEDATA; fixed in zk_push/driver.py)
@example("POST", "/iclock/cdata", f"SN={SN}&table=TABLEDATA&tablename=user&count=%B2", b"user uid=1\n", "11")
def test_zk_random_requests_are_answered_and_foreign_serials_refused(zk, method, path, query, body, length):
    before = zk.pipeline.count()
    answer = exchange(zk.port, request(method, f"{path}?{query}", {}, body, length))
    check_answer(answer)
    if not cut_short(body, length):
        assert answer, "a well-formed request went unanswered (an exception in the handler?)"
    if f"SN={SN}&" not in query + "&":
        assert zk.pipeline.count() == before
        if path.startswith("/iclock/") and status_of(answer) == 200:
            pytest.fail(f"a request without the configured SN was served: {answer[:200]!r}")


def test_zk_listener_still_serves_its_terminal_after_the_noise(zk):
    reply = requests.get(f"http://127.0.0.1:{zk.port}/iclock/cdata?SN={SN}&options=all&pushver=2.4.1", timeout=5)
    assert reply.status_code == 200
    refused = requests.get(f"http://127.0.0.1:{zk.port}/iclock/cdata?SN=OTHER123&options=all", timeout=5)
    assert refused.status_code == 403


# ---- Hikvision event push ---------------------------------------------------------------------
content_types = st.one_of(st.sampled_from(["application/json", "multipart/form-data; boundary=MIME_boundary",
                                           "multipart/form-data", "multipart/mixed; boundary=", "text/plain"]),
                          header_text())


@SETTINGS
@given(st.binary(max_size=3000))
@example(b"POST /hik/events HTTP/1.1\r\nContent-Length: 999999999\r\n\r\n{}")   # over max_body: 413
@example(b"POST /hik/events HTTP/1.1\r\nContent-Length: \xb2\r\n\r\n{}")          # "²": isdigit, not int
def test_hik_random_bytes_never_get_a_500(hik, raw):
    before = hik.pipeline.count()
    check_answer(exchange(hik.port, raw))
    assert hik.pipeline.count() == before


@SETTINGS
@given(methods, st.sampled_from(["/hik/events", "/", "/ISAPI/Event/notification/alertStream"]), content_types,
       bodies, lengths)
def test_hik_random_pushes_are_answered(hik, method, path, ctype, body, length):
    before = hik.pipeline.count()
    answer = exchange(hik.port, request(method, path, {"Content-Type": ctype}, body, length))
    check_answer(answer)
    if not cut_short(body, length):
        assert answer, "a well-formed request went unanswered (an exception in the handler?)"
    assert hik.pipeline.count() == before


def test_hik_listener_still_answers_after_the_noise(hik):
    reply = requests.post(f"http://127.0.0.1:{hik.port}/hik/events", data=b"{}",
                          headers={"Content-Type": "application/json"}, timeout=5)
    assert reply.status_code == 400           # answered, and the bad event named
