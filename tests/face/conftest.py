"""Shared fixtures of the face tests: the test photos (shared/data/faces), encoded once per session."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

FACES = Path(__file__).parents[2].parent / "shared" / "data" / "faces"
TRAIN_PEOPLE = ["alex_lacamoire", "biden", "kit_harington", "obama", "rose_leslie"]
CLIP = "short_hamilton_clip.mp4"


@pytest.fixture(scope="session")
def faces_dir() -> Path:
    if not (FACES / "knn_examples" / "train").is_dir():
        pytest.skip(f"face test data not found at {FACES} (the shared data folder next to the repo)")
    return FACES


@pytest.fixture(scope="session")
def face_stack() -> None:
    from sitegate.drivers.camera_face import FaceStackMissing, require_face_stack

    try:
        require_face_stack()
    except FaceStackMissing as exc:
        pytest.skip(str(exc))


@dataclass
class Photo:
    name: str          # path relative to the faces folder
    rgb: np.ndarray
    faces: list        # stills.PhotoFace, largest first


@pytest.fixture(scope="session")
def photos(faces_dir: Path, face_stack: None) -> dict[str, Photo]:
    """Every test photo, loaded, its faces found and encoded ONCE for the whole session."""
    from sitegate.drivers.camera_face.stills import find_faces, load_image

    names = [p.relative_to(faces_dir).as_posix() for p in sorted(faces_dir.glob("knn_examples/*/*.jp*g"))]
    names += [p.relative_to(faces_dir).as_posix() for p in sorted(faces_dir.glob("knn_examples/train/*/*"))]
    names += ["two_people.jpg", "obama-480p.jpg", "obama_small.jpg", "biden.jpg", "obama.jpg"]
    out = {}
    for name in names:
        rgb = load_image(faces_dir / name)
        out[name] = Photo(name, rgb, find_faces(rgb))
    return out


@pytest.fixture(scope="session")
def train_encodings(photos: dict[str, Photo]) -> dict[str, list[np.ndarray]]:
    """person -> encodings of their enrolment photos (each train photo holds exactly one face)."""
    out: dict[str, list[np.ndarray]] = {}
    for name, photo in photos.items():
        if name.startswith("knn_examples/train/"):
            assert len(photo.faces) == 1, f"{name}: expected one face, found {len(photo.faces)}"
            out.setdefault(name.split("/")[2], []).append(photo.faces[0].encoding)
    assert sorted(out) == TRAIN_PEOPLE
    return out


def make_gallery(train_encodings: dict[str, list[np.ndarray]], without: tuple[str, ...] = ()):
    from sitegate.drivers.camera_face import Gallery

    gallery = Gallery()
    for person, encodings in train_encodings.items():
        if person not in without:
            gallery.add(person, np.stack(encodings))
    return gallery


@pytest.fixture
def gallery(train_encodings):
    return make_gallery(train_encodings)
