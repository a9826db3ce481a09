"""HTTP client of the national OpenAPI: one signed form per call, one envelope back.

The client does no retrying and no batching: each call either returns an Envelope with code 0 or
raises exactly one of
- TransportError  — no usable HTTP answer (``maybe_delivered`` says whether it may have arrived),
- GarbageResponse — an answer that is not an envelope (the request may have been processed),
- PlatformError   — code ≠ 0 (``retryable`` / ``config_fault`` / ``content_fault``),
so the delivery engine above it decides on retries, backoff and reconciliation.
urllib3 is told not to retry either: a silently repeated POST would be a second, unrecorded send.
"""
from __future__ import annotations

import logging
import secrets
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import datetime, timezone
from typing import Any
from urllib.parse import urlencode

import requests
from requests.adapters import HTTPAdapter
from urllib3.exceptions import ConnectTimeoutError, MaxRetryError, NewConnectionError

from sitegate.uplink.national import codec
from sitegate.uplink.national.envelope import (
    AsyncResult,
    Envelope,
    parse_async_result,
    parse_response,
    request_serial_code as serial_code_of,
    require_object,
)
from sitegate.uplink.national.errors import (
    DecryptError,
    GarbageResponse,
    PlatformError,
    TransportError,
)

log = logging.getLogger(__name__)

CONTENT_TYPE = "application/x-www-form-urlencoded; charset=UTF-8"
MAX_RESPONSE_BYTES = 16 * 1024 * 1024  # a roster page of 50 rows is a few KB; this is a guard
_RETRYABLE_HTTP = {408, 425, 429}

METHOD_ATTENDANCE_ADD = "WorkerAttendance.Add"
METHOD_ASYNC_RESULT = "AsyncHandleResult.Query"
METHOD_PROJECT_WORKERS = "ProjectWorker.Query"
METHOD_CHECK_SIGN = "CheckSign.Query"
METHOD_ATTENDANCE_QUERY = "WorkerAttendance.Query"

# The largest listing a query may page through. A site's roster is hundreds, a mega-project's a few
# thousand; a day's attendance a few thousand rows. Without a ceiling a platform (or a TLS-terminating
# proxy) answering a huge totalCount with one row per page would keep the sync paging without end.
MAX_LISTED_ROWS = 100_000


class ListingTooLarge(GarbageResponse):
    """A paged query's ``totalCount`` or page count is beyond ``MAX_LISTED_ROWS``: not a real
    project, so retrying cannot help."""

    retryable = False


