"""``sitegate enroll``: enrol a worker's face, from a photo or a camera, into the encrypted face store.

The worker must be on the roster and active. The photo must show exactly one face, large and
sharp enough (``check_enrolment_photo``); anything else is refused with the reason (exit 2) so
the clerk takes another photo. A face that already matches another enrolled worker is refused
too: one person enrolled under two identities would clock in twice and be paid twice.
"""
from __future__ import annotations

import time
from pathlib import Path

from sitegate.commands._common import add_config, add_json, load_config, open_store, print_json
from sitegate.errors import UsageError
from sitegate.idcard import mask, normalise

# The stored photo is for terminals that keep their own face library: an ID-photo-like crop
# (head and shoulders) at a size they accept (Hikvision: ≤ 200 KB JPEG).
ENROL_PHOTO_MARGIN = 0.5
ENROL_PHOTO_MAX_SIDE = 480
ENROL_PHOTO_MAX_BYTES = 100_000
CAMERA_CHECKS_PER_S = 5.0    # frames of a video file checked per second of its media time


def register(sub) -> None:
    p = sub.add_parser("enroll", help="enrol a worker's face from a photo or a camera (exactly one sharp face)")
    add_config(p)
    p.add_argument("--id-card-number", required=True, metavar="N", help="the worker's ID number (on the roster)")
    where = p.add_mutually_exclusive_group(required=True)
    where.add_argument("--photo", metavar="JPG", help="a photo file (JPEG/PNG) of the worker's face")
    where.add_argument("--from-camera", metavar="SOURCE",
                       help="take the next frame with exactly one good face from a USB index, rtsp:// URL "
                            "or video file")
    p.add_argument("--timeout", type=float, default=30.0, help="with --from-camera: give up after this many seconds")
    p.add_argument("--replace", action="store_true", help="replace the face already enrolled for this worker")
    p.add_argument("--allow-same-face", action="store_true",
                   help="enrol even though the face matches another enrolled worker (e.g. twins)")
    add_json(p)
    p.set_defaults(func=enroll)


def enroll(args) -> int:
    from sitegate.buffer import Roster
    from sitegate.buffer.faces import FaceExists, FaceStore
    from sitegate.commands.faces import actor, site_tolerance

    cfg = load_config(args)
    idn = normalise(args.id_card_number)
    with open_store(cfg) as store:
        worker = Roster(store).get(idn)
        if worker is None:
            raise UsageError(f"{mask(idn)} is not on the roster: import the worker first (sitegate roster import)")
        if worker.status != "active":
            raise UsageError(f"{mask(idn)} {worker.name} has left the project (status {worker.status}): not enrolled")
        faces = FaceStore(store)
        already = UsageError(f"{mask(idn)} {worker.name} already has a face enrolled: add --replace to replace it")
        if faces.has_face(idn) and not args.replace:
            raise already
        if args.photo:
            rgb, face = _from_photo(Path(args.photo))
            source = "photo"
        else:
            rgb, face = _from_camera(args.from_camera, args.timeout)
            source = "camera"
        if not args.allow_same_face:
            _refuse_same_face(faces, idn, face.encoding, site_tolerance(cfg))
        jpeg = _photo_crop(rgb, face.box)
        try:
            replaced = faces.enrol(idn, face.encoding, jpeg, source, replace=args.replace)
        except FaceExists:   # enrolled by someone else between the check and now
            raise already from None
        store.audit(actor(), "face.replace" if replaced else "face.enrol", mask(idn),
                    f"from a {source}; face {face.box.side} px, sharpness {face.sharpness:.0f}")
    if args.json:
        print_json({"id_card_number": mask(idn), "name": worker.name, "replaced": replaced, "source": source,
                    "face_px": face.box.side, "sharpness": round(face.sharpness, 1)})
    else:
        print(f"enrolled {mask(idn)} {worker.name}" + (" (the previous face was replaced)" if replaced else ""))
    return 0


def _from_photo(path: Path):
    from sitegate.drivers.camera_face import EnrolmentRefused, FaceInputError, check_enrolment_photo, load_image

    try:
        rgb = load_image(path)
    except FaceInputError as exc:
        raise EnrolmentRefused("unreadable", str(exc)) from None
    return rgb, check_enrolment_photo(rgb)


def _from_camera(source: str, timeout: float):
    """The first frame with exactly one good face; EnrolmentRefused with the last reason if none comes.

    A video file is read as fast as it decodes, checking a few frames per second of its media
    time (an enrolment check costs ~0.1-0.3 s); a camera gives its newest frame each time.
    """
    from sitegate.drivers.camera_face import CaptureError, EnrolmentRefused, FrameSource, check_enrolment_photo
    from sitegate.drivers.camera_face._stack import cv2

    if timeout <= 0:
        raise UsageError("--timeout must be greater than 0")
    deadline = time.monotonic() + timeout
    last: EnrolmentRefused | None = None
    checked = 0
    try:
        with FrameSource(source, realtime=False, reconnect=False) as frames:
            step = 0
            while time.monotonic() < deadline:
                frame = frames.read()
                if frame is None:
                    break
                if not step:   # the frame rate is known once the source is open
                    step = max(1, round(frames.fps / CAMERA_CHECKS_PER_S)) if frames.kind == "file" else 1
                if frame.index % step:
                    continue
                checked += 1
                rgb = cv2().cvtColor(frame.image, cv2().COLOR_BGR2RGB)
                try:
                    return rgb, check_enrolment_photo(rgb)
                except EnrolmentRefused as exc:
                    last = exc
    except CaptureError as exc:
        raise UsageError(str(exc)) from None
    why = f"; the last one: {last}" if last else ""
    raise EnrolmentRefused(last.reason if last else "no_face",
                           f"no frame with exactly one good face from {source} ({checked} checked in "
                           f"{timeout:g} s or to the end of the video){why}")


def _refuse_same_face(faces, idn: str, encoding, tolerance: float) -> None:
    gallery = faces.gallery()
    gallery.remove(idn)          # replacing one's own face is not a clash
    match = gallery.match_one(encoding, tolerance)
    if match.worker_id is None:
        return
    from sitegate.buffer import Roster

    other = Roster(faces.store).get(match.worker_id)
    raise UsageError(f"this face matches {mask(match.worker_id)} {other.name if other else ''} (distance "
                     f"{match.distance:.2f}, tolerance {tolerance:g}), who is already enrolled: one person must "
                     "not be enrolled as two workers (--allow-same-face if they really are two people, e.g. twins)")


def _photo_crop(rgb, box) -> bytes:
    from sitegate.drivers.camera_face.photo import face_jpeg

    return face_jpeg(rgb, box, rgb=True, margin=ENROL_PHOTO_MARGIN, max_side=ENROL_PHOTO_MAX_SIDE, quality=90,
                     max_bytes=ENROL_PHOTO_MAX_BYTES)
