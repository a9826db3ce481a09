"""When to encode a tracked face, and when its identity is settled: the per-track rules.

A face is encoded when its track starts. That one look settles the track when it is a clear
answer: a match within the tolerance, or a nearest distance well beyond it. Otherwise the track
gets a re-check — at most ``max_encodings`` looks in all, each on a later frame:

- the look was poor (blurred, or the face cut off at the frame edge): encode the next good frame;
- the nearest distance fell in the grey band just above the tolerance: encode again
  ``recheck_gap_frames`` later, when pose and expression have changed.

A match on a good look settles the track; after ``settle_frames`` frames, or when the looks are
used up, the best look decides (good looks before poor ones, matches before non-matches).

Why the grey band: on the 360p sample clip the same person's 86 px face measured 0.52–0.70 from
his own enrolment over the first 10 frames he was visible (moving, singing, stage light), later
0.05–0.62, while different people in the test photos were ≥ 0.69 apart. A look at a bad instant
should not turn a worker into a stranger. The price: a stranger in the band gets up to
``max_encodings`` chances to come under the tolerance — keep the band narrow and the tolerance
tight (0.5) on large galleries.
Pure logic over numbers; no images.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .box import Box
from .gallery import Match


@dataclass(frozen=True)
class DecisionRules:
    tolerance: float
    max_encodings: int = 3
    recheck_gap_frames: int = 4
    settle_frames: int = 15
    grey_band: float = 0.1

    def __post_init__(self) -> None:
        if not self.tolerance > 0:
            raise ValueError(f"tolerance must be positive, got {self.tolerance}")
        if self.max_encodings < 1:
            raise ValueError(f"max_encodings must be >= 1, got {self.max_encodings}")
        if self.grey_band < 0 or self.recheck_gap_frames < 1 or self.settle_frames < 0:
            raise ValueError("grey_band >= 0, recheck_gap_frames >= 1 and settle_frames >= 0 are required")

    def is_grey(self, match: Match) -> bool:
        d = match.distance
        return d is not None and self.tolerance < d <= self.tolerance + self.grey_band


@dataclass
class Sample:
    """One look at a tracked face: its encoding, gallery answer and photo."""

    encoding: np.ndarray
    match: Match
    box: Box
    photo: bytes
    sharpness: float
    good: bool          # sharp enough and not cut off by the frame edge
    frame: int

    def rank(self) -> tuple[float, float]:
        """Lower is a better basis for the decision: nearest distance, then sharpness."""
        d = self.match.distance
        return (np.inf if d is None else d, -self.sharpness)


@dataclass
class TrackVerdict:
    """The looks taken at one track and whether they settle who it is."""

    rules: DecisionRules
    samples: list[Sample] = field(default_factory=list)
    decided: bool = False

    @property
    def encodings(self) -> int:
        return len(self.samples)

    @property
    def best(self) -> Sample | None:
        """The look the decision rests on: good looks before poor ones (a blurred face drifts
        towards an average face and can match the wrong person), matches before non-matches,
        then the nearest."""
        pool = [s for s in self.samples if s.good] or self.samples
        matched = [s for s in pool if s.match.worker_id is not None]
        return min(matched or pool, key=Sample.rank) if pool else None

    def wants_look(self, frame: int, good_now: bool) -> bool:
        """Should the face be encoded on this frame?"""
        if self.decided:
            return False
        if not self.samples:
            return True
        if len(self.samples) >= self.rules.max_encodings or not good_now:
            return False
        best = self.best
        if not best.good:
            return True  # every look so far was poor: take this better one
        if best.match.worker_id is not None:
            return False
        return self.rules.is_grey(best.match) and frame - self.samples[-1].frame >= self.rules.recheck_gap_frames

    def settled(self, frame: int) -> bool:
        """Is the identity answer final on this frame?"""
        if not self.samples:
            return False
        if len(self.samples) >= self.rules.max_encodings or frame - self.samples[0].frame >= self.rules.settle_frames:
            return True
        best = self.best
        if not best.good:
            return False
        return best.match.worker_id is not None or not self.rules.is_grey(best.match)
