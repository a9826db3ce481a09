"""National construction-worker platform OpenAPI (全国建筑工人管理服务信息平台), reference/protocols.md §5.

- ``codec``  pure: signing, ID-number AES, the form, Beijing time, envelopes, async results, records
- ``client`` ``NationalClient`` over requests: one signed call → one Envelope or one error
- ``errors`` TransportError / GarbageResponse / PlatformError / InvalidRecord / DecryptError / BadSecret
"""
from sitegate.uplink.national.client import NationalClient
from sitegate.uplink.national.errors import (
    BadSecret,
    DecryptError,
    GarbageResponse,
    InvalidRecord,
    PlatformError,
    TransportError,
)

__all__ = [
    "NationalClient",
    "BadSecret",
    "DecryptError",
    "GarbageResponse",
    "InvalidRecord",
    "PlatformError",
    "TransportError",
]
