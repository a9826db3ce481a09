"""Face boxes in face_recognition's (top, right, bottom, left) pixel order, and their geometry."""
from __future__ import annotations

from typing import NamedTuple


class Box(NamedTuple):
    """A face box in full-resolution pixels; ``right``/``bottom`` are exclusive like dlib's CSS tuples."""

    top: int
    right: int
    bottom: int
    left: int

    @property
    def width(self) -> int:
        return self.right - self.left

    @property
    def height(self) -> int:
        return self.bottom - self.top

    @property
    def side(self) -> int:
        """The shorter side: what ``min_face_px`` is compared with."""
        return min(self.width, self.height)

    @property
    def area(self) -> int:
        return max(0, self.width) * max(0, self.height)

    @property
    def center(self) -> tuple[float, float]:
        return ((self.left + self.right) / 2.0, (self.top + self.bottom) / 2.0)

    def scaled(self, factor: float) -> "Box":
        """This box in an image ``factor`` times the size (rounded to whole pixels)."""
        return Box(*(int(round(v * factor)) for v in self))

    def clipped(self, height: int, width: int) -> "Box":
        return Box(max(0, self.top), min(width, self.right), min(height, self.bottom), max(0, self.left))

    def expanded(self, margin: float, height: int, width: int) -> "Box":
        """Grown by ``margin`` × its size on every side, clipped to the image (for photo crops)."""
        dx, dy = int(self.width * margin), int(self.height * margin)
        return Box(self.top - dy, self.right + dx, self.bottom + dy, self.left - dx).clipped(height, width)

    def touches_edge(self, height: int, width: int, margin: int = 2) -> bool:
        """True when the box reaches the image border: the face is probably cut off."""
        return self.left <= margin or self.top <= margin or self.right >= width - margin or self.bottom >= height - margin


def iou(a: Box, b: Box) -> float:
    """Intersection over union of two boxes (0 when they do not overlap)."""
    inter = Box(max(a.top, b.top), min(a.right, b.right), min(a.bottom, b.bottom), max(a.left, b.left))
    if inter.width <= 0 or inter.height <= 0:
        return 0.0
    union = a.area + b.area - inter.area
    return inter.area / union if union > 0 else 0.0
