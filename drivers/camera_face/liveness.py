"""Blink liveness from the eye aspect ratio (EAR) of the 68-point landmarks.

EAR = (|p2−p6| + |p3−p5|) / (2 |p1−p4|) over the six points of one eye (Soukupová & Čech,
"Real-Time Eye Blink Detection using Facial Landmarks", CVWW 2016): 0.2–0.5 for an open eye
depending on the person, expression and face size (a smile narrows the eyes: Obama's in obama.jpg
measure 0.22; the 86 px face of the sample clip measures 0.28–0.50), falling towards 0.05–0.1 when the eye closes. So thresholds are relative to the
track's own open-eye level: the median EAR of its last 15 frames that were not closed, so a
landmark outlier barely moves it and a blink does not pull it down. A blink is open (≥ 85 % of
that level) → closed (< 70 %) for at least ``min_closed_frames`` → open again. The gap between the two ratios is hysteresis, so landmark jitter on a still photo
(a few percent) is not counted as blinks. The paper's SVM over a 13-frame EAR window is more
robust but needs a steady ~30 fps; this threshold variant is the paper's baseline.

What this does and does not stop, honestly: it rejects a printed photo or a still image on a
phone held up to the camera. It does NOT stop a video replay on a screen (the video blinks), a
photo with the eyes cut out, or a mask; and on faces under ~100 px landmark jitter can fake or
hide a blink. It is a deterrent for the laziest attack, not an anti-spoofing certification — a
site that needs more must use a face terminal with IR/depth liveness.
"""
from __future__ import annotations

import math
import statistics
from collections import deque
from collections.abc import Sequence

Point = tuple[float, float]

CLOSED_RATIO = 0.70      # of the open level
OPEN_RATIO = 0.85
MIN_OPEN_EAR = 0.15      # below this the eye never counts as open (bad landmarks, side view)
MAX_OPEN_EAR = 0.6       # higher values are landmark outliers (capped)
LEVEL_WINDOW = 15        # frames whose median EAR is the open level


def eye_aspect_ratio(eye: Sequence[Point]) -> float:
    """EAR of one eye given its six landmarks p1..p6 in dlib order (corner, top×2, corner, bottom×2)."""
    if len(eye) != 6:
        raise ValueError(f"an eye has 6 landmarks, got {len(eye)}")
    p1, p2, p3, p4, p5, p6 = eye
    width = math.dist(p1, p4)
    if width == 0:
        return 0.0
    return (math.dist(p2, p6) + math.dist(p3, p5)) / (2.0 * width)


class BlinkDetector:
    """Feeds one EAR per frame; ``blinked`` becomes True after a complete open–closed–open cycle."""

    def __init__(self, closed_ratio: float = CLOSED_RATIO, open_ratio: float = OPEN_RATIO,
                 min_closed_frames: int = 1):
        if not 0 < closed_ratio < open_ratio <= 1:
            raise ValueError("need 0 < closed_ratio < open_ratio <= 1")
        self.closed_ratio = closed_ratio
        self.open_ratio = open_ratio
        self.min_closed_frames = min_closed_frames
        self.blinked = False
        self.open_level = 0.0
        self._recent: deque[float] = deque(maxlen=LEVEL_WINDOW)
        self._seen_open = False
        self._closed_run = 0
        self.samples = 0

    def update(self, ear: float) -> bool:
        """Record this frame's EAR (mean of both eyes); returns ``blinked``."""
        self.samples += 1
        if self.blinked:
            return True
        capped = min(ear, MAX_OPEN_EAR)
        if not self._recent or capped >= self.closed_ratio * self.open_level:
            self._recent.append(capped)  # closed-eye frames stay out of the open level
            self.open_level = statistics.median(self._recent)
        if self.open_level < MIN_OPEN_EAR:
            return False
        if ear >= self.open_ratio * self.open_level:
            if self._seen_open and self._closed_run >= self.min_closed_frames:
                self.blinked = True
            self._seen_open = True
            self._closed_run = 0
        elif ear < self.closed_ratio * self.open_level:
            if self._seen_open:
                self._closed_run += 1
        # between the two ratios: neither opens nor closes (hysteresis)
        return self.blinked

    def update_eyes(self, left: Sequence[Point], right: Sequence[Point]) -> bool:
        return self.update((eye_aspect_ratio(left) + eye_aspect_ratio(right)) / 2.0)
