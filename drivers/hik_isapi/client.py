"""A thin ISAPI client over ``requests`` with digest authentication: returns the codec's
dataclasses and raises only sitegate's errors:

- ``AuthRefused`` (a ``DeviceUnavailable``): the terminal refused the username/password;
- ``DeviceUnavailable``: unreachable, timed out, HTTP 5xx;
- ``IsapiError`` (a ``ProtocolError``): the terminal answered, but with a failure status or with
  something that is not ISAPI.
"""
from __future__ import annotations

import json
import logging
import uuid
from datetime import datetime
from typing import Any, Iterator
from urllib.parse import urlsplit

import requests
from requests.auth import HTTPDigestAuth

from sitegate.drivers.api import DeviceUnavailable
from sitegate.errors import ProtocolError

from . import search, users
from .codec import ResponseStatus, parse_json, parse_status

log = logging.getLogger(__name__)

MAX_PAGES = 10_000            # a terminal that keeps answering MORE without progress is broken


class AuthRefused(DeviceUnavailable):
    """Digest authentication failed: wrong username or password (or the account is locked)."""


class IsapiError(ProtocolError):
    def __init__(self, message: str, status: ResponseStatus | None = None):
        super().__init__(message)
        self.status = status


def base_url(host: str) -> str:
    """``192.168.1.64``, ``192.168.1.64:8000`` or a full URL -> ``http(s)://host[:port]``."""
    host = host.strip().rstrip("/")
    return host if host.startswith(("http://", "https://")) else f"http://{host}"


def terminal_address_problem(host: str) -> str | None:
    """Why ``host`` is not a terminal address (for the config check), or None."""
    try:
        parts = urlsplit(base_url(host))
        parts.port   # noqa: B018 - raises ValueError for a bad port
    except ValueError:
        return "has a bad port; use host, host:port or http(s)://host:port"
    if not parts.hostname or parts.path not in ("", "/") or parts.query:
        return "must be host, host:port or http(s)://host:port"
    return None


class IsapiClient:
    def __init__(self, host: str, username: str, password: str, *, verify_tls: bool = True, timeout_s: float = 10.0):
        self.base = base_url(host)
        self.username = username
        self.timeout_s = timeout_s
        self._session = requests.Session()
        self._session.auth = HTTPDigestAuth(username, password)
        self._session.verify = verify_tls

    def close(self) -> None:
        self._session.close()

    # -- plumbing --------------------------------------------------------------------------------
    def _request(self, method: str, path: str, *, body: dict[str, Any] | None = None, data: bytes | None = None,
                 content_type: str = "application/json") -> Any:
        payload = json.dumps(body, ensure_ascii=False).encode("utf-8") if body is not None else data
        try:
            resp = self._session.request(method, self.base + path, data=payload, timeout=self.timeout_s,
                                         headers={"Content-Type": content_type} if payload is not None else None)
        except requests.exceptions.SSLError as exc:
            raise DeviceUnavailable(f"TLS failure talking to {self.base}: {exc}") from None
        except requests.RequestException as exc:
            raise DeviceUnavailable(f"{self.base} unreachable: {type(exc).__name__}") from None
        if resp.status_code == 401:
            raise AuthRefused(f"{self.base} refused the credentials of user {self.username!r} "
                              "(HTTP 401 after digest authentication): check username and password_file")
        if resp.status_code >= 500:
            raise DeviceUnavailable(f"{self.base}{path.split('?')[0]}: HTTP {resp.status_code}")
        try:
            doc = parse_json(resp.content, f"answer to {path.split('?')[0]}")
        except ProtocolError as exc:
            raise IsapiError(f"HTTP {resp.status_code}: {exc}") from None
        if resp.status_code >= 400 or (isinstance(doc, dict) and "statusCode" in doc and doc.get("statusCode") != 1):
            status = parse_status(doc) if isinstance(doc, dict) and "statusCode" in doc else None
            raise IsapiError(f"{path.split('?')[0]}: HTTP {resp.status_code} "
                             f"{status.describe() if status else ''}".strip(), status)
        return doc

    # -- operations ------------------------------------------------------------------------------
    def user_count(self) -> int:
        """A cheap authenticated call: the probe for health."""
        doc = self._request("GET", users.COUNT_PATH)
        count = doc.get("UserInfoCount", {}).get("userNumber") if isinstance(doc, dict) else None
        if not isinstance(count, int):
            raise IsapiError("UserInfo/Count answer without userNumber")
        return count

    def search_events(self, start: datetime, end: datetime, page_size: int) -> Iterator[search.SearchPage]:
        """Every page of the terminal's access events between start and end."""
        search_id = uuid.uuid4().hex
        position = 0
        for _ in range(MAX_PAGES):
            doc = self._request("POST", search.PATH, body=search.request_body(search_id, position, page_size, start, end))
            try:
                page = search.parse_response(doc)
            except ProtocolError as exc:
                raise IsapiError(f"AcsEvent: {exc}") from None
            yield page
            if not page.more:
                return
            if page.num_matches <= 0:
                raise IsapiError("AcsEvent answered MORE with no events")
            position += page.num_matches
        raise IsapiError(f"AcsEvent still answers MORE after {MAX_PAGES} pages")

    def list_users(self, page_size: int) -> list[users.TerminalUser]:
        search_id = uuid.uuid4().hex
        out: list[users.TerminalUser] = []
        for _ in range(MAX_PAGES):
            doc = self._request("POST", users.SEARCH_PATH, body=users.search_body(search_id, len(out), page_size))
            try:
                page = users.parse_search_response(doc)
            except ProtocolError as exc:
                raise IsapiError(f"UserInfo/Search: {exc}") from None
            out.extend(page.users)
            if not page.more:
                return out
            if not page.users:
                raise IsapiError("UserInfo/Search answered MORE with no users")
        raise IsapiError(f"UserInfo/Search still answers MORE after {MAX_PAGES} pages")

    def set_up_user(self, user: users.TerminalUser) -> None:
        self._request("PUT", users.SETUP_PATH, body=users.setup_body(user))

    def delete_users(self, employee_nos: list[str]) -> None:
        self._request("PUT", users.DELETE_PATH, body=users.delete_body(employee_nos))

    def upload_face(self, employee_no: str, jpeg: bytes) -> None:
        body, content_type = users.face_upload(employee_no, jpeg)
        self._request("POST", users.FACE_PATH, data=body, content_type=content_type)