def _check_paging(method: str, page: int, page_size: int, total: int | None) -> None:
    """Before asking for ``page`` (0-based; ``total`` None) and after reading its ``totalCount``:
    refuse a listing that claims more than ``MAX_LISTED_ROWS`` rows or needs more pages than that
    many rows at ``page_size`` (a platform sending short pages)."""
    if total is not None and total > MAX_LISTED_ROWS:
        raise ListingTooLarge(f"{method}: totalCount {total} on page {page} is above the limit of "
                              f"{MAX_LISTED_ROWS} rows; refusing to page through it")
    max_pages = -(-MAX_LISTED_ROWS // page_size)
    if page >= max_pages:
        raise ListingTooLarge(f"{method}: still short of totalCount after {max_pages} pages of "
                              f"pageSize {page_size} (the limit, {MAX_LISTED_ROWS} rows); refusing more pages")


def _utc_now() -> datetime:
    return datetime.now(timezone.utc)


def _never_sent(exc: requests.exceptions.ConnectionError) -> bool:
    """True when the connection was never made, so the request certainly did not arrive."""
    reason = exc.args[0] if exc.args else None
    if isinstance(reason, MaxRetryError):
        reason = reason.reason
    # NewConnectionError covers refused connections and DNS failures (NameResolutionError).
    return isinstance(reason, (NewConnectionError, ConnectTimeoutError))


class NationalClient:
    """``NationalClient("https://host/open.api", appid, appsecret)``; ``url`` is the full endpoint.

    ``clock`` returns an aware datetime (the request timestamp is made from it, in Beijing time);
    ``nonce`` returns a fresh random string per call. Both exist so tests can pin them. TLS
    certificates are verified; ``ca_file`` names a private CA bundle instead of the system's.
    A ``session`` passed in must not retry POSTs on its own (the default one does not).
    """

    def __init__(
        self,
        url: str,
        appid: str,
        appsecret: str,
        session: requests.Session | None = None,
        timeout: float | tuple[float, float] = (5.0, 30.0),
        *,
        ca_file: str | None = None,
        clock: Callable[[], datetime] = _utc_now,
        nonce: Callable[[], str] = lambda: secrets.token_hex(8),
    ):
        codec.check_secret(appsecret)
        if not appid:
            raise ValueError("appid is empty")
        self.url = url
        self.appid = appid
        self._appsecret = appsecret
        self.timeout = timeout
        self.verify: bool | str = ca_file or True
        self.clock = clock
        self.nonce = nonce
        self._own_session = session is None
        self.session = session or requests.Session()
        if self._own_session:
            no_retry = HTTPAdapter(max_retries=0)
            self.session.mount("http://", no_retry)
            self.session.mount("https://", no_retry)
        self.counters: Counter[str] = Counter()

    def __repr__(self) -> str:  # never the secret
        return f"NationalClient({self.url!r}, appid={self.appid!r})"

    def close(self) -> None:
        if self._own_session:
            self.session.close()

    def __enter__(self) -> "NationalClient":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- forms -----------------------------------------------------------------------------
    def build_form(self, method: str, data: dict | str, version: str = codec.DEFAULT_VERSION, *,
                   timestamp: str | None = None, nonce: str | None = None) -> dict[str, str]:
        """The signed form of one call, with a fresh timestamp and nonce unless given."""
        return codec.build_form(
            method, data, self.appid, self._appsecret,
            timestamp=timestamp or codec.beijing_timestamp(self.clock()),
            nonce=nonce or self.nonce(),
            version=version,
        )

    def attendance_add_data(self, project_code: str, team_sys_no: int,
                            items: Sequence[Mapping[str, Any]]) -> str:
        """The exact ``data`` string of a batch (ID numbers encrypted); store it with the batch."""
        return codec.attendance_add_data(project_code, team_sys_no, items, self._appsecret)

    def build_attendance_add_form(self, project_code: str, team_sys_no: int,
                                  items: Sequence[Mapping[str, Any]], *,
                                  timestamp: str | None = None, nonce: str | None = None) -> dict[str, str]:
        """The complete signed ``WorkerAttendance.Add`` form. Its ``data`` is what a resend must
        repeat; ``timestamp``/``nonce``/``sign`` are made fresh for every send."""
        data = self.attendance_add_data(project_code, team_sys_no, items)
        return self.build_form(METHOD_ATTENDANCE_ADD, data, timestamp=timestamp, nonce=nonce)

    # -- calls ------------------------------------------------------------------------------
    def call(self, method: str, data: dict | str, version: str = codec.DEFAULT_VERSION) -> Envelope:
        """Sign and send one call; ``data`` as a string is sent unchanged (a stored batch)."""
        return self.post_form(self.build_form(method, data, version))

    def post_form(self, form: Mapping[str, str]) -> Envelope:
        """Send an already signed form; the Envelope when code is 0.

        A form's timestamp goes stale (the platform allows minutes): to resend a stored batch, use
        ``call(method, stored_data)`` or ``submit_attendance``, which sign it afresh.
        """
        method = form.get("method", "?")
        self.counters["requests"] += 1
        body = self._post(method, urlencode(form, encoding="utf-8").encode("ascii"))
        try:
            env = parse_response(body)
        except GarbageResponse:
            self.counters["garbage"] += 1
            log.debug("%s: garbage response (%d bytes)", method, len(body))
            raise
        if not env.ok:
            self.counters["platform_error"] += 1
            log.debug("%s: platform code %d: %s", method, env.code, env.message)
            raise PlatformError(env.code, env.message)
        self.counters["ok"] += 1
        return env

    def _post(self, method: str, body: bytes) -> bytes:
        try:
            resp = self.session.post(
                self.url, data=body, headers={"Content-Type": CONTENT_TYPE},
                timeout=self.timeout, verify=self.verify, allow_redirects=False, stream=True,
            )
        except requests.exceptions.SSLError as exc:
            raise self._transport(method, f"TLS failure: {exc}", maybe_delivered=False) from None
        except requests.exceptions.ConnectTimeout:
            raise self._transport(method, "connect timed out", maybe_delivered=False) from None
        except requests.exceptions.ConnectionError as exc:
            never = _never_sent(exc)
            what = "cannot connect" if never else "connection lost before the answer"
            raise self._transport(method, f"{what}: {exc}", maybe_delivered=not never) from None
        except requests.exceptions.Timeout:
            raise self._transport(method, "timed out waiting for the answer") from None
        except requests.exceptions.RequestException as exc:
            raise self._transport(method, f"request failed: {exc}") from None
        with resp:
            if resp.status_code != 200:
                status = resp.status_code
                retryable = status >= 500 or status in _RETRYABLE_HTTP
                # 5xx: the platform may have stored the batch before failing; 4xx: it refused it.
                raise self._transport(method, f"HTTP {status} {resp.reason or ''}".strip(), status=status,
                                      maybe_delivered=status >= 500, retryable=retryable)
            try:
                chunks, size = [], 0
                for chunk in resp.iter_content(64 * 1024):
                    chunks.append(chunk)
                    size += len(chunk)
                    if size > MAX_RESPONSE_BYTES:
                        self.counters["garbage"] += 1
                        raise GarbageResponse(f"{method}: response larger than {MAX_RESPONSE_BYTES} bytes")
            except requests.exceptions.RequestException as exc:
                raise self._transport(method, f"answer cut off: {exc}") from None
        return b"".join(chunks)

    def _transport(self, method: str, message: str, **kw: Any) -> TransportError:
        self.counters["transport_error"] += 1
        log.debug("%s: %s", method, message)
        return TransportError(f"{method}: {message}", **kw)

    # -- methods ------------------------------------------------------------------------------
    def attendance_add(self, project_code: str, team_sys_no: int,
                       items: Sequence[Mapping[str, Any]]) -> str:
        """Send one batch (≤ 20 items of one team, plain ID numbers); the requestSerialCode."""
        return self.submit_attendance(self.attendance_add_data(project_code, team_sys_no, items))

    def submit_attendance(self, data: str) -> str:
        """Send a stored batch's ``data`` string unchanged; the requestSerialCode."""
        return serial_code_of(self.call(METHOD_ATTENDANCE_ADD, data))

    def async_result(self, request_serial_code: str) -> AsyncResult:
        """The platform's verdict on an asynchronous write; ID numbers in failures decrypted."""
        env = self.call(METHOD_ASYNC_RESULT, {"requestSerialCode": request_serial_code})
        return parse_async_result(env.data, self._appsecret)

    def check_sign(self) -> Envelope:
        """``CheckSign.Query`` (version 1.1): are the appid, secret and signing right?"""
        return self.call(METHOD_CHECK_SIGN, {}, version="1.1")

    def project_workers(self, project_code: str, page_size: int = 50, *,
                        team_sys_no: int | None = None) -> Iterator[dict[str, Any]]:
        """Every roster row of the project, page by page (``pageIndex`` 0-based) until
        ``totalCount`` rows were seen, with ``idCardNumber`` decrypted. A ``totalCount`` above
        ``MAX_LISTED_ROWS``, or more pages than that many rows need, raises ``ListingTooLarge``
        (a ``GarbageResponse``, not retryable).

        A row whose ID number cannot be decrypted is skipped, logged (masked) and counted in
        ``counters["bad_roster_row"]``; the other rows still come.
        """
        if not 1 <= page_size <= 1000:
            raise ValueError("page_size must be 1..1000")
        page, seen = 0, 0
        while True:
            query: dict[str, Any] = {"projectCode": project_code, "pageIndex": page, "pageSize": page_size}
            if team_sys_no is not None:
                query["teamSysNo"] = team_sys_no
            _check_paging(METHOD_PROJECT_WORKERS, page, page_size, None)
            data = require_object(self.call(METHOD_PROJECT_WORKERS, query), METHOD_PROJECT_WORKERS)
            rows, total = data.get("rows"), data.get("totalCount")
            if not isinstance(rows, list) or isinstance(total, bool) or not isinstance(total, int):
                raise GarbageResponse(f"{METHOD_PROJECT_WORKERS}: page {page} lacks rows[] or totalCount")
            _check_paging(METHOD_PROJECT_WORKERS, page, page_size, total)
            for position, row in enumerate(rows):
                seen += 1
                decoded = self._roster_row(row, page, position)
                if decoded is not None:
                    yield decoded
            # Stop at totalCount; an empty page also stops a platform whose count is too high.
            if seen >= total or not rows:
                return
            page += 1

    def _roster_row(self, row: Any, page: int, position: int) -> dict[str, Any] | None:
        # Names and ID numbers are personal data: the log line says where the row is, not whose.
        if not isinstance(row, dict):
            self.counters["bad_roster_row"] += 1
            log.warning("roster page %d row %d is %s, not an object; skipped", page, position, type(row).__name__)
            return None
        try:
            plain = codec.decrypt_id(row.get("idCardNumber"), self._appsecret)
        except DecryptError as exc:
            self.counters["bad_roster_row"] += 1
            log.warning("roster page %d row %d: ID number not decryptable (%s); skipped", page, position, exc)
            return None
        return {**row, "idCardNumber": plain}

    def attendance_records(self, project_code: str, day: str, page_size: int = 100, *,
                           team_sys_no: int | None = None,
                           id_card_number: str | None = None) -> Iterator[dict[str, Any]]:
        """``WorkerAttendance.Query``: the attendance the platform holds for one ``day``
        (``yyyy-MM-dd``, Beijing), page by page (``pageIndex`` 0-based) until ``totalCount`` rows,
        with ``idCardNumber`` decrypted. ``id_card_number`` (plain) narrows it to one worker.

        The request fields are the ones public clients send (xn-gchf GovConnecter tests, the
        Hangzhou sample client); the answer's shape (``rows``/``totalCount`` like
        ProjectWorker.Query) is sitegate's assumption, see docs/platform.md. Rows whose ID number
        cannot be decrypted are skipped and counted in ``counters["bad_attendance_row"]``.
        """
        if not 1 <= page_size <= 1000:
            raise ValueError("page_size must be 1..1000")
        page, seen = 0, 0
        while True:
            query: dict[str, Any] = {"projectCode": project_code, "pageIndex": page, "pageSize": page_size,
                                     "date": day}
            if team_sys_no is not None:
                query["teamSysNo"] = team_sys_no
            if id_card_number is not None:
                query["idCardType"] = "01"
                query["idCardNumber"] = codec.encrypt_id(id_card_number, self._appsecret)
            _check_paging(METHOD_ATTENDANCE_QUERY, page, page_size, None)
            data = require_object(self.call(METHOD_ATTENDANCE_QUERY, query), METHOD_ATTENDANCE_QUERY)
            rows, total = data.get("rows"), data.get("totalCount")
            if not isinstance(rows, list) or isinstance(total, bool) or not isinstance(total, int):
                raise GarbageResponse(f"{METHOD_ATTENDANCE_QUERY}: page {page} lacks rows[] or totalCount")
            _check_paging(METHOD_ATTENDANCE_QUERY, page, page_size, total)
            for position, row in enumerate(rows):
                seen += 1
                if not isinstance(row, dict):
                    self.counters["bad_attendance_row"] += 1
                    continue
                try:
                    plain = codec.decrypt_id(row.get("idCardNumber"), self._appsecret)
                except DecryptError as exc:
                    self.counters["bad_attendance_row"] += 1
                    log.warning("attendance page %d row %d: ID number not decryptable (%s); skipped",
                                page, position, exc)
                    continue
                yield {**row, "idCardNumber": plain}
            if seen >= total or not rows:
                return
            page += 1
