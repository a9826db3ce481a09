"""Follows faces from frame to frame so a person passing is encoded and decided once, not per frame.

A greedy IoU/centroid tracker (in the spirit of Bochinski et al., "High-Speed Tracking-by-
Detection Without Using Image Information", AVSS 2017): a detection continues a track when the
boxes overlap enough, or — for a face that moved fast or was missed for a few frames — when its
centre lies within a distance proportional to the face's size. Thresholds are relative to box
size, so the same settings work for a 90 px face 5 m away and a 300 px face at the reader.
Pure Python on a handful of boxes; no image data needed.
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

from .box import Box, iou

DEFAULT_MAX_MISSED = 10


@dataclass
class Track:
    track_id: int
    box: Box                 # the latest box
    t_first_seen: float
    first_frame: int
    last_frame: int
    hits: int = 1            # frames in which it was detected
    missed: int = 0          # consecutive frames without a detection
    resumed_after: int = 0   # frames it was missing before this sighting (0: seen in the previous frame)

    def is_seen_in(self, frame_index: int) -> bool:
        return self.last_frame == frame_index


@dataclass
class TrackUpdate:
    seen: list[tuple[Track, int]] = field(default_factory=list)   # (track, index of its detection)
    started: list[Track] = field(default_factory=list)            # the new ones (also in ``seen``)
    expired: list[Track] = field(default_factory=list)            # unseen for more than max_missed frames


class FaceTracker:
    """Greedy matching of detections to tracks; tracks expire after ``max_missed`` unseen frames."""

    def __init__(
        self,
        *,
        max_missed: int = DEFAULT_MAX_MISSED,
        iou_min: float = 0.3,
        center_factor: float = 0.6,
        size_ratio_max: float = 1.8,
    ):
        if max_missed < 0:
            raise ValueError(f"max_missed must be >= 0, got {max_missed}")
        self.max_missed = max_missed
        self.iou_min = iou_min
        self.center_factor = center_factor
        self.size_ratio_max = size_ratio_max
        self._tracks: dict[int, Track] = {}
        self._next_id = 1

    @property
    def tracks(self) -> list[Track]:
        return list(self._tracks.values())

    def _cost(self, track: Track, box: Box) -> float | None:
        """Lower is better; None when ``box`` cannot be this track's face."""
        a, b = track.box, box
        ratio = max(a.side, b.side) / max(1, min(a.side, b.side))
        if ratio > self.size_ratio_max:
            return None
        overlap = iou(a, b)
        (ax, ay), (bx, by) = a.center, b.center
        side = (a.side + b.side) / 2.0
        # a face missed for k frames may have moved k times as far (capped: a far jump is a new face)
        reach = self.center_factor * side * min(1 + track.missed, 3)
        dist = math.hypot(ax - bx, ay - by) / max(side, 1.0)
        if overlap < self.iou_min and dist * side > reach:
            return None
        return (1.0 - overlap) + dist

    def update(self, boxes: Sequence[Box], frame_index: int, t: float) -> TrackUpdate:
        """Assign this frame's boxes to tracks, start tracks for the rest, expire the lost."""
        out = TrackUpdate()
        pairs = []
        for tid, track in self._tracks.items():
            for j, box in enumerate(boxes):
                cost = self._cost(track, box)
                if cost is not None:
                    pairs.append((cost, tid, j))
        pairs.sort()
        used_tracks: set[int] = set()
        used_boxes: set[int] = set()
        for _cost, tid, j in pairs:
            if tid in used_tracks or j in used_boxes:
                continue
            used_tracks.add(tid)
            used_boxes.add(j)
            track = self._tracks[tid]
            track.resumed_after = track.missed
            track.box, track.last_frame, track.missed = boxes[j], frame_index, 0
            track.hits += 1
            out.seen.append((track, j))
        for tid in list(self._tracks):
            if tid not in used_tracks:
                track = self._tracks[tid]
                track.missed += 1
                if track.missed > self.max_missed:
                    out.expired.append(self._tracks.pop(tid))
        for j, box in enumerate(boxes):
            if j not in used_boxes:
                track = Track(self._next_id, box, t, frame_index, frame_index)
                self._next_id += 1
                self._tracks[track.track_id] = track
                out.started.append(track)
                out.seen.append((track, j))
        return out

    def restart(self, track: Track, t: float, frame_index: int) -> Track:
        """Give ``track`` a new id from this frame on: the face it follows turned out to be someone else."""
        self._tracks.pop(track.track_id, None)
        track.track_id, self._next_id = self._next_id, self._next_id + 1
        track.t_first_seen, track.first_frame, track.hits = t, frame_index, 1
        self._tracks[track.track_id] = track
        return track

    def expire_all(self) -> list[Track]:
        """End every track (end of stream)."""
        gone = list(self._tracks.values())
        self._tracks.clear()
        return gone
