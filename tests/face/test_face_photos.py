"""1:N matching and enrolment checks on the public test photos (shared/data/faces)."""
from __future__ import annotations

import numpy as np
import pytest

from sitegate.drivers.camera_face import (
    DEFAULT_TOLERANCE,
    RECOMMENDED_TOLERANCE,
    CameraFaceEngine,
    EnrolmentRefused,
    check_enrolment_photo,
    enrolment_encoding_from_file,
    identify,
)

from .conftest import make_gallery

pytestmark = pytest.mark.face

# test photo -> who is in it, faces from left to right (None: a stranger, not enrolled)
EXPECTED = {
    "knn_examples/test/alex_lacamoire1.jpg": ["alex_lacamoire"],
    "knn_examples/test/johnsnow_test1.jpg": ["kit_harington"],
    "knn_examples/test/obama1.jpg": ["obama"],
    "knn_examples/test/kit_with_rose.jpg": ["rose_leslie", "kit_harington"],
    "knn_examples/test/obama_and_biden.jpg": ["biden", "obama", None],  # the girl is not enrolled
    "two_people.jpg": ["obama", "biden"],
}


def left_to_right(faces):
    return sorted(faces, key=lambda f: f.box.left)


def who(photo, gallery, tolerance):
    faces = left_to_right(photo.faces)
    return [m.worker_id for m in gallery.match(np.stack([f.encoding for f in faces]), tolerance)]


@pytest.mark.parametrize("tolerance", [DEFAULT_TOLERANCE, RECOMMENDED_TOLERANCE])
@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_every_test_photo_is_matched_to_its_person(photos, gallery, name, tolerance):
    assert who(photos[name], gallery, tolerance) == EXPECTED[name]


def test_genuine_and_impostor_distances_are_apart(photos, gallery):
    """The figures the tolerance advice rests on (gallery.py docstring, README.md)."""
    genuine, impostor = [], []
    for name, people in EXPECTED.items():
        for face, person in zip(left_to_right(photos[name].faces), people):
            for m_person in ("alex_lacamoire", "biden", "kit_harington", "obama", "rose_leslie"):
                d = float(np.min(np.linalg.norm(gallery.encodings_of(m_person) - face.encoding, axis=1)))
                (genuine if m_person == person else impostor).append(d)
    assert len(genuine) == 9 and len(impostor) == 9 * 4 + 5
    assert max(genuine) < RECOMMENDED_TOLERANCE < DEFAULT_TOLERANCE < min(impostor), (genuine, impostor)


def test_a_person_not_enrolled_is_not_matched(photos, train_encodings):
    gallery = make_gallery(train_encodings, without=("rose_leslie",))
    assert who(photos["knn_examples/test/kit_with_rose.jpg"], gallery, DEFAULT_TOLERANCE) == [None, "kit_harington"]
    gallery.remove("obama")
    assert who(photos["knn_examples/test/obama1.jpg"], gallery, DEFAULT_TOLERANCE) == [None]


def test_identify_a_photo_end_to_end(photos, gallery):
    found = identify(photos["knn_examples/test/obama_and_biden.jpg"].rgb, gallery, RECOMMENDED_TOLERANCE)
    assert [f.worker_id for f in left_to_right(found)] == ["biden", "obama", None]
    assert all(f.distance is not None and f.box.side > 100 for f in found)


@pytest.mark.parametrize("name, min_face", [("knn_examples/test/obama_and_biden.jpg", 80),
                                            ("knn_examples/test/kit_with_rose.jpg", 60),
                                            ("two_people.jpg", 80)])
def test_engine_gives_one_decision_per_face_in_a_frame(photos, gallery, name, min_face):
    import cv2

    engine = CameraFaceEngine(gallery, RECOMMENDED_TOLERANCE, min_face_px=min_face, detect_short_side=720)
    bgr = cv2.cvtColor(photos[name].rgb, cv2.COLOR_RGB2BGR)
    decisions = engine.process(bgr, 0.0) + engine.flush(0.0)
    assert sorted(map(str, (d.worker_id for d in decisions))) == sorted(map(str, EXPECTED[name]))
    assert len({d.track_id for d in decisions}) == len(decisions)
    for d in decisions:
        photo = cv2.imdecode(np.frombuffer(d.photo_jpeg, np.uint8), cv2.IMREAD_COLOR)
        assert photo is not None and max(photo.shape[:2]) <= 320 and d.photo_jpeg[:2] == b"\xff\xd8"


# ---- enrolment ---------------------------------------------------------------------------------
def test_a_good_photo_is_enrolled(photos):
    enrolled = check_enrolment_photo(photos["obama.jpg"].rgb)
    # the same face as the session's encoding of that photo
    assert np.linalg.norm(enrolled.encoding - photos["obama.jpg"].faces[0].encoding) < 0.05
    assert enrolled.encoding.shape == (128,) and enrolled.encoding.dtype == np.float32
    assert enrolled.sharpness >= 50


def refusal(rgb, **kwargs) -> EnrolmentRefused:
    with pytest.raises(EnrolmentRefused) as info:
        check_enrolment_photo(rgb, **kwargs)
    return info.value


def test_no_face_is_refused(photos):
    grey = np.full((480, 640, 3), 128, np.uint8)
    assert refusal(grey).reason == "no_face"
    background = photos["knn_examples/test/obama_and_biden.jpg"].rgb[0:300, 1100:1600]  # curtain and flag
    assert refusal(np.ascontiguousarray(background)).reason == "no_face"


def test_two_faces_are_refused(photos):
    err = refusal(photos["two_people.jpg"].rgb)
    assert err.reason == "several_faces" and "2 faces" in str(err)


def test_too_small_is_refused(photos):
    import cv2

    small = cv2.resize(photos["obama_small.jpg"].rgb, None, fx=0.5, fy=0.5, interpolation=cv2.INTER_AREA)
    err = refusal(small)  # a ~54 px face
    assert err.reason == "too_small" and "100 px" in str(err)


def test_blurred_is_refused(photos):
    import cv2

    blurred = cv2.GaussianBlur(photos["obama.jpg"].rgb, (0, 0), 6)
    err = refusal(blurred)
    assert err.reason == "blurred" and "sharpness" in str(err)


def test_unreadable_file_is_refused(tmp_path):
    bad = tmp_path / "photo.jpg"
    bad.write_text("not a JPEG")
    with pytest.raises(EnrolmentRefused) as info:
        enrolment_encoding_from_file(bad)
    assert info.value.reason == "unreadable" and "photo.jpg" in str(info.value)


def test_enrolment_from_a_file(faces_dir, photos):
    enrolled = enrolment_encoding_from_file(faces_dir / "knn_examples/train/biden/biden2.jpg")
    assert np.linalg.norm(enrolled.encoding - photos["knn_examples/train/biden/biden2.jpg"].faces[0].encoding) < 0.05
