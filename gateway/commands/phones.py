"""``sitegate phones add|revoke|list``: keys for geofence clock-ins from workers' phones.

``add`` prints the new key ONCE (text and a QR code for the phone app to scan); it is stored only
encrypted and never logged. The QR code holds one line of JSON (docs/phones.md)::

    {"v":1,"type":"sitegate-phone","url":"http://HOST:PORT/api/clockin","phone_id":"P-…","key":"BASE32…"}

plus ``"mqtt_topic"`` when the MQTT intake is on.
"""
from __future__ import annotations

import io
import json
import sys

from sitegate.commands._common import add_config, add_json, load_config, local, open_store, print_json

CLOCKIN_PATH = "/api/clockin"


def register(sub) -> None:
    p = sub.add_parser("phones", help="phone keys for geofence clock-ins: add, revoke, list")
    s = p.add_subparsers(dest="phones_command", metavar="ACTION", required=True)

    add = s.add_parser("add", help="issue a key for a worker's phone (printed once, with a QR code)")
    add_config(add)
    add.add_argument("--id-card-number", required=True, metavar="N", help="the worker's ID number (on the roster, active)")
    add.add_argument("--phone-id", metavar="ID", help="the phone's id (default: a random P-xxxxxxxx)")
    add.add_argument("--url", help="clock-in URL the phone should use (default: from [http] listen)")
    add.add_argument("--no-qr", action="store_true", help="print the key as text only")
    add.set_defaults(func=add_phone)

    rv = s.add_parser("revoke", help="revoke a phone's key (by phone id, or every phone of a worker)")
    add_config(rv)
    who = rv.add_mutually_exclusive_group(required=True)
    who.add_argument("--phone-id", metavar="ID")
    who.add_argument("--id-card-number", metavar="N")
    rv.set_defaults(func=revoke_phone)

    ls = s.add_parser("list", help="registered phones (ID numbers masked, no keys)")
    add_config(ls)
    ls.add_argument("--active", action="store_true", help="only phones that are not revoked")
    add_json(ls)
    ls.set_defaults(func=list_phones)


def _actor() -> str:
    import getpass

    try:
        return getpass.getuser()
    except Exception:  # noqa: BLE001 - no login name in some containers
        return "unknown"


def clockin_url(listen: str) -> str:
    host, _, port = listen.rpartition(":")
    return f"http://{host}:{port}{CLOCKIN_PATH}"


def enrolment(cfg, phone_id: str, key_text: str, url: str | None = None) -> dict:
    """What the QR code carries for the phone app."""
    from sitegate.geofence.settings import IntakeSettings

    data = {"v": 1, "type": "sitegate-phone", "url": url or clockin_url(cfg["http"]["listen"]),
            "phone_id": phone_id, "key": key_text}
    settings = IntakeSettings.from_config(cfg)
    if settings.mqtt_intake:
        data["mqtt_topic"] = f"{settings.mqtt_topic}/{phone_id}"
    return data


def qr_text(payload: str) -> str:
    import qrcode

    qr = qrcode.QRCode(border=2, error_correction=qrcode.constants.ERROR_CORRECT_M)
    qr.add_data(payload)
    qr.make(fit=True)
    out = io.StringIO()
    qr.print_ascii(out=out, invert=True)
    return out.getvalue()


def add_phone(args) -> int:
    from sitegate.geofence.phonekeys import key_to_text
    from sitegate.geofence.phones import PhoneRegistry

    cfg = load_config(args)
    with open_store(cfg) as store:
        record, key = PhoneRegistry(store).issue(args.id_card_number, phone_id=args.phone_id, actor=_actor())
    key_text = key_to_text(key)
    data = enrolment(cfg, record.phone_id, key_text, args.url)
    host = data["url"].split("//", 1)[1].split(":", 1)[0]
    out = sys.stdout
    out.write(f"phone {record.phone_id} registered for {record.id_masked}\n")
    out.write(f"key (shown only now; keep it secret): {key_text}\n")
    out.write(f"clock-in URL: {data['url']}\n")
    if host in ("0.0.0.0", "::", "[::]", "127.0.0.1", "localhost"):
        out.write(f"note: phones cannot reach {host}; pass --url with the address they use\n")
    if not args.no_qr:
        out.write("scan with the phone app:\n")
        out.write(qr_text(json.dumps(data, separators=(",", ":"))))
    return 0


def revoke_phone(args) -> int:
    from sitegate.geofence.phones import PhoneRegistry

    cfg = load_config(args)
    with open_store(cfg) as store:
        ids = PhoneRegistry(store).revoke(phone_id=args.phone_id, id_card_number=args.id_card_number, actor=_actor())
    print(f"revoked: {', '.join(ids)}")
    return 0


def list_phones(args) -> int:
    from sitegate.geofence.phones import PhoneRegistry

    cfg = load_config(args)
    with open_store(cfg) as store:
        phones = PhoneRegistry(store).list(include_revoked=not args.active)
    if args.json:
        print_json([p.public_dict() for p in phones])
        return 0
    tz = cfg["site"]["timezone"]
    print(f"{'phone':<20}  {'ID number':<18}  {'issued':<19}  status")
    for p in phones:
        status = "active" if p.active else f"revoked {local(p.revoked_ts, tz)}"
        print(f"{p.phone_id:<20}  {p.id_masked:<18}  {local(p.created_ts, tz):<19}  {status}")
    print(f"{len(phones)} phone(s)")
    return 0

