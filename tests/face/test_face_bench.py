"""``sitegate bench face`` runs end to end on a small configuration (figures are not asserted: speed
is the benchmark's business, not the tests')."""
from __future__ import annotations

import argparse

import pytest

pytestmark = pytest.mark.face


def test_bench_face_reports_figures_with_baselines(faces_dir, face_stack):
    from sitegate.bench import face

    parser = argparse.ArgumentParser()
    face.add_arguments(parser)
    args = parser.parse_args(["--faces-dir", str(faces_dir), "--gallery-size", "2000", "--site-gallery", "20",
                              "--repeats", "1", "--video", ""])
    figures = face.run(args)
    names = [f.name for f in figures]
    assert any(n.startswith("480p frame with a new face") for n in names)
    assert any(n.startswith("720p frame with a new face") for n in names)
    assert any(n.startswith("1:N match") for n in names) and any(n.startswith("peak RSS") for n in names)
    for f in figures:
        assert f.value > 0
        if f.target:
            assert f.baseline is not None and f.baseline > 0 and f.met is not None, f


def test_bench_face_refuses_a_missing_data_folder(tmp_path):
    from sitegate.bench import face
    from sitegate.errors import UsageError

    parser = argparse.ArgumentParser()
    face.add_arguments(parser)
    with pytest.raises(UsageError, match="face test data not found"):
        face.run(parser.parse_args(["--faces-dir", str(tmp_path)]))
