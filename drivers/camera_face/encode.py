"""128-d face encodings (dlib's ResNet face descriptor) and 68-point landmarks at full resolution.

Encodings are computed from the full-resolution frame at the box found on the downscaled copy:
the descriptor is taken from a 150×150 aligned chip, so detail lost by downscaling would cost
accuracy, while detection does not need it. ``num_jitters=1`` (no re-sampling): jitter makes an
encoding ~N times slower for a small gain that matters at enrolment, not at the gate.
Source: face_recognition api.py ``face_encodings`` / ``face_landmarks`` (ageitgey, MIT); dlib
``face_recognition_model_v1`` (dlib.net, 99.38% on LFW at distance 0.6).
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from . import _stack
from .box import Box

ENCODING_DIM = 128

Point = tuple[int, int]


class FaceEncoder:
    """Encodes faces of an RGB image at given boxes; the models load on first use."""

    def __init__(self, num_jitters: int = 1):
        if num_jitters < 1:
            raise ValueError(f"num_jitters must be >= 1, got {num_jitters}")
        self.num_jitters = num_jitters
        self.encoded = 0  # how many faces this encoder has encoded (the expensive step)

    def encode(self, rgb: np.ndarray, boxes: Sequence[Box]) -> np.ndarray:
        """A (len(boxes), 128) float32 matrix, one row per box, in the order given."""
        if not boxes:
            return np.empty((0, ENCODING_DIM), dtype=np.float32)
        fr = _stack.face_recognition()
        rows = fr.face_encodings(rgb, known_face_locations=[tuple(b) for b in boxes],
                                 num_jitters=self.num_jitters, model="small")
        self.encoded += len(rows)
        return np.asarray(rows, dtype=np.float32).reshape(len(boxes), ENCODING_DIM)

    @staticmethod
    def eyes(rgb: np.ndarray, boxes: Sequence[Box]) -> list[tuple[list[Point], list[Point]]]:
        """(left eye, right eye) six points each, from the 68-point landmark model, per box."""
        if not boxes:
            return []
        fr = _stack.face_recognition()
        marks = fr.face_landmarks(rgb, face_locations=[tuple(b) for b in boxes], model="large")
        return [(m["left_eye"], m["right_eye"]) for m in marks]
