"""NationalClient over real loopback HTTP(S): what it sends, and how every kind of failure maps to
exactly one error. Canned answers come from a small local server that records what it got."""
from __future__ import annotations

import datetime as dt
import ipaddress
import json
import socket
import ssl
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs

import pytest
import requests
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from sitegate.uplink.national import GarbageResponse, NationalClient, PlatformError, TransportError
from sitegate.uplink.national.codec import (
    attendance_item,
    beijing_timestamp,
    encrypt_id,
    sign_matches,
)

APPID = "TESTAPPID0001"
SECRET = "0123456789abcdef0123456789ABCDEF"
NOW = dt.datetime(2025, 3, 14, 23, 31, 5, tzinfo=dt.timezone.utc)
OK = json.dumps({"code": 0, "message": "成功", "data": {"requestSerialCode": "rsc-1"}}, ensure_ascii=False).encode()


class CannedServer:
    """Answers POSTs with the queued (status, body, headers) in turn; keeps each request's form."""

    def __init__(self, tls: ssl.SSLContext | None = None):
        self.answers: list[tuple[int, bytes, dict]] = []
        self.forms: list[dict[str, str]] = []
        self.bodies: list[bytes] = []
        canned = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.0"

            def log_message(self, *args):
                pass

            def do_POST(self):  # noqa: N802
                body = self.rfile.read(int(self.headers["Content-Length"]))
                canned.bodies.append(body)
                canned.forms.append({k: v[0] for k, v in parse_qs(body.decode(), keep_blank_values=True).items()})
                status, answer, headers = canned.answers.pop(0) if canned.answers else (200, OK, {})
                if status == 0:  # close without answering
                    self.close_connection = True
                    return
                self.send_response(status)
                for k, v in headers.items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        if tls is not None:
            self.server.socket = tls.wrap_socket(self.server.socket, server_side=True)
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05})
        self.thread.start()
        scheme = "https" if tls else "http"
        self.url = f"{scheme}://127.0.0.1:{self.server.server_address[1]}/open.api"

    def queue(self, *answers):
        for a in answers:
            self.answers.append(a if isinstance(a, tuple) else (200, a if isinstance(a, bytes) else json.dumps(a).encode(), {}))

    def stop(self):
        self.server.shutdown()
        self.server.server_close()
        self.thread.join()


@pytest.fixture
def canned():
    server = CannedServer()
    yield server
    server.stop()


@pytest.fixture
def client(canned):
    c = NationalClient(canned.url, APPID, SECRET, clock=lambda: NOW, timeout=(2.0, 5.0))
    yield c
    c.close()


def env(data=None, code=0, message="成功"):
    return {"code": code, "message": message, "data": data}


def test_each_call_is_signed_with_a_fresh_nonce_and_beijing_timestamp(client, canned):
    client.check_sign()
    client.check_sign()
    first, second = canned.forms
    assert first["timestamp"] == "20250315073105" == beijing_timestamp(NOW)
    assert first["nonce"] != second["nonce"] and len(first["nonce"]) >= 12
    assert (first["method"], first["version"], first["format"], first["appid"]) == ("CheckSign.Query", "1.1", "json", APPID)
    assert sign_matches(first, SECRET)
    assert all(SECRET.lower() not in body.decode().lower() for body in canned.bodies)
    assert SECRET not in repr(client)


def test_the_engine_can_resend_the_identical_data(client, canned):
    items = [attendance_item("11010119900101001X", "2025-03-15 07:31:02", "01", "001", "东门1号闸")]
    form = client.build_attendance_add_form("P001", 100156750, items, timestamp="20250315073105", nonce="a1b2c3d4e5f6")
    assert form["sign"] == "3ba2c1430388e983518ba934c2e58f2b91997b48baa0ab97a68f12157d1fdbe8"  # reference §5
    data = client.attendance_add_data("P001", 100156750, items)
    assert data == form["data"]
    assert client.submit_attendance(data) == "rsc-1"
    assert client.attendance_add("P001", 100156750, items) == "rsc-1"
    sent = [f["data"].encode("utf-8") for f in canned.forms]
    assert sent[0] == sent[1] == data.encode("utf-8")
    assert canned.forms[0]["nonce"] != canned.forms[1]["nonce"]


def test_platform_codes_raise_platform_error(client, canned):
    canned.queue(env(code=-1, message="[date]不能大于当天!"), env(code=-4, message="IP不在白名单内"))
    with pytest.raises(PlatformError) as info:
        client.check_sign()
    assert (info.value.code, info.value.message, info.value.content_fault) == (-1, "[date]不能大于当天!", True)
    with pytest.raises(PlatformError) as info:
        client.check_sign()
    assert info.value.config_fault and not info.value.retryable
    assert client.counters["platform_error"] == 2


@pytest.mark.parametrize("answer", [
    (200, b"<html>maintenance</html>", {}),
    (200, b'{"code":0,"message":"ok","data":{"requestSerialCode"', {}),
    (200, b'{"result":"ok"}', {}),
    (200, json.dumps(env({"requestSerialCode": ""})).encode(), {}),
    (200, json.dumps(env(["not", "an", "object"])).encode(), {}),
])
def test_garbage_answers_to_a_write_raise_garbage_response(client, canned, answer):
    canned.queue(answer)
    with pytest.raises(GarbageResponse) as info:
        client.submit_attendance('{"projectCode":"P001"}')
    assert info.value.maybe_delivered


