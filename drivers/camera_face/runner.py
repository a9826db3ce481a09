"""A thin thread that feeds a camera's frames to a :class:`CameraFaceEngine`.

All the logic lives in the engine (stepable without threads); this only reads, processes and
hands each decision to a callback — outside any lock, in the runner's own thread. A failing
callback or a bad frame is logged and counted, never ends the loop. ``stop`` mirrors ``start``:
it ends the thread, and the thread closes the source it was given (the thread that reads a
``cv2.VideoCapture`` is the one that releases it: releasing it under a running read can crash).
"""
from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from sitegate.errors import SitegateError

from .capture import FrameSource
from .engine import CameraFaceEngine, FaceDecision

log = logging.getLogger(__name__)


class CameraRunner:
    def __init__(
        self,
        source: FrameSource,
        engine: CameraFaceEngine,
        on_decision: Callable[[FaceDecision], None],
        *,
        name: str = "camera-face",
        on_frame: Callable[[int, float], None] | None = None,
    ):
        self.source = source
        self.engine = engine
        self.on_decision = on_decision
        self.on_frame = on_frame      # (frame index, t) after each processed frame: a liveness hook
        self.name = name
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.finished = threading.Event()   # set when the loop has ended (end of file or stop)
        self.error: Exception | None = None  # what ended the loop, if it did not end normally
        self.frames = 0
        self.frame_errors = 0
        self.callback_errors = 0

    def start(self) -> None:
        if self._thread is not None:
            raise RuntimeError("CameraRunner already started")
        self._thread = threading.Thread(target=self._run, name=self.name, daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> bool:
        """Ask the loop to end and wait for it (it closes the source); False if it did not end in time."""
        self._stop.set()
        if self._thread is None:
            self.source.close()
            return True
        self._thread.join(timeout)
        if self._thread.is_alive():  # stuck in a read: the source's own timeout will end it
            log.warning("%s: camera loop still running %.0f s after stop", self.name, timeout)
            return False
        return True

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def join(self, timeout: float | None = None) -> bool:
        """Wait for the loop to end by itself (end of a file); True if it has."""
        return self.finished.wait(timeout)

    def _emit(self, decisions: list[FaceDecision]) -> None:
        for decision in decisions:
            try:
                self.on_decision(decision)
            except Exception:  # the consumer's bug must not blind the camera
                self.callback_errors += 1
                log.exception("%s: decision callback failed", self.name)

    def _run(self) -> None:
        t_last = 0.0
        try:
            while not self._stop.is_set():
                frame = self.source.read(self._stop)
                if frame is None:
                    break
                t_last = frame.t
                try:
                    decisions = self.engine.process(frame.image, frame.t)
                except SitegateError as exc:
                    self.frame_errors += 1
                    log.warning("%s: frame %d skipped: %s", self.name, frame.index, exc)
                    continue
                self.frames += 1
                self._emit(decisions)
                if self.on_frame is not None:
                    self.on_frame(frame.index, frame.t)
            self._emit(self.engine.flush(t_last))
        except Exception as exc:  # recorded for the supervisor, then logged
            self.error = exc
            log.exception("%s: camera loop ended by an error", self.name)
        finally:
            self.source.close()
            self.finished.set()
