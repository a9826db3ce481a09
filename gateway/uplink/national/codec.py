"""The national OpenAPI codec: pure functions from values to the signed form and back.

This module is the profile's one import point for pure code; it builds the form and re-exports
the signing, time, envelope and record helpers that live in their own small modules. Sources:
reference/protocols.md §5 (ibisTime/xn-gchf, Fujian and Hangzhou clients); the worked example in
shared/data/vectors/vectors.json (key ``national``) is reproduced by the tests.
"""
from __future__ import annotations

from sitegate.uplink.national.attendance import (  # noqa: F401  (re-exported)
    ATTEND_TYPES,
    DIRECTION_IN,
    DIRECTION_OUT,
    MAX_ITEMS,
    METHOD_ATTEND_TYPE,
    PLATFORM_IMAGE_BYTES,
    SAFE_IMAGE_BYTES,
    attend_type_for,
    attendance_add_data,
    attendance_add_payload,
    attendance_item,
    check_image,
)
from sitegate.uplink.national.beijing import (  # noqa: F401
    beijing_time,
    beijing_timestamp,
    parse_beijing_time,
    parse_beijing_timestamp,
)
from sitegate.uplink.national.codes import (  # noqa: F401
    ResultCode,
    classify,
    is_config_fault,
    is_content_fault,
    is_retryable,
)
from sitegate.uplink.national.crypto import (  # noqa: F401
    SIGNED_FIELDS,
    check_secret,
    decrypt_id,
    encrypt_id,
    sign,
    sign_matches,
)
from sitegate.uplink.national.envelope import (  # noqa: F401
    AsyncResult,
    AsyncStatus,
    Envelope,
    RecordFailure,
    parse_async_result,
    parse_response,
    request_serial_code,
)
from sitegate.uplink.national.errors import GarbageResponse  # noqa: F401
from sitegate.uplink.national.payload import dump_data

FORMAT = "json"
DEFAULT_VERSION = "1.0"


def build_form(method: str, data: dict | str, appid: str, appsecret: str, *,
               timestamp: str, nonce: str, version: str = DEFAULT_VERSION) -> dict[str, str]:
    """The complete form of one call, ``sign`` included; the secret itself is never in it."""
    for name, value in (("method", method), ("appid", appid), ("timestamp", timestamp),
                        ("nonce", nonce), ("version", version)):
        if not isinstance(value, str) or not value:
            raise ValueError(f"{name} must be a non-empty string")
    form = {
        "appid": appid,
        "method": method,
        "version": version,
        "format": FORMAT,
        "timestamp": timestamp,
        "nonce": nonce,
        "data": dump_data(data),
    }
    form["sign"] = sign(form, appsecret)
    return form
