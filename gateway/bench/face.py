"""``sitegate bench face``: the camera face engine against plain face_recognition usage.

Every figure with a target carries a baseline measured in the same run on the same machine:

- time per frame in which a new face appears (detect + encode + match against a site gallery),
  480p and 720p stills, vs. the face_recognition README way: ``face_locations`` on the full
  frame (its default ×2 upsampling), ``face_encodings``, then ``compare_faces`` in a Python loop
  over the gallery;
- one 1:N query over 50,000 enrolled encodings vs. a Python loop of per-row distances;
- peak RSS of a process with the models loaded, an engine and the 50,000-row gallery, vs. the
  same interpreter with numpy and sitegate but no face stack;
- the sample clip played as a camera at its native rate (frames that are due while the engine is
  busy are skipped, as a camera does): frames processed per second, and the time from the face
  entering the picture to its decision — "entering" being the first frame in which a
  full-resolution detection finds the face at ≥ min_face_px, for both pipelines alike. The clip is
  640×360; with the default ``--video 360p,720p`` it is also played upscaled to 1280×720 (its
  frames resized on reading) to measure the 720p case, with ``min_face_px`` doubled to match
  (80 px at 360p, 160 px at 720p: the same scene). The person is not enrolled (one decision);
  an informative run enrols him from one frame of the clip and reports that latency too.
"""
from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import textwrap
import time
from pathlib import Path


from sitegate.bench import Figure
from sitegate.errors import SitegateError, UsageError

DESCRIPTION = "face engine: frame time at 480p/720p, 1:N over 50k, RSS, camera latency and fps"

DEFAULT_FACES = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "faces"
CLIP = "short_hamilton_clip.mp4"
# The clip is a stage shot whose main face is 86–104 px at 360p: min_face_px scales with the
# frame so that the upscaled 720p run is the same scene, not a scene with twice the faces.
VIDEO_SIZES = {"360p": (None, 80), "720p": ((1280, 720), 160)}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--faces-dir", type=Path, default=Path(os.environ.get("SITEGATE_FACES_DIR", DEFAULT_FACES)),
                        help="the face test data (default %(default)s or $SITEGATE_FACES_DIR)")
    parser.add_argument("--gallery-size", type=int, default=50_000, help="rows in the 1:N gallery (default %(default)s)")
    parser.add_argument("--site-gallery", type=int, default=1_000,
                        help="workers enrolled for the per-frame and video figures (default %(default)s)")
    parser.add_argument("--repeats", type=int, default=5, help="runs per per-frame figure; the median counts")
    parser.add_argument("--tolerance", type=float, default=0.6, help="match tolerance (default %(default)s)")
    parser.add_argument("--video", default="360p,720p", help="clip sizes to play: 360p (native), 720p (upscaled)")
    parser.add_argument("--video-runs", type=int, default=3,
                        help="plays of the clip per size for this engine; the median counts (default %(default)s)")


def _ms(seconds: float) -> float:
    return seconds * 1000.0


def _random_encodings(n: int, seed: int) -> np.ndarray:
    import numpy as np

    # dlib encodings are ~unit vectors with components of about ±0.1: random ones of that scale
    # are at distance ≈ 1.4 from each other and from real faces, i.e. strangers
    return np.random.default_rng(seed).normal(0, 0.09, size=(n, 128)).astype(np.float32)


def _site_gallery(cf, faces: Path, size: int):
    """``size`` random workers plus the five enrolled people of the test data (at the end, so a
    first-match Python loop walks the whole list, as it does for a stranger)."""
    import numpy as np

    people = []
    for folder in sorted((faces / "knn_examples" / "train").iterdir()):
        for photo in sorted(folder.iterdir()):
            people.append((folder.name, cf.check_enrolment_photo(cf.load_image(photo)).encoding))
    rows = [(f"w{i}", e) for i, e in enumerate(_random_encodings(max(0, size - len(people)), 1))] + people
    gallery = cf.Gallery()
    gallery.add_many([r[0] for r in rows], np.stack([r[1] for r in rows]))
    return gallery, rows


def _plain_frame(fr, rgb: np.ndarray, known: list, tolerance: float, min_face_px: int = 0) -> list:
    """The face_recognition README way, as a baseline; names of the faces ≥ ``min_face_px``."""
    locations = fr.face_locations(rgb)
    names = []
    for (top, right, bottom, left), encoding in zip(locations, fr.face_encodings(rgb, locations)):
        name = None
        for worker_id, known_encoding in known:
            if fr.compare_faces([known_encoding], encoding, tolerance)[0]:
                name = worker_id
                break
        if min(bottom - top, right - left) >= min_face_px:
            names.append(name)
    return names


def _expect(ok: bool, what: str) -> None:
    if not ok:  # the measurement would be meaningless
        raise SitegateError(f"bench face: {what}")


