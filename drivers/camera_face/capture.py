"""Frames from a USB camera (index), an RTSP/HTTP stream (URL) or a video file, via OpenCV.

Live sources reconnect after a failure with capped exponential backoff — reset only after a
frame was actually read, sleeping in short slices that notice a stop request, logging "lost"
and "back" once each (the pattern of paho-mqtt's ``reconnect_delay_set``). A video file is the
camera simulator: played at its native rate it behaves like a camera, i.e. frames that are due
while the consumer is still busy are skipped (a camera's driver buffer keeps only the newest
frames); played as fast as possible it yields every frame with its media time, deterministic for
tests and benchmarks. With ``reconnect=True`` a file plays in a loop (a demo camera).

For RTSP cameras, OpenCV's FFmpeg back-end honours OPENCV_FFMPEG_CAPTURE_OPTIONS (e.g.
``rtsp_transport;tcp`` on lossy site Wi-Fi); open and read time out after ``timeout_s`` so a
hung stream counts as lost instead of blocking the thread forever.
"""
from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from . import _stack
from .errors import CaptureError

log = logging.getLogger(__name__)

STOP_SLICE_S = 0.1


@dataclass(frozen=True)
class Frame:
    image: np.ndarray   # H×W×3 uint8, BGR (OpenCV's order)
    t: float            # seconds: clock() at capture, or media time for a file played fast
    index: int          # frame number since the source was opened (files: position in the file)


def describe_source(source: int | str | Path) -> tuple[str, int | str]:
    """('device', index) | ('stream', url) | ('file', path) for a configured source."""
    if isinstance(source, int) or (isinstance(source, str) and source.strip().isdigit()):
        return "device", int(source)
    text = str(source)
    if "://" in text:
        return "stream", text
    return "file", text


def _safe(source: str | int) -> str:
    """A source for the log without credentials (rtsp://user:pass@host/...)."""
    text = str(source)
    if "://" in text and "@" in text:
        scheme, rest = text.split("://", 1)
        return f"{scheme}://***@{rest.split('@', 1)[1]}"
    return text


