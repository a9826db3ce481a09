"""The event photo: a JPEG of the face with some margin, small enough to store and upload.

The platform's attendance record carries a face photo as evidence; a capped crop (not the whole
frame) keeps the store small and keeps bystanders out of the record (personal data: PIPL art. 6,
collect no more than needed). Quality 85 is the usual visually-lossless point for JPEG.
"""
from __future__ import annotations

import numpy as np

from . import _stack
from .box import Box
from .errors import FaceInputError

PHOTO_MARGIN = 0.35        # of the face box, on each side: hair, chin and ears, as on an ID photo
PHOTO_MAX_SIDE = 320       # px; larger crops are scaled down
PHOTO_QUALITY = 85
PHOTO_MAX_BYTES = 48_000   # re-encoded at lower quality if a busy crop exceeds this


def face_jpeg(
    image: np.ndarray,
    box: Box,
    *,
    rgb: bool = False,
    margin: float = PHOTO_MARGIN,
    max_side: int = PHOTO_MAX_SIDE,
    quality: int = PHOTO_QUALITY,
    max_bytes: int = PHOTO_MAX_BYTES,
) -> bytes:
    """JPEG bytes of the face at ``box`` (full-resolution pixels) from a BGR (or ``rgb=True``) frame."""
    cv2 = _stack.cv2()
    h, w = image.shape[:2]
    b = box.expanded(margin, h, w)
    if b.width <= 0 or b.height <= 0:
        raise FaceInputError(f"the face box {tuple(box)} lies outside the {w}×{h} frame")
    crop = image[b.top : b.bottom, b.left : b.right]
    if rgb:
        crop = cv2.cvtColor(crop, cv2.COLOR_RGB2BGR)
    longest = max(crop.shape[:2])
    if longest > max_side:
        f = max_side / longest
        crop = cv2.resize(crop, None, fx=f, fy=f, interpolation=cv2.INTER_AREA)
    while True:
        ok, buf = cv2.imencode(".jpg", crop, [cv2.IMWRITE_JPEG_QUALITY, quality])
        if not ok:  # OpenCV fails only on an empty crop, excluded above
            raise FaceInputError("cv2.imencode could not encode the face crop")
        data = buf.tobytes()
        if len(data) <= max_bytes or quality <= 40:
            return data
        quality -= 15
