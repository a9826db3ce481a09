"""The rest of sitegate must import without dlib; a missing face stack is a clear FaceStackMissing."""
from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest


def run_python(code: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, timeout=120)


def test_import_does_not_load_the_face_stack():
    result = run_python(
        """
        import sys, pkgutil, importlib
        import sitegate.drivers.camera_face as pkg
        for mod in pkgutil.iter_modules(pkg.__path__):
            importlib.import_module(f"{pkg.__name__}.{mod.name}")
        import sitegate.bench.face
        loaded = [m for m in ("dlib", "face_recognition", "face_recognition_models", "cv2") if m in sys.modules]
        print("LOADED", loaded)
        """
    )
    assert result.returncode == 0, result.stderr
    assert "LOADED []" in result.stdout


@pytest.mark.parametrize(
    "blocked, named",
    [
        ("dlib", "dlib"),
        ("cv2", "opencv-python-headless"),
        ("face_recognition_models", "face-recognition-models"),
        ("pkg_resources", "setuptools<82"),
        ("face_recognition", "face-recognition"),
    ],
)
def test_missing_package_is_named(blocked: str, named: str):
    # A None entry in sys.modules makes "import X" raise ImportError, as if X were not installed.
    result = run_python(
        f"""
        import sys
        sys.modules[{blocked!r}] = None
        from sitegate.errors import SitegateError
        from sitegate.drivers.camera_face import FaceStackMissing, require_face_stack
        try:
            require_face_stack()
        except FaceStackMissing as exc:
            assert isinstance(exc, SitegateError)
            print("MISSING:", exc)
        else:
            print("NO ERROR")
        """
    )
    assert result.returncode == 0, result.stderr  # face_recognition's own quit() would exit without output
    assert "MISSING:" in result.stdout
    assert named in result.stdout
    assert "pip install 'sitegate[face]'" in result.stdout