def _frame_figures(cf, fr, faces: Path, gallery, rows: list, args) -> list[Figure]:
    import cv2

    out = []
    for label, name in (("480p", "obama-480p.jpg"), ("720p", "obama-720p.jpg")):
        bgr = cv2.cvtColor(cf.load_image(faces / name), cv2.COLOR_RGB2BGR)
        rgb = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
        ours, steady, plain = [], [], []
        for _ in range(args.repeats):
            engine = cf.CameraFaceEngine(gallery, args.tolerance)
            t0 = time.perf_counter()
            decided = engine.process(bgr, 0.0)
            ours.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            engine.process(bgr, 1 / 30)  # the same face on the next frame: tracked, not encoded again
            steady.append(time.perf_counter() - t0)
            _expect([d.worker_id for d in decided] == ["obama"], f"the engine decided {decided} on {name}")
            t0 = time.perf_counter()
            # the plain way starts from the RGB frame it loaded, so its colour conversion is not counted
            names = _plain_frame(fr, rgb, rows, args.tolerance)
            plain.append(time.perf_counter() - t0)
            _expect(names == ["obama"], f"the plain pipeline found {names} on {name}")
        o, p = _ms(statistics.median(ours)), _ms(statistics.median(plain))
        out.append(Figure(f"{label} frame with a new face: detect+encode+match ({len(rows):,} enrolled)", o, "ms",
                          p, "face_recognition full frame + compare_faces loop", "<= 0.5× baseline", o <= 0.5 * p))
        out.append(Figure(f"{label} frame with a tracked face (detect+track, no encoding)",
                          _ms(statistics.median(steady)), "ms", p, "face_recognition per frame"))
    return out


def _match_figures(cf, args) -> list[Figure]:
    import numpy as np

    data = _random_encodings(args.gallery_size + 200, 2)
    gallery = cf.Gallery()
    gallery.add_many([f"w{i}" for i in range(args.gallery_size)], data[: args.gallery_size])
    queries = data[args.gallery_size :]
    times = []
    for q in queries:
        t0 = time.perf_counter()
        gallery.match_one(q, args.tolerance)
        times.append(time.perf_counter() - t0)
    rows = list(data[: args.gallery_size])
    loop = []
    for q in queries[:3]:
        t0 = time.perf_counter()
        best, best_d = -1, float("inf")
        for i, row in enumerate(rows):
            d = float(np.linalg.norm(row - q))
            if d < best_d:
                best, best_d = i, d
        loop.append(time.perf_counter() - t0)
        _expect(gallery.match_one(q, 100.0).worker_id == f"w{best}", "the gallery and the loop disagree")
    value = _ms(statistics.median(times))
    return [Figure(f"1:N match, one query over {args.gallery_size:,} encodings", value, "ms",
                   _ms(statistics.median(loop)), "Python loop of per-row distances", "<= 5 ms", value <= 5.0)]


# The peak RSS of the probe process itself. Not getrusage's ru_maxrss: Linux carries it across
# exec from the forked copy of this (already large) process; VmHWM belongs to the new image.
_PEAK_RSS = """
def peak_rss_kib():
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    import resource
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
"""


def _rss_mb(code: str) -> float:
    script = _PEAK_RSS + textwrap.dedent(code) + "\nprint(peak_rss_kib())\n"
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=600)
    if result.returncode != 0:
        raise SitegateError(f"bench face: RSS probe failed: {result.stderr.strip()[-400:]}")
    return int(result.stdout.strip().splitlines()[-1]) / 1024.0


def _rss_figure(faces: Path, args) -> Figure:
    loaded = _rss_mb(f"""
        import numpy as np
        import sitegate.drivers.camera_face as cf
        cf.require_face_stack()
        g = cf.Gallery()
        g.add_many([f"w{{i}}" for i in range({args.gallery_size})],
                   np.random.default_rng(0).normal(0, 0.09, ({args.gallery_size}, 128)).astype(np.float32))
        engine = cf.CameraFaceEngine(g, liveness=True, input_order="rgb")
        engine.process(cf.load_image({str(faces / "obama-720p.jpg")!r}), 0.0)
    """)
    bare = _rss_mb("""
        import numpy, sitegate.drivers.camera_face
    """)
    return Figure(f"peak RSS: models + engine (liveness on) + {args.gallery_size:,}-row gallery", loaded, "MB",
                  bare, "python + numpy + sitegate, no face stack", "<= 400 MB", loaded <= 400)


def _entering_frame(cf, path: Path, size: tuple[int, int] | None, min_face_px: int) -> int:
    """First frame where a full-resolution detection (no downscale) sees a face ≥ min_face_px."""
    import cv2

    from sitegate.drivers.camera_face.detect import FaceDetector

    reference = FaceDetector(detect_scale=1.0, min_face_px=min_face_px)
    with cf.FrameSource(path, realtime=False, resize_to=size) as source:
        while (frame := source.read()) is not None:
            if reference.detect(cv2.cvtColor(frame.image, cv2.COLOR_BGR2RGB)):
                return frame.index
    raise UsageError(f"no face in {path}")


