"""A made-up roster for the demo: valid ID numbers (GB 11643 check digits), Chinese names, teams.

Nothing here is a real person: the numbers are built from a fixed seed and region codes.
"""
from __future__ import annotations

import random
from dataclasses import dataclass

from sitegate.idcard import check_digit

SURNAMES = "王李张刘陈杨黄赵周吴徐孙马胡朱郭何罗高林"
GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华建国志红"
TEAMS = [(100156750, "钢筋班"), (100156751, "木工班"), (100156752, "混凝土班"), (100156753, "水电班")]
WORK_TYPES = {100156750: "钢筋工", 100156751: "木工", 100156752: "混凝土工", 100156753: "电工"}
REGIONS = ["370102", "370103", "370112", "371302", "370785", "411421"]


@dataclass(frozen=True)
class DemoWorker:
    id_card_number: str
    name: str
    team_sys_no: int
    team_name: str
    work_type: str
    card_no: str


def workers(n: int = 40, seed: int = 20261128) -> list[DemoWorker]:
    rng = random.Random(seed)
    out, used = [], set()
    while len(out) < n:
        first17 = (f"{rng.choice(REGIONS)}{rng.randint(1965, 2002)}{rng.randint(1, 12):02d}"
                   f"{rng.randint(1, 28):02d}{rng.randint(0, 999):03d}")
        number = first17 + check_digit(first17)
        if number in used:
            continue
        used.add(number)
        team, team_name = TEAMS[len(out) % len(TEAMS)]
        name = rng.choice(SURNAMES) + "".join(rng.choice(GIVEN) for _ in range(rng.choice((1, 2))))
        out.append(DemoWorker(number, name, team, team_name, WORK_TYPES[team], str(3_600_000 + len(out) * 17)))
    return out


def roster_csv(people: list[DemoWorker]) -> str:
    lines = ["id_card_number,name,team_sys_no,team_name,work_type,card_no"]
    lines += [f"{p.id_card_number},{p.name},{p.team_sys_no},{p.team_name},{p.work_type},{p.card_no}" for p in people]
    return "\n".join(lines) + "\n"
