"""The face engine's own errors (all derive from :class:`sitegate.errors.SitegateError`)."""
from __future__ import annotations

from sitegate.errors import SitegateError, UsageError


class FaceStackMissing(SitegateError):
    """dlib / face_recognition / OpenCV is not installed (the optional ``face`` extra)."""


class FaceInputError(SitegateError):
    """A frame, photo or encoding handed to the engine is not what it must be (shape, type, values)."""


class CaptureError(SitegateError):
    """A video source cannot be used at all (e.g. a file that does not exist or cannot be decoded)."""


class EnrolmentRefused(UsageError):
    """An enrolment photo is not good enough; ``reason`` is a short machine-readable code.

    Reasons: ``no_face``, ``several_faces``, ``too_small``, ``blurred``, ``unreadable``.
    A UsageError, so the CLI exits 2 with the message: the clerk must take another photo.
    """

    def __init__(self, reason: str, message: str):
        self.reason = reason
        super().__init__(message)
