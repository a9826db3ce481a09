"""``camera-face``: a USB camera, an RTSP camera or a video file, recognised by the gateway itself.

One loop in the driver's thread: read a frame (capture.py: reconnect with capped backoff, files
at their native rate), run the engine on it (engine.py: one decision per tracked face), and hand
each decision to the gate as one observation:

- a recognised face → ``Credential(WORKER, <ID number>)``; a face nobody matched →
  ``Credential(FACE, "track:<n>")``, which the gate policy records as a denied "unknown" attempt;
- ``photo`` = the JPEG crop of the face, ``method`` = FACE, no ``source_key`` (a camera keeps no
  record numbers; the engine already gives one decision per person passing);
- blink liveness on and no blink seen → ``extra["liveness"] = "failed"`` — the policy decides
  what that means; the distance to the nearest enrolled face goes in ``extra["face_distance"]``.

The gallery comes from the site's encrypted face store (``sitegate.buffer.faces.FaceStore``),
which the gateway hands over as ``ctx.faces``; it is rebuilt when ``FaceStore.version()`` changes,
so a worker enrolled while the camera runs is recognised a few seconds later.

Health: DOWN until the first frame, UP while frames arrive, DEGRADED "no frames for N s" when
they stop (the capture reconnects with backoff meanwhile), DEGRADED "end of file" when a video
file played without ``loop`` has ended (the driver then waits for stop, it does not spin). A
missing face stack (dlib, face_recognition, OpenCV) is health DOWN with the install command and
a FaceStackMissing raised: the supervisor retries with backoff, the rest of the daemon runs on.

``close()`` only asks the loop to end: the thread that reads a ``cv2.VideoCapture`` is the one
that releases it (releasing it under a running read can crash the process).
"""
from __future__ import annotations

import sqlite3
import threading
import time
from typing import Any, Protocol
from urllib.parse import quote, urlsplit, urlunsplit

from sitegate.config.schema import Key, between
from sitegate.drivers.api import Credential, CredentialKind, Driver, Health, HealthState
from sitegate.errors import SitegateError, UsageError
from sitegate.idcard import mask
from sitegate.model import Method

from . import _stack
from .capture import FrameSource, _safe, describe_source
from .engine import CameraFaceEngine, FaceDecision
from .errors import CaptureError, FaceInputError
from .gallery import RECOMMENDED_TOLERANCE, Gallery

WAIT_SLICE_S = 0.1      # how soon a wait notices stop / close


class FaceSource(Protocol):
    """What the driver needs of the face store (``sitegate.buffer.faces.FaceStore``)."""

    def gallery(self) -> Gallery: ...

    def version(self) -> object: ...


class _Halt:
    """"Stop" for the capture: the supervisor's stop event or ``close()``, whichever comes first.

    The capture sleeps (backoff, waiting for a file frame to be due) through ``wait``, in short
    slices; each slice is a heartbeat, because a loop that waits for its camera is alive.
    """

    def __init__(self, stop: threading.Event, closed: threading.Event, beat):
        self.stop, self.closed, self.beat = stop, closed, beat

    def is_set(self) -> bool:
        return self.stop.is_set() or self.closed.is_set()

    def wait(self, timeout: float | None = None) -> bool:
        end = None if timeout is None else time.monotonic() + timeout
        while not self.is_set():
            self.beat()
            left = WAIT_SLICE_S if end is None else min(WAIT_SLICE_S, end - time.monotonic())
            if left <= 0:
                break
            self.closed.wait(left)
        return self.is_set()


def source_target(options: dict[str, Any]) -> int | str:
    """The configured source, with the RTSP password from ``password_file`` put into the URL."""
    source = options["source"]
    if isinstance(source, int) and not isinstance(source, bool):
        return source
    source = str(source).strip()
    pw_file = options.get("password_file")
    if not pw_file:
        return source
    from sitegate.secrets import read_secret

    parts = urlsplit(source)
    if "://" not in source or not parts.username or parts.password is not None:
        raise UsageError("password_file needs a source URL with a user name and no password, "
                         "e.g. rtsp://admin@127.0.0.1:554/Streaming/Channels/101")
    host = parts.netloc.rpartition("@")[2]
    netloc = f"{parts.username}:{quote(read_secret(pw_file), safe='')}@{host}"
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


