"""Outside input that is not from devices: configuration files and roster CSVs. Whatever arrives,
the answer is our own error with a message, never a crash, and nothing good is lost."""
from hypothesis import HealthCheck, example, given, settings, strategies as st

from sitegate.buffer.roster_csv import RosterFileError, parse
from sitegate.config import loads
from sitegate.errors import ConfigError
from tests.conftest import make_id

SETTINGS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])

toml_keys = st.sampled_from(["site", "uplink", "http", "storage", "gate", "devices", "project_code", "listen",
                             "profile", "data_dir", "x", "[[devices]]", "id", "driver", "direction"])
toml_values = st.one_of(st.integers(), st.booleans(), st.text(max_size=20).map(lambda s: '"' + s.replace('"', "").replace("\\", "") + '"'),
                        st.just("[]"), st.just("{}"), st.just("1.5"), st.just("nan"))
toml_lines = st.lists(st.one_of(
    st.builds(lambda k, v: f"{k} = {v}", toml_keys, toml_values),
    st.builds(lambda k: f"[{k}]", toml_keys),
    st.just("[[devices]]"), st.text(max_size=30)), max_size=25)


@SETTINGS
@given(toml_lines)
@example(["[http]", 'listen = "127.0.0.1:\u00b2"'])   # crashed: "²".isdigit(), int("²") raises (schema.py)
def test_any_configuration_text_gives_a_config_or_config_errors(lines):
    text = "\n".join(lines)
    try:
        loads(text, "f.toml")
    except ConfigError as exc:
        assert exc.problems and all(p.startswith("f.toml:") for p in exc.problems)


@SETTINGS
@given(st.binary(max_size=2000))
@example(f"id_card_number,name,team_sys_no\n{make_id(1)},x,\u00b2\n".encode())   # a team number "²"
def test_any_bytes_as_roster_csv(data):
    try:
        result = parse(data)
    except RosterFileError as exc:
        assert str(exc)
        return
    for line, why in result.problems:
        assert line >= 1 and why


@SETTINGS
@given(st.lists(st.tuples(st.integers(0, 999), st.text(max_size=12), st.booleans()), max_size=30))
def test_good_rows_survive_bad_neighbours(rows):
    lines = ["id_card_number,name"]
    expected = set()
    for seed, name, corrupt in rows:
        idn = make_id(seed)
        clean = name.replace(",", "").replace('"', "").replace("\n", "").replace("\r", "").strip()
        if corrupt:
            lines.append(f"{idn[:-1]}{'0' if idn[-1] != '0' else '1'},{clean or 'x'}")
        else:
            lines.append(f"{idn},{clean}")
            if clean and len(clean) <= 50 and idn not in expected:
                expected.add(idn)
    result = parse(("\n".join(lines) + "\n").encode("utf-8"))
    assert {w.id_card_number for w in result.workers} == expected


def test_a_team_number_that_only_looks_like_digits_is_named():
    # "²" passes str.isdigit() but not int(): the row is refused with a message about the column
    result = parse(f"id_card_number,name,team_sys_no\n{make_id(1)},张三,\u00b2\n".encode("utf-8"))
    assert not result.workers and result.problems == [(2, "team_sys_no '\u00b2' is not a number")]
