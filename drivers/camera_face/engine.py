"""The camera face engine: frames in, one decision per person passing out.

Per frame: detect on a downscaled copy (detect.py), follow the faces (track.py), encode a face
when its track starts and re-check only when that look was poor or borderline (decide.py),
match every face of the frame against the whole gallery in one vectorised query (gallery.py),
optionally wait for a blink (liveness.py), and emit one :class:`FaceDecision` per track with a
JPEG crop as the event photo (photo.py).

A track that was lost for a few frames and comes back is encoded once more to check it is still
the same person (someone may have stepped into the place of a face the detector missed); if the
new look matches another enrolled worker, or is further than ``split_distance`` from the track's
own look, it becomes a new track with its own decision. ``split_distance`` (0.75) is above the
0.69 the same person spread over the sample clip and below most different-person distances.

The engine is a plain object: ``process(frame, t)`` does all the work in the caller's thread and
returns the decisions settled on that frame, so tests and benchmarks step it frame by frame;
:class:`~.runner.CameraRunner` is the thin thread that feeds it from a camera. It knows nothing of
the roster, the gate policy or the platform: a driver turns decisions into observations.
"""
from __future__ import annotations

import logging
import math
import numbers
from dataclasses import dataclass

import numpy as np

from sitegate.idcard import mask

from . import _stack
from .box import Box
from .decide import DecisionRules, Sample, TrackVerdict
from .detect import DEFAULT_DETECT_SHORT_SIDE, DEFAULT_MIN_FACE_PX, FaceDetector, check_image
from .encode import FaceEncoder
from .errors import FaceInputError
from .gallery import DEFAULT_TOLERANCE, Gallery
from .liveness import BlinkDetector
from .photo import face_jpeg
from .quality import CAMERA_BLUR_THRESHOLD, sharpness
from .track import DEFAULT_MAX_MISSED, FaceTracker, Track

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class FaceDecision:
    """Who one tracked face is, decided once per track."""

    track_id: int
    worker_id: str | None       # None: not enrolled / not within tolerance (a stranger)
    distance: float | None      # to the nearest enrolled encoding; None with an empty gallery
    box: Box                    # full-resolution box of the look the decision rests on
    photo_jpeg: bytes           # the event photo (face crop, JPEG) of that look
    t_first_seen: float         # ``t`` of the frame where the track started
    t_decided: float            # ``t`` of the frame that settled the decision
    live: bool | None = None    # blink seen (True) / not seen in time (False); None: liveness off
    encodings: int = 1          # looks the track cost (1 unless a re-check was needed)
    sharpness: float = 0.0      # of the look the decision rests on (quality.sharpness)

    @property
    def matched(self) -> bool:
        return self.worker_id is not None


@dataclass
class _TrackState:
    verdict: TrackVerdict
    blink: BlinkDetector | None
    sharp_now: float = 0.0
    good_now: bool = False


