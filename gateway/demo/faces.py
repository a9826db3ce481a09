"""The demo camera needs an enrolled face: one demo worker is enrolled from a frame of the sample
clip (the person on stage stands in for that worker), so the camera's clock-ins are matched ones.

The same checks as ``sitegate enroll --from-camera`` (exactly one large, sharp face), the same
encrypted face store (``FaceStore``), so the camera and the face terminals see it like any
enrolment.
"""
from __future__ import annotations

import logging
import threading
from pathlib import Path

from sitegate.errors import SitegateError
from sitegate.idcard import mask

log = logging.getLogger(__name__)

CHECKS_PER_SECOND = 5.0     # frames of the clip looked at per second of its media time
ENROL_MAX_SIDE = 480        # the stored photo: an ID-photo-like crop terminals accept (≤ 200 KB)
ENROL_MARGIN = 0.5


def face_stack_problem() -> str | None:
    """Why the face engine cannot run here (the install command), or None."""
    from sitegate.drivers.camera_face import FaceStackMissing, require_face_stack

    try:
        require_face_stack()
    except FaceStackMissing as exc:
        return str(exc)
    return None


def enrol_from_video(store, id_number: str, video: Path, stop: threading.Event | None = None) -> bool:
    """Enrol ``id_number``'s face from the first good frame of ``video``; False (logged) if none."""
    from sitegate.buffer.faces import FaceStore
    from sitegate.drivers.camera_face import EnrolmentRefused, FrameSource, check_enrolment_photo
    from sitegate.drivers.camera_face._stack import cv2
    from sitegate.drivers.camera_face.photo import face_jpeg

    last = "no frame read"
    try:
        with FrameSource(str(video), realtime=False, reconnect=False) as frames:
            step = 0
            while stop is None or not stop.is_set():
                frame = frames.read()
                if frame is None:
                    break
                step = step or max(1, round(frames.fps / CHECKS_PER_SECOND))
                if frame.index % step:
                    continue
                rgb = cv2().cvtColor(frame.image, cv2().COLOR_BGR2RGB)
                try:
                    face = check_enrolment_photo(rgb)
                except EnrolmentRefused as exc:
                    last = str(exc)
                    continue
                jpeg = face_jpeg(rgb, face.box, rgb=True, margin=ENROL_MARGIN, max_side=ENROL_MAX_SIDE, quality=90)
                FaceStore(store).enrol(id_number, face.encoding, jpeg, source="demo-clip")
                store.audit("demo", "face.enrol", mask(id_number), f"from frame {frame.index} of {video.name}")
                log.info("demo: face of %s enrolled from frame %d of %s (face %d px, sharpness %.0f)",
                         mask(id_number), frame.index, video.name, face.box.side, face.sharpness)
                return True
    except SitegateError as exc:
        last = str(exc)
    if stop is not None and stop.is_set():
        return False          # the demo is stopping: not a failure worth a warning
    log.warning("demo: no face enrolled from %s (%s): the camera will record unknown faces only", video, last)
    return False