class CameraFaceDriver(Driver):
    NAME = "camera-face"
    DESCRIPTION = "USB/RTSP camera or video file: the gateway's own face recognition, one event per person passing"
    TRANSPORT = "camera"
    MODE = "push"
    CONFIG_KEYS = {
        "source": Key((str, int), "USB camera index ('0'), an rtsp:// URL, or a video file path", required=True),
        "password_file": Key(str, "file (mode 0600) holding the RTSP password; the source URL names the user",
                             secret_file=True),
        "tolerance": Key(float, "largest face distance accepted as a match (dlib's 0.6 is too loose for a "
                                "site gallery: the same person measured ≤ 0.44, others ≥ 0.69)",
                         default=RECOMMENDED_TOLERANCE, check=between(0.2, 0.8)),
        "min_face_px": Key(int, "smaller faces are ignored (people far from the gate)", default=120,
                           check=between(20, 2000)),
        "liveness": Key(str, "blink: a face must blink within 4 s, else the event carries liveness=failed "
                             "(stops a held-up photo, not a replayed video)", default="off", choices=("off", "blink")),
        "realtime": Key(bool, "play a video file at its native rate, as a camera would deliver it", default=True),
        "loop": Key(bool, "play a video file again from its start when it ends (a demo camera)", default=False),
        "detect_scale": Key(float, "scale frames by this for face detection (default: short side ~360 px)",
                            check=between(0.05, 1.0)),
    }
    HEARTBEAT_S = 60.0
    NO_FRAMES_S = 10.0          # health DEGRADED after this long without a frame
    GALLERY_CHECK_S = 2.0       # how often the face store is asked whether enrolments changed
    BACKOFF_INITIAL_S = 0.5     # reconnecting a failed source
    BACKOFF_MAX_S = 30.0
    CAPTURE_TIMEOUT_S = 5.0     # opening / reading a stream: a hung stream counts as lost
    PROBE_NOTE = "opens the source and reads one frame"

    def __init__(self, ctx):
        super().__init__(ctx)
        self._closed = threading.Event()
        self._last_frame: float | None = None       # monotonic time of the last frame read
        self.engine: CameraFaceEngine | None = None
        self.source: FrameSource | None = None
        self.counters: dict[str, int] = {"frames": 0, "observations": 0, "unknown": 0, "liveness_failed": 0,
                                         "emit_failures": 0, "gallery_reloads": 0}
        self._faces: FaceSource | None = None
        self._gallery_version: object = None
        self._gallery_checked = 0.0

    # -- lifecycle -------------------------------------------------------------------------------
    def run(self, stop: threading.Event) -> None:
        try:
            _stack.require_face_stack()
            target = source_target(self.options)
            self.engine = CameraFaceEngine(
                self._initial_gallery(), tolerance=float(self.options.get("tolerance", RECOMMENDED_TOLERANCE)),
                min_face_px=int(self.options.get("min_face_px", 120)),
                liveness=self.options.get("liveness", "off") == "blink",
                detect_scale=self.options.get("detect_scale"))
        except SitegateError as exc:    # FaceStackMissing, a bad password file, the store
            self.set_health(HealthState.DOWN, str(exc))
            raise
        kind, _ = describe_source(target)
        self.source = FrameSource(
            target, realtime=bool(self.options.get("realtime", True)),
            reconnect=bool(self.options.get("loop", False)) if kind == "file" else True,
            backoff_initial_s=self.BACKOFF_INITIAL_S, backoff_max_s=self.BACKOFF_MAX_S,
            timeout_s=self.CAPTURE_TIMEOUT_S)
        self.set_health(HealthState.DOWN, f"waiting for the first frame from {_safe(target)}")
        halt = _Halt(stop, self._closed, self.ctx.beat)
        try:
            self._capture(halt)
            if not halt.is_set():       # a video file played to its end (live sources never end)
                self.set_health(HealthState.DEGRADED, "end of file")
                halt.wait()
        except CaptureError as exc:     # a file that does not exist or cannot be decoded
            self.set_health(HealthState.DOWN, str(exc))
            raise
        finally:
            self.source.close()

    def close(self) -> None:
        self._closed.set()

    def _capture(self, halt: _Halt) -> None:
        assert self.engine is not None and self.source is not None
        t_last = 0.0
        while not halt.is_set():
            frame = self.source.read(halt)  # type: ignore[arg-type]  # duck-typed stop event
            if frame is None:
                break
            self._frame_arrived()
            t_last = frame.t
            self._maybe_reload_gallery()
            try:
                decisions = self.engine.process(frame.image, frame.t)
            except FaceInputError as exc:   # a broken frame from the camera: counted, skipped
                self.protocol_errors += 1
                if self.protocol_errors == 1 or self.protocol_errors % 100 == 0:   # not one line per frame
                    self.log.warning("camera %s: frame %d skipped (%d so far): %s", self.ctx.device_id,
                                     frame.index, self.protocol_errors, exc)
                continue
            for decision in decisions:
                self._emit(decision)
        for decision in self.engine.flush(t_last):   # faces still waiting for a re-check or a blink
            self._emit(decision)

    # -- frames and health -----------------------------------------------------------------------
    def _frame_arrived(self) -> None:
        self.ctx.beat()
        self.counters["frames"] += 1
        self._last_frame = time.monotonic()
        if self._health.state != HealthState.UP:
            self.set_health(HealthState.UP)

    @property
    def health(self) -> Health:
        """UP turns DEGRADED once frames stop for NO_FRAMES_S (the read loop is then reconnecting)."""
        h = self._health
        last = self._last_frame
        if h.state == HealthState.UP and last is not None:
            silent = time.monotonic() - last
            if silent > self.NO_FRAMES_S:
                return Health(HealthState.DEGRADED, f"no frames for {silent:.0f} s",
                              since=time.time() - silent + self.NO_FRAMES_S)
        return h

    # -- the gallery -----------------------------------------------------------------------------
    def _initial_gallery(self) -> Gallery:
        self._faces = getattr(self.ctx, "faces", None)
        if self._faces is None:
            self.log.warning("camera %s: the gateway gave this device no face store (ctx.faces): "
                             "every face is recorded as unknown", self.ctx.device_id)
            return Gallery()
        self._gallery_version = self._faces.version()
        self._gallery_checked = time.monotonic()
        gallery = self._faces.gallery()
        self.log.info("camera %s: %d enrolled face(s) loaded", self.ctx.device_id, gallery.worker_count)
        return gallery

    def _maybe_reload_gallery(self) -> None:
        now = time.monotonic()
        if self._faces is None or now - self._gallery_checked < self.GALLERY_CHECK_S:
            return
        self._gallery_checked = now
        try:
            version = self._faces.version()
            if version == self._gallery_version:
                return
            gallery = self._faces.gallery()
        except (SitegateError, sqlite3.Error) as exc:   # the store is busy or closing: keep the gallery we have
            self.log.warning("camera %s: enrolled faces not reloaded: %s", self.ctx.device_id, exc)
            return
        self._gallery_version = version
        self.engine.gallery = gallery   # one attribute swap: the engine reads it once per look
        self.counters["gallery_reloads"] += 1
        self.log.info("camera %s: enrolled faces changed, %d loaded", self.ctx.device_id, gallery.worker_count)

    # -- observations ----------------------------------------------------------------------------
    def _emit(self, decision: FaceDecision) -> None:
        extra: dict[str, Any] = {}
        if decision.distance is not None:
            extra["face_distance"] = round(decision.distance, 3)
        if decision.live is not None:
            extra["liveness"] = "passed" if decision.live else "failed"
        if decision.worker_id is not None:
            credential = Credential(CredentialKind.WORKER, decision.worker_id)
        else:
            credential = Credential(CredentialKind.FACE, f"track:{decision.track_id}")
        obs = self.observation(credential, Method.FACE, photo=decision.photo_jpeg, extra=extra)
        try:
            self.ctx.emit(obs)          # durable when it returns
        except SitegateError as exc:    # e.g. the disk is full: the camera cannot resend, keep watching
            self.counters["emit_failures"] += 1
            self.log.error("camera %s: face of %s not recorded: %s", self.ctx.device_id,
                           mask(decision.worker_id) if decision.worker_id else credential.value, exc)
            return
        self.counters["observations"] += 1
        self.counters["unknown"] += decision.worker_id is None
        self.counters["liveness_failed"] += decision.live is False

    # -- doctor ----------------------------------------------------------------------------------
    @classmethod
    def probe(cls, options: dict[str, Any], timeout: float = 3.0) -> str | None:
        """Open the source and read one frame; what is wrong, or None."""
        try:
            _stack.require_face_stack()
            target = source_target(options)
            with FrameSource(target, realtime=False, reconnect=False, timeout_s=timeout) as source:
                frame = source.read()
        except SitegateError as exc:
            return str(exc)
        if frame is None:
            return f"{source!r} opened but gave no frame"
        return None
