"""Image quality: how sharp a face is, and the checks an enrolment photo must pass.

Sharpness is the variance of the Laplacian of the grey face crop (Pech-Pacheco et al., "Diatom
autofocusing in brightfield microscopy: a comparative study", ICPR 2000; the usual OpenCV focus
measure). The crop is first resized to a fixed 128 px width so the figure does not depend on the
face's pixel size. Measured on the 21 faces of the test photos in shared/data/faces: sharp
faces 114–1589 (median ≈ 500); the same faces after a Gaussian blur of σ = 1 px at 128 px width
(slightly soft) 24–82, σ = 2 px (out of focus, or moving) 7–22, σ = 3 px 4–10. The enrolment
threshold is 50: about half the least sharp real photo and over twice the σ = 2 blur, so a soft
but usable photo passes and a clearly blurred one is refused. The camera path uses the measure
only to prefer a sharper frame for a re-check, never to refuse.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from . import _stack
from .box import Box
from .encode import FaceEncoder
from .errors import EnrolmentRefused, FaceInputError
from .stills import find_faces, load_image

SHARPNESS_WIDTH = 128
ENROL_BLUR_THRESHOLD = 50.0
CAMERA_BLUR_THRESHOLD = 30.0
ENROL_MIN_FACE_PX = 100   # dlib aligns faces to 150×150 chips: much smaller faces encode poorly


def sharpness(rgb: np.ndarray, box: Box) -> float:
    """Variance of the Laplacian of the face crop at a fixed width (higher = sharper)."""
    cv2 = _stack.cv2()
    h, w = rgb.shape[:2]
    b = box.clipped(h, w)
    if b.width < 4 or b.height < 4:
        return 0.0
    crop = cv2.cvtColor(rgb[b.top : b.bottom, b.left : b.right], cv2.COLOR_RGB2GRAY)
    height = max(4, int(round(b.height * SHARPNESS_WIDTH / b.width)))
    crop = cv2.resize(crop, (SHARPNESS_WIDTH, height), interpolation=cv2.INTER_AREA)
    return float(cv2.Laplacian(crop, cv2.CV_64F).var())


@dataclass(frozen=True)
class EnrolmentFace:
    encoding: np.ndarray    # (128,) float32: what goes (encrypted) into the store and the gallery
    box: Box
    sharpness: float


def check_enrolment_photo(
    rgb: np.ndarray,
    *,
    min_face_px: int = ENROL_MIN_FACE_PX,
    blur_threshold: float = ENROL_BLUR_THRESHOLD,
    encoder: FaceEncoder | None = None,
) -> EnrolmentFace:
    """The encoding of the one face in an enrolment photo, or EnrolmentRefused saying what to fix."""
    try:
        faces = find_faces(rgb, encode=False)
    except FaceInputError as exc:
        raise EnrolmentRefused("unreadable", str(exc)) from exc
    if not faces:
        raise EnrolmentRefused("no_face", "no face found in the photo: the face must be frontal, uncovered and lit")
    if len(faces) > 1:
        raise EnrolmentRefused(
            "several_faces", f"{len(faces)} faces found in the photo: it must show exactly one person"
        )
    box = faces[0].box
    if box.side < min_face_px:
        raise EnrolmentRefused(
            "too_small", f"the face is {box.side} px across, at least {min_face_px} px are needed: come closer"
        )
    sharp = sharpness(rgb, box)
    if sharp < blur_threshold:
        raise EnrolmentRefused(
            "blurred", f"the face is blurred (sharpness {sharp:.0f}, at least {blur_threshold:.0f} needed): hold still"
        )
    encoding = (encoder or FaceEncoder()).encode(rgb, [box])[0]
    return EnrolmentFace(encoding, box, sharp)


def enrolment_encoding_from_file(path: str | Path, **kwargs) -> EnrolmentFace:
    """Load a photo file (EXIF-upright) and check it as an enrolment photo."""
    try:
        rgb = load_image(path)
    except FaceInputError as exc:
        raise EnrolmentRefused("unreadable", str(exc)) from exc
    return check_enrolment_photo(rgb, **kwargs)