class FrameSource:
    """Reads frames from one source; ``read`` returns None at the end (file) or once stopped."""

    def __init__(
        self,
        source: int | str | Path,
        *,
        realtime: bool = True,
        reconnect: bool | None = None,
        backoff_initial_s: float = 0.5,
        backoff_max_s: float = 30.0,
        timeout_s: float = 5.0,
        resize_to: tuple[int, int] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ):
        self.kind, self._target = describe_source(source)
        self.realtime = realtime
        self.reconnect = self.kind != "file" if reconnect is None else reconnect
        if not 0 < backoff_initial_s <= backoff_max_s:
            raise ValueError("need 0 < backoff_initial_s <= backoff_max_s")
        self.backoff_initial_s = backoff_initial_s
        self.backoff_max_s = backoff_max_s
        self.timeout_s = timeout_s
        self.resize_to = resize_to
        self.clock = clock
        self._cap = None
        self._fps = 0.0
        self._next_index = 0
        self._start = 0.0
        self._backoff = backoff_initial_s
        self._lost = False
        self._ended = False
        self._media_offset = 0.0
        self.frames = 0        # delivered
        self.skipped = 0       # not delivered because the consumer was late (realtime files)
        self.failures = 0      # failed opens or reads
        self.reconnects = 0    # successful re-opens after a failure
        self.loops = 0         # times a reconnecting file was played again from its start

    @property
    def fps(self) -> float:
        """The source's nominal frame rate (0 when unknown or not open yet)."""
        return self._fps

    @property
    def is_open(self) -> bool:
        return self._cap is not None

    @property
    def backoff_s(self) -> float:
        """The wait before the next reconnect attempt."""
        return self._backoff

    def __repr__(self) -> str:
        return f"FrameSource({self.kind} {_safe(self._target)})"

    # ---- opening -----------------------------------------------------------------------------
    def _open(self) -> bool:
        cv2 = _stack.cv2()
        if self.kind == "file" and not os.path.exists(self._target) and not self.reconnect:
            raise CaptureError(f"video file not found: {self._target}")
        ms = int(self.timeout_s * 1000)
        params = [cv2.CAP_PROP_OPEN_TIMEOUT_MSEC, ms, cv2.CAP_PROP_READ_TIMEOUT_MSEC, ms]
        cap = cv2.VideoCapture(self._target, cv2.CAP_ANY, params)
        if not cap.isOpened():
            cap.release()
            if not self.reconnect:
                raise CaptureError(f"cannot open video source {_safe(self._target)}")
            return False
        if self.kind != "file":
            cap.set(cv2.CAP_PROP_BUFFERSIZE, 1)  # newest frame, not a backlog (where supported)
        self._cap = cap
        fps = cap.get(cv2.CAP_PROP_FPS)
        self._fps = fps if fps and 1.0 <= fps <= 240.0 else 0.0
        self._next_index = 0
        self._start = self.clock()
        return True

    def _release(self) -> None:
        if self._cap is not None:
            self._cap.release()
            self._cap = None

    def close(self) -> None:
        self._release()

    def __enter__(self) -> "FrameSource":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ---- reading -----------------------------------------------------------------------------
    def _sleep(self, seconds: float, stop: threading.Event | None) -> bool:
        """Sleep up to ``seconds`` in slices; False if a stop was requested."""
        deadline = self.clock() + seconds
        while True:
            left = deadline - self.clock()
            if stop is not None and stop.is_set():
                return False
            if left <= 0:
                return True
            if stop is not None:
                stop.wait(min(left, STOP_SLICE_S))
            else:
                time.sleep(min(left, STOP_SLICE_S))

    def _read_file_realtime(self, stop: threading.Event | None) -> tuple[np.ndarray | None, float]:
        """The frame a camera would show now: skip frames already overdue, wait for one not yet due."""
        fps = self._fps or 25.0
        due = int((self.clock() - self._start) * fps)
        while self._next_index < due:
            if not self._cap.grab():  # grab without decoding: cheap skipping
                return None, 0.0
            self._next_index += 1
            self.skipped += 1
        if not self._sleep(self._start + self._next_index / fps - self.clock(), stop):
            return None, 0.0
        ok, image = self._cap.read()
        t = self._start + self._next_index / fps
        return (image if ok else None), t

    def _read_once(self, stop: threading.Event | None) -> Frame | None:
        index = self._next_index
        if self.kind == "file" and self.realtime:
            image, t = self._read_file_realtime(stop)
            index = self._next_index
        else:
            ok, image = self._cap.read()
            image = image if ok else None
            if self.kind == "file":
                t = self._media_offset + index / (self._fps or 25.0)
            else:
                t = self.clock()
        if image is None:
            return None
        self._next_index += 1
        if self.resize_to is not None and (image.shape[1], image.shape[0]) != tuple(self.resize_to):
            cv2 = _stack.cv2()
            image = cv2.resize(image, tuple(self.resize_to), interpolation=cv2.INTER_LINEAR)
        return Frame(image, t, index)

    def read(self, stop: threading.Event | None = None) -> Frame | None:
        """The next frame; None at the end of a file (without ``reconnect``) or when ``stop`` is set.

        Raises CaptureError when a source that does not reconnect cannot be opened.
        """
        while not self._ended and (stop is None or not stop.is_set()):
            if self._cap is None and not self._open():
                self._failed(stop, "cannot open")
                continue
            frame = self._read_once(stop)
            if frame is not None:
                self.frames += 1
                if self._lost:
                    self._lost = False
                    self.reconnects += 1
                    log.info("video source %s back", _safe(self._target))
                self._backoff = self.backoff_initial_s  # reset only after a frame was really read
                return frame
            if stop is not None and stop.is_set():
                return None
            played = self._next_index
            self._release()
            if not self.reconnect:
                self._ended = True  # end of the file: stays ended
                return None
            if self.kind == "file" and played:
                self.loops += 1  # a file that reconnects plays in a loop, like a camera that never ends
                self._media_offset += played / (self._fps or 25.0)  # media time keeps running
                continue
            self._failed(stop, "no frame")
        return None

    def _failed(self, stop: threading.Event | None, what: str) -> None:
        self.failures += 1
        if not self._lost:
            self._lost = True
            log.warning("video source %s lost (%s); retrying with backoff up to %g s",
                        _safe(self._target), what, self.backoff_max_s)
        self._sleep(self._backoff, stop)
        self._backoff = min(self._backoff * 2, self.backoff_max_s)
