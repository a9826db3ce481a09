import json

from sitegate.buffer import Roster, Worker
from tests.conftest import make_id
from tests.foundation.helpers import event

A, B = make_id(1), make_id(2)
JPEG = b"\xff\xd8\xff\xe0" + b"\x01" * 500


def test_purge_forgets_personal_data_but_keeps_owed_attendance(site):
    with site.store() as store:
        Roster(store).upsert_many([Worker(A, "张三"), Worker(B, "李四")])
        delivered, pending, denied = event(A), event(A), event(A, denied=True)
        other = event(B)
        for e in (delivered, pending, denied, other):
            store.append(e, photo=JPEG)
        store.write(lambda c: c.execute("INSERT INTO faces(id_hash, encoding_enc, created_ts, updated_ts) "
                                        "VALUES (?, x'00', 0, 0)", (store.cipher.index(A),)))
    code, out, err = site.cli("purge", "-c", str(site.config), "--id-card-number", A, "--yes", "--json")
    assert code == 0, err
    counts = json.loads(out)
    assert counts["roster"] == 1 and counts["faces"] == 1 and counts["denied_events"] == 1
    assert counts["photos"] == 3 and counts["attendance_kept"] == 2
    with site.store() as store:
        assert Roster(store).get(A) is None and Roster(store).get(B) is not None
        assert store.get_event(pending.event_id).photo_id is None        # still owed to the platform
        assert store.get_event(denied.event_id) is None
        assert store.photo(other.event_id) == JPEG                      # nobody else touched
        [audit] = store.query("SELECT * FROM audit WHERE action = 'worker.forget'")
        assert A not in audit["subject"] + audit["detail"]
    code, _, err = site.cli("purge", "-c", str(site.config), "--id-card-number", A, "--yes")
    assert code == 2 and "no worker" in err
