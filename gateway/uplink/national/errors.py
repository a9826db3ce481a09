"""The errors of the national OpenAPI profile, shaped for the delivery engine's decisions.

Each error says whether the request may have reached the platform (``maybe_delivered``): a batch
whose answer was lost must be reconciled, not resent as new (reference/protocols.md §5).
"""
from __future__ import annotations

from sitegate.errors import ProtocolError, SitegateError, UsageError
from sitegate.uplink.national.codes import is_config_fault, is_content_fault, is_retryable


class BadSecret(UsageError):
    """The appsecret cannot serve as an AES-256 key (it must be 32 bytes of UTF-8)."""


class DecryptError(ProtocolError):
    """A ciphertext (an encrypted ID number) that is not valid Base64 / AES-CBC / PKCS7 / UTF-8."""


class InvalidRecord(SitegateError):
    """A record that cannot be put into the platform's format (the message names the field)."""


class GarbageResponse(ProtocolError):
    """The platform answered, but not with a JSON envelope; the request may have been processed."""

    maybe_delivered = True
    retryable = True

    def __init__(self, message: str, body: bytes = b""):
        super().__init__(message)
        self.body = body[:200]  # enough to see what came back, never a whole HTML page in a log


class TransportError(ProtocolError):
    """No usable HTTP answer: connection refused or reset, timeout, TLS failure, HTTP 5xx/4xx.

    ``maybe_delivered`` is False only when the request certainly never left (connect failed);
    ``retryable`` is False for HTTP statuses that retrying cannot cure (404, 403, …).
    """

    def __init__(self, message: str, *, status: int | None = None,
                 maybe_delivered: bool = True, retryable: bool = True):
        super().__init__(message)
        self.status = status
        self.maybe_delivered = maybe_delivered
        self.retryable = retryable


class PlatformError(SitegateError):
    """The platform answered with an envelope whose code is not 0."""

    maybe_delivered = False  # a coded refusal means the platform did not take the batch

    def __init__(self, code: int, message: str):
        super().__init__(f"platform code {code}: {message}")
        self.code = code
        self.message = message
        self.retryable = is_retryable(code)
        self.config_fault = is_config_fault(code)
        self.content_fault = is_content_fault(code)
