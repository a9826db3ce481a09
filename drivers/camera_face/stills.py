"""Faces in still photos: enrolment photos and ``sitegate faces identify``.

A photo is not a camera stream: there is no next frame and time is not short, so detection runs
at a higher resolution than the camera path (short side up to 720 px, one upsampling step for
small photos so faces down to ~20 px are found and can be refused as too small rather than
missed).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .box import Box
from .detect import FaceDetector, check_image
from .encode import FaceEncoder
from .errors import FaceInputError
from .gallery import DEFAULT_TOLERANCE, Gallery

PHOTO_SHORT_SIDE = 720
SMALL_PHOTO_SHORT_SIDE = 480


@dataclass(frozen=True)
class PhotoFace:
    box: Box
    encoding: np.ndarray | None   # (128,) float32; None when asked not to encode


@dataclass(frozen=True)
class Identified:
    box: Box
    worker_id: str | None
    distance: float | None


def load_image(path: str | Path) -> np.ndarray:
    """A photo file as an RGB uint8 array, turned upright by its EXIF orientation (phone photos)."""
    from PIL import Image, ImageOps, UnidentifiedImageError

    try:
        with Image.open(path) as im:
            upright = ImageOps.exif_transpose(im)
            return np.asarray(upright.convert("RGB"), dtype=np.uint8).copy()
    except (OSError, UnidentifiedImageError, ValueError) as exc:
        raise FaceInputError(f"cannot read the photo {path}: {exc}") from exc


def photo_detector(rgb: np.ndarray, min_face_px: int = 0) -> FaceDetector:
    """A detector sized for this photo (see module docstring)."""
    short = min(rgb.shape[:2])
    scale = min(1.0, PHOTO_SHORT_SIDE / short)
    upsample = 1 if short * scale < SMALL_PHOTO_SHORT_SIDE else 0
    return FaceDetector(detect_scale=scale, upsample=upsample, min_face_px=min_face_px)


def find_faces(rgb: np.ndarray, *, min_face_px: int = 0, encode: bool = True,
               encoder: FaceEncoder | None = None) -> list[PhotoFace]:
    """Every face in an RGB photo, largest first, with its encoding (None when ``encode`` is False)."""
    rgb = check_image(rgb, "photo")
    boxes = [d.box for d in photo_detector(rgb, min_face_px).detect(rgb)]
    if not encode:
        return [PhotoFace(b, None) for b in boxes]
    encodings = (encoder or FaceEncoder()).encode(rgb, boxes)
    return [PhotoFace(b, e) for b, e in zip(boxes, encodings)]


def identify(rgb: np.ndarray, gallery: Gallery, tolerance: float = DEFAULT_TOLERANCE,
             *, min_face_px: int = 0) -> list[Identified]:
    """Who each face in the photo is (one gallery query for all faces), largest face first."""
    faces = find_faces(rgb, min_face_px=min_face_px)
    if not faces:
        return []
    matches = gallery.match(np.stack([f.encoding for f in faces]), tolerance)
    return [Identified(f.box, m.worker_id, m.distance) for f, m in zip(faces, matches)]