class CameraFaceEngine:
    """Detect → track → encode once → match → decide, one frame per ``process`` call; no threads.

    ``frame`` is an H×W×3 uint8 image in BGR order (what OpenCV captures) unless
    ``input_order="rgb"``; ``t`` is the frame's time in seconds on any monotonic scale.
    """

    def __init__(
        self,
        gallery: Gallery,
        tolerance: float = DEFAULT_TOLERANCE,
        min_face_px: int = DEFAULT_MIN_FACE_PX,
        liveness: bool = False,
        detect_scale: float | None = None,
        *,
        detect_short_side: int = DEFAULT_DETECT_SHORT_SIDE,
        input_order: str = "bgr",
        max_missed: int = DEFAULT_MAX_MISSED,
        max_encodings: int = 3,
        recheck_gap_frames: int = 4,
        settle_frames: int = 15,
        grey_band: float = 0.1,
        blur_threshold: float = CAMERA_BLUR_THRESHOLD,
        liveness_window_s: float = 4.0,
        verify_resumed: bool = True,
        split_distance: float = 0.75,
        num_jitters: int = 1,
    ):
        if input_order not in ("bgr", "rgb"):
            raise ValueError(f"input_order must be 'bgr' or 'rgb', got {input_order!r}")
        self.gallery = gallery
        self.rules = DecisionRules(tolerance, max_encodings, recheck_gap_frames, settle_frames, grey_band)
        self.liveness = liveness
        self.liveness_window_s = liveness_window_s
        self.blur_threshold = blur_threshold
        self.verify_resumed = verify_resumed
        self.split_distance = split_distance
        self.detector = FaceDetector(detect_scale=detect_scale, detect_short_side=detect_short_side,
                                     min_face_px=min_face_px)
        self.encoder = FaceEncoder(num_jitters=num_jitters)
        self.tracker = FaceTracker(max_missed=max_missed)
        self._bgr = input_order == "bgr"
        self._states: dict[int, _TrackState] = {}
        self._frame = 0
        self.counters = {"frames": 0, "bad_frames": 0, "faces": 0, "tracks": 0, "encodings": 0,
                         "decisions": 0, "split_tracks": 0}

    @property
    def tolerance(self) -> float:
        return self.rules.tolerance

    # ---- public ------------------------------------------------------------------------------
    def process(self, frame: np.ndarray, t: float) -> list[FaceDecision]:
        """Run one frame; returns the decisions settled on it (usually none)."""
        try:
            img = check_image(frame)
            if not isinstance(t, numbers.Real) or not math.isfinite(t):
                raise FaceInputError(f"frame time must be a finite number of seconds, got {t!r}")
        except FaceInputError:
            self.counters["bad_frames"] += 1
            raise
        t = float(t)
        self._frame += 1
        self.counters["frames"] += 1
        cv2 = _stack.cv2()
        rgb = cv2.cvtColor(img, cv2.COLOR_BGR2RGB) if self._bgr else img

        detections = self.detector.detect(rgb)
        self.counters["faces"] += len(detections)
        update = self.tracker.update([d.box for d in detections], self._frame, t)
        self.counters["tracks"] += len(update.started)

        decisions = [d for track in update.expired if (d := self._end(track, t)) is not None]
        seen = [track for track, _ in update.seen]
        looks, verifies = self._plan(rgb, seen)
        self._check_liveness(rgb, seen)
        self._look(rgb, looks, verifies, t)
        for track in seen:
            decision = self._try_decide(track, t)
            if decision is not None:
                decisions.append(decision)
        return decisions

    def flush(self, t: float) -> list[FaceDecision]:
        """End every track (end of the stream): decide those encoded but still waiting."""
        return [d for track in self.tracker.expire_all() if (d := self._end(track, float(t))) is not None]

    # ---- steps -------------------------------------------------------------------------------
    def _new_state(self) -> _TrackState:
        return _TrackState(TrackVerdict(self.rules), BlinkDetector() if self.liveness else None)

    def _rate(self, rgb: np.ndarray, track: Track, state: _TrackState) -> None:
        h, w = rgb.shape[:2]
        state.sharp_now = sharpness(rgb, track.box)
        state.good_now = state.sharp_now >= self.blur_threshold and not track.box.touches_edge(h, w)

    def _plan(self, rgb: np.ndarray, seen: list[Track]) -> tuple[list[Track], list[Track]]:
        """Faces to encode now: (looks for undecided tracks, checks of decided tracks that came back)."""
        looks, verifies = [], []
        for track in seen:
            state = self._states.get(track.track_id)
            if state is None:
                state = self._states[track.track_id] = self._new_state()
            verdict = state.verdict
            if verdict.decided:
                if self.verify_resumed and track.resumed_after > 0 and verdict.best is not None:
                    verifies.append(track)
                continue
            self._rate(rgb, track, state)
            if verdict.wants_look(self._frame, state.good_now):
                looks.append(track)
        return looks, verifies

    def _check_liveness(self, rgb: np.ndarray, seen: list[Track]) -> None:
        if not self.liveness:
            return
        waiting = [tr for tr in seen if not self._states[tr.track_id].verdict.decided]
        for track, (left, right) in zip(waiting, self.encoder.eyes(rgb, [tr.box for tr in waiting])):
            self._states[track.track_id].blink.update_eyes(left, right)

    def _look(self, rgb: np.ndarray, looks: list[Track], verifies: list[Track], t: float) -> None:
        tracks = looks + verifies
        if not tracks:
            return
        encodings = self.encoder.encode(rgb, [tr.box for tr in tracks])
        self.counters["encodings"] += len(tracks)
        matches = self.gallery.match(encodings, self.rules.tolerance)  # one query for all faces
        for i, (track, encoding, match) in enumerate(zip(tracks, encodings, matches)):
            state = self._states[track.track_id]
            if i >= len(looks):  # a decided track came back after a gap: still the same person?
                before = state.verdict.best
                moved = float(np.linalg.norm(encoding - before.encoding))
                other = match.worker_id is not None and match.worker_id != before.match.worker_id
                if moved <= self.split_distance and not other:
                    continue
                del self._states[track.track_id]
                self.tracker.restart(track, t, self._frame)
                self.counters["split_tracks"] += 1
                self.counters["tracks"] += 1
                state = self._states[track.track_id] = self._new_state()
                self._rate(rgb, track, state)
            photo = face_jpeg(rgb, track.box, rgb=True)
            state.verdict.samples.append(Sample(encoding, match, track.box, photo, state.sharp_now,
                                                state.good_now, self._frame))

    def _try_decide(self, track: Track, t: float) -> FaceDecision | None:
        state = self._states[track.track_id]
        if state.verdict.decided or not state.verdict.settled(self._frame):
            return None
        live = None
        if self.liveness:
            if state.blink.blinked:
                live = True
            elif t - track.t_first_seen >= self.liveness_window_s:
                live = False
            else:
                return None
        return self._decide(track, state, t, live)

    def _end(self, track: Track, t: float) -> FaceDecision | None:
        """A track is gone: decide now if it was encoded but still waiting (re-check, blink)."""
        state = self._states.pop(track.track_id, None)
        if state is None or state.verdict.decided or not state.verdict.samples:
            return None
        live = state.blink.blinked if self.liveness else None
        return self._decide(track, state, t, live)

    def _decide(self, track: Track, state: _TrackState, t: float, live: bool | None) -> FaceDecision:
        state.verdict.decided = True
        s = state.verdict.best
        self.counters["decisions"] += 1
        log.debug("face track %d: %s (distance %s, live %s, %d looks)", track.track_id,
                  "unknown" if s.match.worker_id is None else mask(s.match.worker_id),
                  "n/a" if s.match.distance is None else f"{s.match.distance:.3f}", live,
                  state.verdict.encodings)
        return FaceDecision(
            track_id=track.track_id, worker_id=s.match.worker_id, distance=s.match.distance, box=s.box,
            photo_jpeg=s.photo, t_first_seen=track.t_first_seen, t_decided=t, live=live,
            encodings=state.verdict.encodings, sharpness=s.sharpness,
        )
