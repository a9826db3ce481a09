"""``sitegate geo convert`` through the real CLI entry point, and the geofence benchmark's shape."""
from __future__ import annotations

import argparse

import pytest

from sitegate.cli import main


def run(capsys, *argv):
    code = main(["geo", "convert", *argv])
    out = capsys.readouterr()
    return code, out.out, out.err


def test_convert_prints_12_decimals(capsys):
    # reference vector 4
    assert run(capsys, "--from", "wgs84", "--to", "gcj02", "116.404", "39.915") == \
        (0, "116.410244499169 39.916404281502\n", "")


def test_convert_bd09_and_back(capsys):
    code, out, _ = run(capsys, "--from", "gcj02", "--to", "bd09", "116.404", "39.915")   # vector 6
    assert code == 0 and out == "116.410369493710 39.921336993510\n"
    code, out, _ = run(capsys, "--from", "bd09", "--to", "gcj02", *out.split())
    assert code == 0 and out == "116.404000000000 39.915000000000\n"


def test_negative_longitude_is_a_number_not_an_option(capsys):
    assert run(capsys, "--from", "wgs84", "--to", "gcj02", "-73.9", "40.7") == (0, "-73.900000000000 40.700000000000\n", "")


@pytest.mark.parametrize("argv,words", [
    (["--from", "wgs", "--to", "gcj02", "116.4", "39.9"], "unknown coordinate system 'wgs'"),
    (["--from", "wgs84", "--to", "mars", "116.4", "39.9"], "unknown coordinate system 'mars'"),
    (["--from", "wgs84", "--to", "gcj02", "181", "39.9"], "longitude 181.0 is outside -180..180"),
    (["--from", "wgs84", "--to", "gcj02", "39.9", "116.4"], "looks like [lat, lng]"),
    (["--from", "wgs84", "--to", "gcj02", "east", "39.9"], "LNG must be a number of degrees, got 'east'"),
    (["--from", "wgs84", "--to", "gcj02", "116.4", "nan"], "LAT must be a finite number"),
])
def test_bad_input_exits_2_with_a_message(capsys, argv, words):
    code, out, err = run(capsys, *argv)
    assert code == 2 and out == "" and words in err and err.startswith("sitegate geo: ")


def test_missing_arguments_exit_2(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["geo", "convert", "--from", "wgs84", "116.4", "39.9"])
    assert exc.value.code == 2 and "--to" in capsys.readouterr().err


def test_benchmark_runs_and_reports_its_figures():
    from sitegate.bench import geofence

    parser = argparse.ArgumentParser()
    geofence.add_arguments(parser)
    figures = geofence.run(parser.parse_args(["--requests", "50", "--points", "2000", "--loop-points", "200"]))
    names = [f.name for f in figures]
    assert any("clock-in decisions/s" in n for n in names) and any("point-in-fence" in n for n in names)
    assert all(f.value > 0 for f in figures)
    pif = next(f for f in figures if "point-in-fence" in f.name)
    assert pif.baseline and pif.baseline > 0 and pif.baseline_name == "poly.contains(Point) loop"
