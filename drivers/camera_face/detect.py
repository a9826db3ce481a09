"""Face detection with dlib's HOG detector on a downscaled copy of the frame.

HOG detection cost grows with the pixel count. dlib's frontal detector scans an 80×80 window over
an image pyramid, so it finds faces from about 80 px up (smaller ones need upsampling: 4× the
cost per step; the smallest boxes it returned on the sample clip were 70–90 px). The frame is
therefore scaled down as far as the smallest face we want allows: to a ~360 px short side, but
never so far that a ``min_face_px`` face shrinks below 80 px. With the camera default of 120 px
that is ×0.67 at 720p and ×0.44 at 1080p: 2–5× cheaper than the full frame, and every face
large enough to be decided is still found. Boxes are mapped back to full resolution, where
encodings are computed. (face_recognition's ``face_locations`` upsamples ×2 by default: the
expensive way.)
Sources: dlib ``get_frontal_face_detector`` (Dalal & Triggs HOG + linear SVM), dlib.net;
face_recognition api.py (ageitgey/face_recognition, MIT).
"""
from __future__ import annotations

import logging
import threading
from dataclasses import dataclass

import numpy as np

from . import _stack
from .box import Box
from .errors import FaceInputError

log = logging.getLogger(__name__)

DEFAULT_DETECT_SHORT_SIDE = 360
# A gate camera decides the person at the reader, whose face is the largest; faces under ~120 px
# are people further back, and encode less reliably (the sample clip's 86 px face measured up to
# 0.70 from its own enrolment). Set lower for wide scenes, at the price of a larger detect scale.
DEFAULT_MIN_FACE_PX = 120
HOG_MIN_FACE_PX = 80   # dlib's detection window: the smallest face found without upsampling


_per_thread = threading.local()


def _hog_detector():
    """dlib's frontal detector, built once per thread (≈0.2 s to build; a detector object keeps
    scratch state while it runs, so threads do not share one)."""
    detector = getattr(_per_thread, "detector", None)
    if detector is None:
        detector = _per_thread.detector = _stack.dlib().get_frontal_face_detector()
    return detector


@dataclass(frozen=True)
class Detection:
    box: Box          # full-resolution pixels
    score: float      # the HOG SVM margin (> 0; higher = more face-like)


def check_image(image: object, what: str = "frame") -> np.ndarray:
    """Return ``image`` as a C-contiguous H×W×3 uint8 array, or raise FaceInputError saying why not."""
    if not isinstance(image, np.ndarray):
        raise FaceInputError(f"{what} must be a numpy array, got {type(image).__name__}")
    if image.dtype != np.uint8:
        raise FaceInputError(f"{what} must be uint8 pixels, got dtype {image.dtype}")
    if image.ndim != 3 or image.shape[2] != 3:
        raise FaceInputError(f"{what} must be H×W×3 (colour), got shape {image.shape}")
    if image.shape[0] < 16 or image.shape[1] < 16:
        raise FaceInputError(f"{what} is too small to hold a face: {image.shape[1]}×{image.shape[0]} px")
    return np.ascontiguousarray(image)


class FaceDetector:
    """Finds faces in an RGB image; returns full-resolution boxes of faces ≥ ``min_face_px``.

    ``detect_scale`` fixes the downscale factor (0 < s ≤ 1); when None the factor is chosen per
    frame so the short side becomes ``detect_short_side`` — but never so small that a
    ``min_face_px`` face falls under the detector's 80 px window, and never upscaled.
    ``upsample`` is dlib's pyramid upsampling (each step finds 2× smaller faces at ~4× the cost).
    """

    def __init__(
        self,
        *,
        detect_scale: float | None = None,
        detect_short_side: int = DEFAULT_DETECT_SHORT_SIDE,
        upsample: int = 0,
        min_face_px: int = DEFAULT_MIN_FACE_PX,
    ):
        if detect_scale is not None and not 0 < detect_scale <= 1:
            raise ValueError(f"detect_scale must be in (0, 1], got {detect_scale}")
        if detect_short_side < 64:
            raise ValueError(f"detect_short_side must be >= 64 px, got {detect_short_side}")
        if upsample not in (0, 1, 2):
            raise ValueError(f"upsample must be 0, 1 or 2, got {upsample}")
        self.detect_scale = detect_scale
        self.detect_short_side = detect_short_side
        self.upsample = upsample
        self.min_face_px = int(min_face_px)
        self.too_small = 0  # faces found but below min_face_px (counted, not returned)
        if detect_scale is not None and self.min_face_px > 0 and HOG_MIN_FACE_PX / (detect_scale * 2**upsample) > self.min_face_px:
            log.warning("detect_scale %.2f finds faces from about %d px only, min_face_px is %d",
                        detect_scale, HOG_MIN_FACE_PX / (detect_scale * 2**upsample), self.min_face_px)

    def scale_for(self, height: int, width: int) -> float:
        if self.detect_scale is not None:
            return self.detect_scale
        cheap = self.detect_short_side / float(min(height, width))
        enough = HOG_MIN_FACE_PX / (max(1, self.min_face_px) * 2**self.upsample)
        return min(1.0, max(cheap, enough))

    def detect(self, rgb: np.ndarray) -> list[Detection]:
        """Faces in ``rgb`` (H×W×3 uint8, RGB order), largest first, each ≥ ``min_face_px``."""
        rgb = check_image(rgb)
        cv2 = _stack.cv2()
        h, w = rgb.shape[:2]
        s = self.scale_for(h, w)
        small = rgb if s == 1.0 else cv2.resize(rgb, None, fx=s, fy=s, interpolation=cv2.INTER_AREA)
        rects, scores, _ = _hog_detector().run(small, self.upsample, 0.0)
        found: list[Detection] = []
        for rect, score in zip(rects, scores):
            box = Box(rect.top(), rect.right(), rect.bottom(), rect.left()).scaled(1.0 / s).clipped(h, w)
            if box.side < self.min_face_px:
                self.too_small += 1
                continue
            found.append(Detection(box, float(score)))
        found.sort(key=lambda d: d.box.area, reverse=True)
        return found
