"""The gateway's own face engine: a USB/RTSP camera (or a video file) in, face decisions out.

Library layers, each usable alone (the driver, the store of encrypted encodings and the enrol
CLI are built on them elsewhere):

- :class:`Gallery` — enrolled encodings, 1:N match in one numpy step (gallery.py)
- :class:`CameraFaceEngine` — detect → track → encode once → match → decide, per frame (engine.py)
- :class:`FrameSource`, :class:`CameraRunner` — OpenCV capture with reconnect, and the thread
  that feeds the engine (capture.py, runner.py)
- :func:`check_enrolment_photo` — one sharp, large face or :class:`EnrolmentRefused` (quality.py)
- :func:`identify`, :func:`load_image` — faces in a still photo (stills.py)

dlib, face_recognition and OpenCV are the optional ``face`` extra: importing this package does
not import them (they load on first use, and :func:`require_face_stack` checks up front,
raising :class:`FaceStackMissing` with the install command).
"""
from ._stack import INSTALL_HINT, require_face_stack
from .box import Box
from .capture import Frame, FrameSource
from .engine import CameraFaceEngine, FaceDecision
from .errors import CaptureError, EnrolmentRefused, FaceInputError, FaceStackMissing
from .gallery import DEFAULT_TOLERANCE, RECOMMENDED_TOLERANCE, Gallery, Match
from .quality import EnrolmentFace, check_enrolment_photo, enrolment_encoding_from_file
from .runner import CameraRunner
from .stills import Identified, identify, load_image

__all__ = [
    "Box", "CameraFaceEngine", "CameraRunner", "CaptureError", "DEFAULT_TOLERANCE", "EnrolmentFace",
    "EnrolmentRefused", "FaceDecision", "FaceInputError", "FaceStackMissing", "Frame", "FrameSource",
    "Gallery", "INSTALL_HINT", "Identified", "Match", "RECOMMENDED_TOLERANCE", "check_enrolment_photo",
    "enrolment_encoding_from_file", "identify", "load_image", "require_face_stack",
]