def _play(cf, path: Path, size, step) -> tuple[float, float, dict[int, float], int]:
    """Play the clip at its native rate through ``step(image, t) -> bool (decided)``.

    Returns (fps processed, first decision wall time, arrival time per frame index, skipped)."""
    arrivals: dict[int, float] = {}
    first_decision: float | None = None
    with cf.FrameSource(path, realtime=True, resize_to=size) as source:
        t_start, n = time.monotonic(), 0
        while (frame := source.read()) is not None:
            arrivals[frame.index] = frame.t  # when a camera would have delivered it (monotonic)
            if step(frame.image, frame.t) and first_decision is None:
                first_decision = time.monotonic()
            n += 1
        elapsed = time.monotonic() - t_start
    _expect(first_decision is not None, f"no decision while playing {path.name}")
    return n / elapsed, first_decision, arrivals, source.skipped


def _arrival_of(arrivals: dict[int, float], index: int, fps: float) -> float:
    """Arrival time of frame ``index`` even if it was skipped (frames arrive at a fixed rate)."""
    known = min(arrivals)
    return arrivals[known] + (index - known) / fps


def _video_figures(cf, fr, faces: Path, gallery, rows: list, args) -> list[Figure]:
    import cv2

    out = []
    path = faces / CLIP
    fps_native = 29.97
    for label in [v.strip() for v in args.video.split(",") if v.strip()]:
        if label not in VIDEO_SIZES:
            raise UsageError(f"--video: unknown size {label!r} (use 360p and/or 720p)")
        size, min_face = VIDEO_SIZES[label]
        entering = _entering_frame(cf, path, size, min_face)
        runs = []
        for _ in range(max(1, args.video_runs)):
            engine = cf.CameraFaceEngine(gallery, args.tolerance, min_face_px=min_face)
            fps, decided_at, arrivals, skipped = _play(cf, path, size, lambda img, t: bool(engine.process(img, t)))
            runs.append((fps, _ms(decided_at - _arrival_of(arrivals, entering, fps_native)), skipped))
        fps = statistics.median(r[0] for r in runs)
        latency = statistics.median(r[1] for r in runs)
        skipped = statistics.median(r[2] for r in runs)

        def plain_step(img, t):
            return bool(_plain_frame(fr, cv2.cvtColor(img, cv2.COLOR_BGR2RGB), rows, args.tolerance, min_face))

        p_fps, p_decided, p_arrivals, _ = _play(cf, path, size, plain_step)
        p_latency = _ms(p_decided - _arrival_of(p_arrivals, entering, fps_native))
        src = f"sample clip at {label}" + (" (upscaled from 360p)" if size else "") + f", faces ≥ {min_face} px"
        out.append(Figure(f"{src}: frames processed per second (median of {len(runs)} plays, "
                          f"{skipped:.0f} of 275 skipped)", fps, "fps",
                          p_fps, "face_recognition on every frame it can take", ">= 15 fps", fps >= 15))
        out.append(Figure(f"{src}: face entering (frame {entering}) to decision, unknown person "
                          f"(median of {len(runs)}: {', '.join(f'{r[1]:.0f}' for r in runs)})", latency, "ms",
                          p_latency, "face_recognition's first frame with the face done", "<= 150 ms",
                          latency <= 150))
        if label == "360p":
            out.append(_enrolled_latency(cf, path, gallery, entering, min_face, args))
    return out


def _enrolled_latency(cf, path: Path, gallery, entering: int, min_face: int, args) -> Figure:
    """The same clip with the person enrolled from one of its frames: informative (no target)."""
    import cv2

    with cf.FrameSource(path, realtime=False) as source:
        for _ in range(191):
            frame = source.read()
    gallery.add("lin", cf.check_enrolment_photo(cv2.cvtColor(frame.image, cv2.COLOR_BGR2RGB)).encoding)
    try:
        engine = cf.CameraFaceEngine(gallery, args.tolerance, min_face_px=min_face)
        got: list = []

        def step(img, t):
            decisions = engine.process(img, t)
            got.extend(decisions)
            return any(d.worker_id == "lin" for d in decisions)

        _, decided_at, arrivals, _ = _play(cf, path, None, step)
        looks = max((d.encodings for d in got if d.worker_id == "lin"), default=0)
        return Figure(f"sample clip at 360p: face entering to decision, person enrolled ({looks} looks)",
                      _ms(decided_at - _arrival_of(arrivals, entering, 29.97)), "ms")
    finally:
        gallery.remove("lin")


def run(args: argparse.Namespace) -> list[Figure]:
    faces = Path(args.faces_dir)
    if not (faces / CLIP).is_file():
        raise UsageError(f"face test data not found in {faces}: pass --faces-dir or set SITEGATE_FACES_DIR")
    import sitegate.drivers.camera_face as cf
    from sitegate.drivers.camera_face import _stack

    cf.require_face_stack()
    fr = _stack.face_recognition()
    gallery, rows = _site_gallery(cf, faces, args.site_gallery)
    figures = _frame_figures(cf, fr, faces, gallery, rows, args)
    figures += _match_figures(cf, args)
    figures.append(_rss_figure(faces, args))
    figures += _video_figures(cf, fr, faces, gallery, rows, args)
    return figures
