"""Fit a clock-in photo under the platform's 50 KB image limit (reference/protocols.md §5).

Camera and face-terminal snapshots are often 100-300 KB; the platform refuses a record whose image
is larger than 50 KB. Re-encoding with Pillow, first lowering the JPEG quality and then the size,
keeps the face recognisable (a face crop needs far fewer pixels than a full frame).
"""
from __future__ import annotations

import base64
import io

from sitegate.uplink.national.attendance import JPEG_MAGIC, SAFE_IMAGE_BYTES
from sitegate.uplink.national.errors import InvalidRecord

_QUALITIES = (85, 75, 65, 55, 45)
_MIN_SIDE = 64  # below this a face photo is useless; give up rather than send a smudge


def jpeg_for_upload(image: bytes, max_bytes: int = SAFE_IMAGE_BYTES) -> str:
    """Base64 of a JPEG no larger than ``max_bytes``: ``image`` unchanged when it already fits,
    otherwise re-encoded. InvalidRecord when ``image`` is not a picture or cannot be made to fit.
    """
    if image.startswith(JPEG_MAGIC) and len(image) <= max_bytes:
        return base64.b64encode(image).decode("ascii")
    from PIL import Image, UnidentifiedImageError  # heavy import only when a photo must shrink

    try:
        with Image.open(io.BytesIO(image)) as src:
            picture = src.convert("RGB")
    except (UnidentifiedImageError, OSError, ValueError) as exc:
        raise InvalidRecord(f"image cannot be decoded: {exc}") from None
    while min(picture.size) >= _MIN_SIDE:
        for quality in _QUALITIES:
            out = io.BytesIO()
            picture.save(out, "JPEG", quality=quality, optimize=True)
            if out.tell() <= max_bytes:
                return base64.b64encode(out.getvalue()).decode("ascii")
        picture = picture.resize((picture.width * 3 // 4, picture.height * 3 // 4))
    raise InvalidRecord(f"image cannot be made smaller than {max_bytes} bytes")
