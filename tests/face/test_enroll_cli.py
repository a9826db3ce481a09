"""`sitegate enroll` and `sitegate faces identify|list|remove` through the CLI, on the public test photos.

The five knn_examples/train people are enrolled once per module (one photo each, through the CLI:
roster import first); every knn_examples/test photo must then name the right people.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import Site, make_id

from .test_driver_camera import gate_video, grey_video  # noqa: F401 - shared session fixtures

pytestmark = pytest.mark.face

# person -> (ID number, name, enrolment photo under knn_examples/train)
PEOPLE = {
    "alex_lacamoire": (make_id(11), "李明", "alex_lacamoire/img1.jpg"),
    "biden": (make_id(12), "王强", "biden/biden.jpg"),
    "kit_harington": (make_id(13), "赵磊", "kit_harington/john1.jpeg"),
    "obama": (make_id(14), "张三", "obama/obama2.jpg"),
    "rose_leslie": (make_id(15), "刘芳", "rose_leslie/img1.jpg"),
}
NOT_ENROLLED = (make_id(16), "陈七")   # on the roster, no face
LEFT = (make_id(17), "孙八")           # left the project

# test photo -> who is in it, left to right (None: not enrolled)
EXPECTED = {
    "knn_examples/test/alex_lacamoire1.jpg": ["alex_lacamoire"],
    "knn_examples/test/johnsnow_test1.jpg": ["kit_harington"],
    "knn_examples/test/obama1.jpg": ["obama"],
    "knn_examples/test/kit_with_rose.jpg": ["rose_leslie", "kit_harington"],
    "knn_examples/test/obama_and_biden.jpg": ["biden", "obama", None],
}


def masked(idn: str) -> str:
    return idn[:6] + "********" + idn[-4:]


def import_roster(site: Site) -> None:
    rows = [f"{idn},{name}" for idn, name, _ in PEOPLE.values()] + [",".join(NOT_ENROLLED), ",".join(LEFT)]
    path = site.root / "roster.csv"
    path.write_text("id_card_number,name\n" + "\n".join(rows) + "\n", encoding="utf-8")
    code, _, err = site.cli("roster", "import", "-c", str(site.config), str(path))
    assert code == 0, err
    from sitegate.buffer import Roster

    with site.store() as store:
        Roster(store).mark_left([LEFT[0]])


def enrol(site: Site, idn: str, *where: str) -> tuple[int, str, str]:
    return site.cli("enroll", "-c", str(site.config), "--id-card-number", idn, *where)


@pytest.fixture(scope="module")
def enrolled(tmp_path_factory, faces_dir, face_stack) -> Site:
    site = Site(tmp_path_factory.mktemp("enrolled"))
    import_roster(site)
    for idn, name, photo in PEOPLE.values():
        code, out, err = enrol(site, idn, "--photo", str(faces_dir / "knn_examples" / "train" / photo))
        assert code == 0, err
        assert out.strip() == f"enrolled {masked(idn)} {name}"
    return site


def identify(site: Site, image: Path, *more: str) -> list[dict]:
    code, out, err = site.cli("faces", "identify", "-c", str(site.config), "--image", str(image), "--json", *more)
    assert code == 0, err
    return json.loads(out)


@pytest.mark.parametrize("photo", sorted(EXPECTED))
def test_every_test_photo_names_the_right_people(enrolled, faces_dir, photo):
    found = identify(enrolled, faces_dir / photo)
    expected = [None if p is None else masked(PEOPLE[p][0]) for p in EXPECTED[photo]]
    assert [f["id_card_number"] for f in found] == expected
    for f, person in zip(found, EXPECTED[photo]):
        assert f["name"] == (PEOPLE[person][1] if person else None)
        assert f["matched"] == (person is not None)
        assert (f["distance"] <= 0.5) == (person is not None)
        box = f["box"]
        assert box["right"] - box["left"] > 50 and box["bottom"] - box["top"] > 50


def test_identify_in_words_names_everyone_and_a_stranger(enrolled, faces_dir):
    code, out, err = enrolled.cli("faces", "identify", "-c", str(enrolled.config), "--image",
                                  str(faces_dir / "knn_examples/test/obama_and_biden.jpg"))
    assert code == 0, err
    assert "3 face(s)" in out and "tolerance 0.5, 5 enrolled" in out
    assert f"{masked(PEOPLE['biden'][0])} 王强" in out and f"{masked(PEOPLE['obama'][0])} 张三" in out
    assert out.count("unknown") == 1
    assert PEOPLE["obama"][0] not in out   # never the full ID number


def test_a_photo_without_a_face_is_an_empty_answer(enrolled, tmp_path):
    from PIL import Image

    blank = tmp_path / "wall.jpg"
    Image.fromarray(np.full((480, 640, 3), 128, np.uint8)).save(blank)
    assert identify(enrolled, blank) == []
    code, out, _ = enrolled.cli("faces", "identify", "-c", str(enrolled.config), "--image", str(blank))
    assert code == 0 and "no face found" in out


def test_identify_refuses_a_bad_file_and_a_bad_tolerance(enrolled, tmp_path, faces_dir):
    bad = tmp_path / "x.jpg"
    bad.write_text("not a photo")
    code, _, err = enrolled.cli("faces", "identify", "-c", str(enrolled.config), "--image", str(bad))
    assert code == 2 and "cannot read the photo" in err
    code, _, err = enrolled.cli("faces", "identify", "-c", str(enrolled.config), "--image",
                                str(faces_dir / "obama.jpg"), "--tolerance", "0")
    assert code == 2 and "--tolerance" in err


def test_a_tighter_tolerance_turns_matches_into_unknowns(enrolled, faces_dir):
    found = identify(enrolled, faces_dir / "knn_examples/test/obama1.jpg", "--tolerance", "0.1")
    assert [f["matched"] for f in found] == [False] and found[0]["distance"] > 0.1


def test_faces_list_shows_masked_ids_names_and_dates(enrolled):
    code, out, err = enrolled.cli("faces", "list", "-c", str(enrolled.config), "--json")
    assert code == 0, err
    rows = json.loads(out)
    assert sorted(r["name"] for r in rows) == sorted(name for _, name, _ in PEOPLE.values())
    assert {r["id_card_number"] for r in rows} == {masked(idn) for idn, _, _ in PEOPLE.values()}
    assert all(r["source"] == "photo" and r["created_ts"] > 0 for r in rows)
    assert not any(idn in out for idn, _, _ in PEOPLE.values())
    code, out, _ = enrolled.cli("faces", "list", "-c", str(enrolled.config))
    assert code == 0 and "5 enrolled face(s)" in out and "张三" in out


def test_encodings_and_photos_are_not_in_the_database_in_clear(enrolled):
    from sitegate.buffer.faces import FaceStore

    idn = PEOPLE["obama"][0]
    with enrolled.store() as store:
        faces = FaceStore(store)
        encoding, photo = faces.encoding(idn), faces.photo(idn)
        n_rows = faces.count()
    assert encoding.shape == (128,) and encoding.dtype == np.float32 and n_rows == 5
    assert photo[:3] == b"\xff\xd8\xff" and len(photo) <= 200 * 1024
    raw = b"".join(p.read_bytes() for p in enrolled.data_dir.glob("sitegate.db*"))
    # what would be there if either were stored in clear: the float bytes, the JPEG's opening
    assert encoding.astype("<f4").tobytes()[:32] not in raw
    assert photo[:64] not in raw and idn.encode() not in raw


# ---- refusals and changes (each on its own small site) --------------------------------------------
@pytest.fixture
def roster_site(site, faces_dir, face_stack) -> Site:
    import_roster(site)
    return site


def refused(site: Site, idn: str, *where: str, words: str) -> str:
    code, out, err = enrol(site, idn, *where)
    assert code == 2, out + err
    assert words in err, err
    assert idn not in err
    return err


def test_enrolment_refusals_say_what_to_fix(roster_site, faces_dir, tmp_path):
    import cv2
    from PIL import Image

    from sitegate.drivers.camera_face import load_image

    idn = PEOPLE["obama"][0]
    blank = tmp_path / "blank.jpg"
    Image.fromarray(np.full((480, 640, 3), 128, np.uint8)).save(blank)
    refused(roster_site, idn, "--photo", str(blank), words="no face found")
    refused(roster_site, idn, "--photo", str(faces_dir / "two_people.jpg"), words="2 faces found")
    small = tmp_path / "small.jpg"
    rgb = load_image(faces_dir / "obama_small.jpg")
    Image.fromarray(cv2.resize(rgb, None, fx=0.5, fy=0.5, interpolation=cv2.INTER_AREA)).save(small)
    refused(roster_site, idn, "--photo", str(small), words="at least 100 px are needed")
    blurred = tmp_path / "blurred.jpg"
    Image.fromarray(cv2.GaussianBlur(load_image(faces_dir / "obama.jpg"), (0, 0), 6)).save(blurred)
    refused(roster_site, idn, "--photo", str(blurred), words="the face is blurred")
    refused(roster_site, idn, "--photo", str(tmp_path / "missing.jpg"), words="cannot read the photo")
    refused(roster_site, make_id(99), "--photo", str(faces_dir / "obama.jpg"), words="is not on the roster")
    refused(roster_site, LEFT[0], "--photo", str(faces_dir / "obama.jpg"), words="has left the project")
    with roster_site.store() as store:
        from sitegate.buffer.faces import FaceStore

        assert FaceStore(store).count() == 0   # nothing refused was stored


def test_an_existing_face_needs_replace_and_is_audited(roster_site, faces_dir):
    idn = PEOPLE["obama"][0]
    assert enrol(roster_site, idn, "--photo", str(faces_dir / "obama.jpg"))[0] == 0
    refused(roster_site, idn, "--photo", str(faces_dir / "obama2.jpg"), words="add --replace")
    code, out, err = enrol(roster_site, idn, "--photo", str(faces_dir / "obama2.jpg"), "--replace", "--json")
    assert code == 0, err
    assert json.loads(out)["replaced"] is True
    with roster_site.store() as store:
        audit = [(r["action"], r["subject"]) for r in store.query("SELECT * FROM audit WHERE action LIKE 'face.%'")]
        assert audit == [("face.enrol", masked(idn)), ("face.replace", masked(idn))]
        assert not any(idn in r["detail"] + r["subject"] for r in store.query("SELECT * FROM audit"))


def test_one_person_cannot_be_enrolled_as_two_workers(roster_site, faces_dir):
    assert enrol(roster_site, PEOPLE["obama"][0], "--photo", str(faces_dir / "obama.jpg"))[0] == 0
    err = refused(roster_site, NOT_ENROLLED[0], "--photo", str(faces_dir / "obama2.jpg"),
                  words=f"this face matches {masked(PEOPLE['obama'][0])} 张三")
    assert "--allow-same-face" in err
    code, _, err = enrol(roster_site, NOT_ENROLLED[0], "--photo", str(faces_dir / "obama2.jpg"), "--allow-same-face")
    assert code == 0, err


def test_remove_a_face(roster_site, faces_dir):
    idn = PEOPLE["biden"][0]
    assert enrol(roster_site, idn, "--photo", str(faces_dir / "biden.jpg"))[0] == 0
    code, out, err = roster_site.cli("faces", "remove", "-c", str(roster_site.config), "--id-card-number", idn)
    assert code == 0 and out.strip() == f"removed the face of {masked(idn)}", err
    code, _, err = roster_site.cli("faces", "remove", "-c", str(roster_site.config), "--id-card-number", idn)
    assert code == 2 and f"no face is enrolled for {masked(idn)}" in err
    assert identify(roster_site, faces_dir / "biden.jpg")[0]["matched"] is False


def test_enrol_from_a_camera_takes_the_first_good_frame(roster_site, gate_video, grey_video, faces_dir):
    idn = PEOPLE["obama"][0]
    code, out, err = enrol(roster_site, idn, "--from-camera", str(gate_video), "--json")
    assert code == 0, err
    assert json.loads(out)["source"] == "camera"
    found = identify(roster_site, faces_dir / "knn_examples/test/obama1.jpg")
    assert [f["id_card_number"] for f in found] == [masked(idn)]
    # a camera that shows nobody: refused with the last reason, exit 2
    err = refused(roster_site, PEOPLE["biden"][0], "--from-camera", str(grey_video),
                  words="no frame with exactly one good face")
    assert "no face found" in err
    refused(roster_site, PEOPLE["biden"][0], "--from-camera", str(faces_dir / "nothing.mp4"),
            words="video file not found")