@pytest.mark.parametrize("status, retryable, maybe_delivered", [
    (500, True, True), (502, True, True), (503, True, True), (429, True, False),
    (404, False, False), (403, False, False), (302, False, False),
])
def test_http_statuses_raise_transport_error(client, canned, status, retryable, maybe_delivered):
    canned.queue((status, b"no", {"Location": "http://127.0.0.1:1/elsewhere"}))
    with pytest.raises(TransportError) as info:
        client.check_sign()
    err = info.value
    assert (err.status, err.retryable, err.maybe_delivered) == (status, retryable, maybe_delivered)
    assert len(canned.forms) == 1  # no automatic retry, no redirect followed


def test_a_lost_answer_may_have_been_delivered(client, canned):
    canned.queue((0, b"", {}))
    with pytest.raises(TransportError) as info:
        client.check_sign()
    assert info.value.maybe_delivered and info.value.status is None
    assert len(canned.forms) == 1  # the POST was not silently repeated


def test_a_refused_connection_was_certainly_not_delivered():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # nothing listens here once the socket is closed
    c = NationalClient(f"http://127.0.0.1:{port}/open.api", APPID, SECRET)
    with pytest.raises(TransportError, match="cannot connect") as info:
        c.check_sign()
    assert not info.value.maybe_delivered and info.value.retryable
    assert c.counters["transport_error"] == 1


def test_roster_pages_stop_at_total_count_and_decrypt(client, canned):
    row = lambda n: {"workerName": f"w{n}", "idCardNumber": encrypt_id(f"11010119900101{n:03d}X", SECRET)}
    canned.queue(env({"totalCount": 3, "rows": [row(1), row(2)]}), env({"totalCount": 3, "rows": [row(3)]}))
    rows = list(client.project_workers("P001", page_size=2, team_sys_no=7))
    assert [r["idCardNumber"] for r in rows] == ["11010119900101001X", "11010119900101002X", "11010119900101003X"]
    queries = [json.loads(f["data"]) for f in canned.forms]
    assert queries == [{"projectCode": "P001", "pageIndex": 0, "pageSize": 2, "teamSysNo": 7},
                       {"projectCode": "P001", "pageIndex": 1, "pageSize": 2, "teamSysNo": 7}]


def test_roster_stops_on_an_empty_page_and_skips_bad_rows(client, canned, caplog):
    good = {"workerName": "张三", "idCardNumber": encrypt_id("11010119900101001X", SECRET)}
    canned.queue(env({"totalCount": 99, "rows": [good, {"workerName": "李四", "idCardNumber": "garbled"}, "x"]}),
                 env({"totalCount": 99, "rows": []}))
    rows = list(client.project_workers("P001"))
    assert [r["workerName"] for r in rows] == ["张三"]
    assert client.counters["bad_roster_row"] == 2 and len(canned.forms) == 2
    assert "李四" not in caplog.text and "张三" not in caplog.text


@pytest.mark.parametrize("data", [None, {"rows": []}, {"rows": {}, "totalCount": 1}, {"rows": [], "totalCount": "1"}])
def test_a_roster_page_of_the_wrong_shape_is_garbage(client, canned, data):
    canned.queue(env(data))
    with pytest.raises(GarbageResponse):
        list(client.project_workers("P001"))


def test_async_result_decrypts_failures(client, canned):
    cipher = encrypt_id("11010119900101001X", SECRET)
    canned.queue(env({"status": "10", "result": [{"index": 0, "idCardNumber": cipher, "message": "m"}]}),
                 env({"status": "?"}))
    result = client.async_result("rsc-1")
    assert result.failures[0].id_card_number == "11010119900101001X"
    assert json.loads(canned.forms[0]["data"]) == {"requestSerialCode": "rsc-1"}
    with pytest.raises(GarbageResponse):
        client.async_result("rsc-1")


def test_a_given_session_is_used_and_left_open(canned):
    session = requests.Session()
    with NationalClient(canned.url, APPID, SECRET, session=session) as c:
        c.check_sign()
    assert c.session is session
    session.get(canned.url.replace("/open.api", "/x"), timeout=5)  # still usable (501 is fine)
    session.close()


def test_bad_configuration_is_refused():
    from sitegate.uplink.national import BadSecret

    with pytest.raises(BadSecret):
        NationalClient("http://127.0.0.1:1/open.api", APPID, "short")
    with pytest.raises(ValueError):
        NationalClient("http://127.0.0.1:1/open.api", "", SECRET)


# -- TLS -------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def self_signed(tmp_path_factory):
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "sitegate test platform")])
    now = dt.datetime.now(dt.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(days=1)).not_valid_after(now + dt.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
            .sign(key, hashes.SHA256()))
    folder = tmp_path_factory.mktemp("tls")
    cert_file, key_file = folder / "cert.pem", folder / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return str(cert_file), str(key_file)


@pytest.fixture
def tls_server(self_signed):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(*self_signed)
    server = CannedServer(tls=ctx)
    yield server
    server.stop()


def test_tls_is_verified_by_default(tls_server):
    c = NationalClient(tls_server.url, APPID, SECRET)
    assert c.verify is True
    with pytest.raises(TransportError, match="TLS") as info:
        c.check_sign()
    assert not info.value.maybe_delivered
    assert tls_server.forms == []  # nothing was sent to an unverified peer


def test_tls_with_a_private_ca_file(tls_server, self_signed):
    c = NationalClient(tls_server.url, APPID, SECRET, ca_file=self_signed[0])
    assert c.check_sign().ok
    assert len(tls_server.forms) == 1
