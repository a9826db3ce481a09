"""The soak's schedules: the same seed gives the same faults and the same shift; every fault once,
none overlapping; a kill while the platform is down; each worker on one lane."""
import random
from collections import Counter

import pytest

from sitegate.bench.soakkit.faults import LENGTHS, FaultPlan
from sitegate.bench.soakkit.harness import percentile
from sitegate.bench.soakkit.settings import SoakSettings
from sitegate.bench.soakkit.site import SiteFiles
from sitegate.bench.soakkit.workload import LAYOUT, build_lanes, plan

KINDS = list(LENGTHS)


def test_the_same_seed_gives_the_same_plan_and_another_seed_another():
    a = FaultPlan.make(300, 20, KINDS, seed=7)
    b = FaultPlan.make(300, 20, KINDS, seed=7)
    c = FaultPlan.make(300, 20, KINDS, seed=8)
    assert a == b
    assert a != c


@pytest.mark.parametrize("seed", range(25))
def test_every_fault_once_inside_the_shift_without_overlap(seed):
    shift = 300.0
    p = FaultPlan.make(shift, 20, KINDS, seed=seed)
    assert sorted(w.kind for w in p.windows) == sorted(KINDS)
    spans = sorted((w.start, w.end) for w in p.windows)
    for (_, end), (start, _) in zip(spans, spans[1:]):
        assert end <= start + 1e-6
    assert spans[0][0] >= 0.05 * shift and spans[-1][1] <= 0.92 * shift + 1e-6
    for w in p.windows:
        share, least = LENGTHS[w.kind]
        assert w.length >= max(share * shift, least) - 0.01
    assert len(p.kills) == 20 and p.kills == sorted(p.kills)
    down = next(w for w in p.windows if w.kind == "platform_down")
    assert any(down.start < k < down.end for k in p.kills)     # the kill the comparison is about


def test_first_kinds_come_first_and_a_short_shift_is_refused():
    p = FaultPlan.make(66, 5, KINDS, seed=3, first=("dropped_answers",))
    assert min(p.windows, key=lambda w: w.start).kind == "dropped_answers"
    with pytest.raises(ValueError, match="too short"):
        FaultPlan.make(30, 5, KINDS, seed=3)


def test_unknown_or_missing_kinds_are_left_out():
    p = FaultPlan.make(120, 0, ["platform_down", "no_such_fault"], seed=1)
    assert [w.kind for w in p.windows] == ["platform_down"]
    assert p.kills == []


def test_the_shift_puts_each_worker_on_one_lane_with_in_before_out(tmp_path):
    settings = SoakSettings(workers=400, lanes=8, kills=0, minutes=2, phones=5, progress=False)
    site = SiteFiles(tmp_path / "site", settings.workers, settings.seed)
    lanes = build_lanes(settings, site, db=None)
    assert [ln.kind for ln in lanes] == list(LAYOUT)
    passages = plan(settings, [p for p in site.people], lanes, random.Random(1))
    again = plan(settings, [p for p in site.people], build_lanes(settings, site, db=None), random.Random(1))
    assert [(p.person.id_number, p.lane, p.direction, p.due) for p in passages] == \
           [(p.person.id_number, p.lane, p.direction, p.due) for p in again]
    ins = Counter(p.person.id_number for p in passages if p.direction == "in")
    assert set(ins.values()) == {1} and len(ins) == settings.workers
    by_person: dict[str, list] = {}
    for p in passages:
        by_person.setdefault(p.person.id_number, []).append(p)
    for mine in by_person.values():
        assert len({p.lane for p in mine}) == 1                    # one lane per worker
        if len(mine) == 2:
            entry, leave = sorted(mine, key=lambda p: p.direction != "in")
            assert leave.direction == "out" and leave.due >= entry.due
            assert entry.kind != "idcard"                          # the readers stand at entrances
    phones = {p.person.id_number for p in passages if p.kind == "phone"}
    assert phones == {p.id_number for p in site.people[:settings.phones]}
    assert all(0 <= p.due <= settings.shift_s for p in passages)
    outs = sum(1 for p in passages if p.direction == "out")
    assert 0 < outs < settings.workers * 0.3


def test_settings_refuse_what_cannot_run():
    from sitegate.errors import UsageError

    for bad in (dict(workers=5), dict(lanes=9), dict(lanes=0), dict(kills=-1), dict(minutes=0)):
        with pytest.raises(UsageError):
            SoakSettings(**bad)
    assert SoakSettings(minutes=5).compression == pytest.approx(4.0)


def test_percentile_is_the_nearest_rank():
    assert percentile([], 99) is None
    values = list(range(1, 101))
    assert percentile(values, 99) == 99
    assert percentile(values, 50) == 50
    assert percentile([7.0], 99) == 7.0
