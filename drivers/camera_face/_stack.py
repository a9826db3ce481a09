"""Lazy access to the optional face stack (dlib, face_recognition, OpenCV).

The rest of sitegate must import and run without the ``face`` extra, so nothing in this package
imports dlib, face_recognition or cv2 at module level; every user goes through these loaders,
which turn a missing package into :class:`FaceStackMissing` naming what to install.
"""
from __future__ import annotations

import importlib
import threading
import warnings
from types import ModuleType

from .errors import FaceStackMissing

INSTALL_HINT = (
    "install the face extra: pip install 'sitegate[face]' && pip install --no-deps 'face-recognition>=1.3'"
)

_lock = threading.RLock()
_cache: dict[str, ModuleType] = {}


def _load(name: str, package: str) -> ModuleType:
    with _lock:
        mod = _cache.get(name)
        if mod is None:
            try:
                mod = importlib.import_module(name)
            except ImportError as exc:
                raise FaceStackMissing(f"the face engine needs {package} ({exc}); {INSTALL_HINT}") from exc
            _cache[name] = mod
        return mod


def cv2() -> ModuleType:
    """OpenCV (capture, colour conversion, JPEG, blur measure)."""
    return _load("cv2", "opencv-python-headless")


def dlib() -> ModuleType:
    return _load("dlib", "dlib (the dlib-bin wheel)")


def face_recognition() -> ModuleType:
    """face_recognition with its models loaded (about 1 s the first time)."""
    with _lock:
        if "face_recognition" in _cache:
            return _cache["face_recognition"]
        dlib()
        # face_recognition calls quit() when face_recognition_models fails to import (it does when
        # setuptools>=82 removed pkg_resources), which would end the daemon: check both first.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # pkg_resources' own deprecation warning
            try:
                importlib.import_module("pkg_resources")
            except ImportError as exc:
                raise FaceStackMissing(
                    f"face_recognition_models needs pkg_resources from setuptools<82 ({exc}): "
                    f"pip install 'setuptools<82'; {INSTALL_HINT}"
                ) from exc
            _load("face_recognition_models", "face-recognition-models")
            try:
                return _load("face_recognition", "face-recognition")
            except (RuntimeError, OSError) as exc:  # dlib cannot read a model file
                raise FaceStackMissing(f"face_recognition could not load its models ({exc}); {INSTALL_HINT}") from exc


def require_face_stack() -> None:
    """Raise :class:`FaceStackMissing` (naming the package) unless the whole face stack imports."""
    cv2()
    face_recognition()
