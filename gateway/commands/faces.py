"""``sitegate faces identify|list|remove``: who a photo shows, who is enrolled, and un-enrolling.

``identify`` answers with the same gallery and tolerance the site's camera uses (the tolerance of
the first camera-face device in the configuration, else 0.5), so a clerk can check a doubtful
photo the way the gate would decide it.
"""
from __future__ import annotations

from sitegate.commands._common import add_config, add_json, load_config, local, open_store, print_json
from sitegate.errors import UsageError
from sitegate.idcard import mask, normalise


def register(sub) -> None:
    p = sub.add_parser("faces", help="enrolled faces: identify who a photo shows, list, remove")
    s = p.add_subparsers(dest="faces_command", metavar="ACTION", required=True)

    ident = s.add_parser("identify", help="who each face in a photo is (ID numbers masked), or unknown")
    add_config(ident)
    ident.add_argument("--image", required=True, metavar="JPG", help="the photo to check")
    ident.add_argument("--tolerance", type=float, metavar="T",
                       help="largest distance accepted as a match (default: the camera's, else 0.5)")
    add_json(ident)
    ident.set_defaults(func=identify)

    ls = s.add_parser("list", help="workers with an enrolled face (ID numbers masked)")
    add_config(ls)
    add_json(ls)
    ls.set_defaults(func=list_faces)

    rm = s.add_parser("remove", help="delete a worker's enrolled face")
    add_config(rm)
    rm.add_argument("--id-card-number", required=True, metavar="N")
    add_json(rm)
    rm.set_defaults(func=remove)


def actor() -> str:
    import getpass

    try:
        return getpass.getuser()
    except Exception:  # noqa: BLE001 - no login name in some containers
        return "unknown"


def site_tolerance(cfg) -> float:
    """The tolerance the site's camera decides with: the first camera-face device's, else 0.5."""
    from sitegate.drivers.camera_face import RECOMMENDED_TOLERANCE

    for dev in cfg["devices"]:
        if dev.get("driver") == "camera-face" and dev.get("tolerance") is not None:
            return float(dev["tolerance"])
    return RECOMMENDED_TOLERANCE


def identify(args) -> int:
    from sitegate.buffer import Roster
    from sitegate.buffer.faces import FaceStore
    from sitegate.drivers.camera_face import FaceInputError, identify as identify_faces, load_image

    cfg = load_config(args)
    tolerance = site_tolerance(cfg) if args.tolerance is None else args.tolerance
    if not 0 < tolerance <= 1.5:
        raise UsageError(f"--tolerance must be between 0 and 1.5 (dlib distances), got {tolerance:g}")
    try:
        rgb = load_image(args.image)
    except FaceInputError as exc:
        raise UsageError(str(exc)) from None
    with open_store(cfg) as store:
        gallery = FaceStore(store).gallery()
        found = sorted(identify_faces(rgb, gallery, tolerance), key=lambda f: f.box.left)   # left to right
        roster = Roster(store)
        rows = []
        for f in found:
            worker = roster.get(f.worker_id) if f.worker_id else None
            rows.append({"id_card_number": mask(f.worker_id) if f.worker_id else None,
                         "name": worker.name if worker else None,
                         "matched": f.worker_id is not None,
                         "distance": None if f.distance is None else round(f.distance, 3),
                         "box": {"top": f.box.top, "right": f.box.right, "bottom": f.box.bottom, "left": f.box.left}})
    if args.json:
        print_json(rows)
        return 0
    if not rows:
        print(f"no face found in {args.image}")
        return 0
    print(f"{len(rows)} face(s) in {args.image}, left to right "
          f"(tolerance {tolerance:g}, {gallery.worker_count} enrolled):")
    for r in rows:
        b = r["box"]
        who = f"{r['id_card_number']} {r['name'] or ''}".rstrip() if r["matched"] else "unknown"
        dist = "no one enrolled" if r["distance"] is None else f"distance {r['distance']:.3f}"
        print(f"  {who:<28} {dist:<16} box left {b['left']} top {b['top']} right {b['right']} bottom {b['bottom']}")
    return 0


def list_faces(args) -> int:
    from sitegate.buffer.faces import FaceStore

    cfg = load_config(args)
    tz = cfg["site"].get("timezone", "Asia/Shanghai")
    with open_store(cfg) as store:
        entries = FaceStore(store).entries()
    if args.json:
        print_json([e.public_dict() for e in entries])
        return 0
    print(f"{'ID number':<18}  {'name':<8}  {'enrolled':<19}  {'updated':<19}  source")
    for e in entries:
        print(f"{e.masked_id:<18}  {e.name or '-':<8}  {local(e.created_ts, tz):<19}  {local(e.updated_ts, tz):<19}  "
              f"{e.source}{'' if e.status in (None, 'active') else f'  ({e.status})'}")
    print(f"{len(entries)} enrolled face(s)")
    return 0


def remove(args) -> int:
    from sitegate.buffer.faces import FaceStore

    cfg = load_config(args)
    idn = normalise(args.id_card_number)
    with open_store(cfg) as store:
        if not FaceStore(store).remove(idn):
            raise UsageError(f"no face is enrolled for {mask(idn)}")
        store.audit(actor(), "face.remove", mask(idn))
    if args.json:
        print_json({"id_card_number": mask(idn), "removed": True})
    else:
        print(f"removed the face of {mask(idn)}")
    return 0
