"""Synthetic video benchmarks written as real H.264 .mp4 files with the real datasets' annotations.

Nobody here can download Something-Something or Kinetics, so the book stands on generated benchmarks
(paper-spec §D, "Suggested synthetic suites"), one module each:

* ``synth-something`` (S-temporal + S-bg, ``something.py``): 16 Something-Something-like classes, seven of
  them time-reversal pairs, so a frame-order-blind model (TSN) cannot tell half of the pairs apart.
* ``synth-kinetics`` (S-scene, ``kinetics.py``): 16 classes = 4 scenes x 4 objects; one frame suffices.
* ``synth-longrange`` (S-longrange, ``longrange.py``): two flashes, at the start and at the end; the class is
  whether they have the same colour.
* ``synth-physics`` (``physics.py``, issue 18): 15 Something-Something templates simulated with MuJoCo and
  rendered off-screen in 3D (perspective, shading, shadows, contact); 4 time-reversal pairs. Needs the
  ``mujoco`` package and an off-screen OpenGL backend (EGL or OSMesa); the other benchmarks do not.

``draw.py`` holds what they share (sprites, backgrounds, camera, clutter, compositing). The scene clutter is set
by ``draw.SCENE``; the cpu profile turns it down (``SYNTH_PROFILES["cpu"]["scene"]``) so that models trained
from scratch for a few CPU-minutes learn the actions.

``render_clip(benchmark, label, seed, num_frames, size)`` returns the frames and the mask of the main moving
object (the object of the action; the flashing marker in synth-longrange), or with ``mask="movers"`` of
everything that moves; ``generate`` uses it to write the dataset. Rendering is deterministic for a seed. A
horizontal flip swaps "left to right" with "right to left" and "clockwise" with "anticlockwise"
(``meta.json``'s ``flip_map``) and keeps other classes.

A dataset root (``generate``'s ``out``; default ``data/<profile>/<benchmark>``) holds::

    meta.json                 benchmark, profile, seed, classes, reversal pairs, flip map, sizes
    manifest.json             generator fingerprint, the last rendering's speed ("generation") and, per clip,
                              its seed, label, frames, fps, bytes and sha1
    labels.json               Something-Something V2 style {"class name": "index"}
    train.json validation.json  Something-Something V2 style [{"id", "label", "template", "placeholders"}]
    train_videofolder.txt val_videofolder.txt category.txt   TSM list files ("path num_frames label")
    train.csv validate.csv    Kinetics-400 style CSVs (synth-kinetics only)
    videos/<id>.mp4

``fingerprint(benchmark, profile, seed)`` hashes what determines a dataset's files: the arguments, the
profile's sizes, the encoder options and the benchmark's declared generator version (``GENERATOR_VERSIONS``).
Training run keys include it, so bumping one benchmark's version invalidates only the runs on that benchmark. Rerunning ``generate`` checks every file against the manifest
(size and sha1) and re-renders only the clips that are missing or corrupt; a new fingerprint regenerates
everything. Files are written atomically (temporary file + rename).

Command line: ``python -m cmrlib synth --benchmark synth-something --profile cpu [--out DIR] [--seed S]``.
"""
from __future__ import annotations

import argparse
import csv
import hashlib
import io
import json
import multiprocessing
import os
import re
import sys
import time
import zlib
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from cmrlib.data.synth import kinetics, longrange, physics, something
from cmrlib.data.synth.draw import MASKS, SCENE, Array, Benchmark

#: Per-profile sizes. ``frames`` and ``fps`` are inclusive ranges drawn per clip; ``scene`` overrides ``SCENE``.
#: ``train_clips`` and ``val_clips`` are per benchmark; labels cycle through the classes (16 classes: 40 and 12
#: clips per class at the cpu profile; synth-longrange's 2 classes: 320 and 96).
SYNTH_PROFILES: dict[str, dict] = {
    "smoke": dict(size=32, train_clips=32, val_clips=16, frames=(12, 20), fps=(8, 15)),
    "cpu": dict(size=64, train_clips=640, val_clips=192, frames=(20, 40), fps=(8, 15),
                # synth-something learnable from scratch in ~2 CPU-minutes: no distractors, a still camera, a
                # flat background and a 2x main object (with the spec's clutter TSM reached 34 %; see SCENE)
                scene=dict(distractors=(0, 0), camera=(0.0, 0.0, 1.0), background_contrast=0.0, object_scale=2.0)),
    "gpu": dict(size=128, train_clips=3200, val_clips=640, frames=(32, 64), fps=(8, 30)),
}
# The powered protocol: 96 validation clips per class (binomial std <= 1.0 point at 80 %), and synth-kinetics'
# object three times as large. At 6-10 px every method learned the scenes but not the objects (27-29 % top-1);
# pretrained TSN, seed 0, 20 epochs (runs/explore/2026-11-30-pretrain): 29.9 % at 1x, 47.9 % at 2x, 65.6 % at 3x.
SYNTH_PROFILES["cpu-powered"] = {**SYNTH_PROFILES["cpu"], "val_clips": 1536,
                                 "scene": {**SYNTH_PROFILES["cpu"]["scene"], "kinetics_object_scale": 3.0}}
# The reviewed protocol (issue 26) reuses cpu-powered's clips except synth-longrange's (its plan's
# ``longrange_data``), where no method learned the 15-22 % flashes (cpu-powered: every method 48-50 %, train top-1
# <= 60 %). Flashes of 30-35.5 % of the clip each: each covers the first (last) two of the 8 sampled segments, and
# segments 4 and 5 (37.5-62.5 % of the clip) are always blank, so no two adjacent sampled frames see both flashes
# (tests/test_data.py). Markers twice as large: with the longer flashes alone TIM+CME learned 1 of 2 seeds, with
# both 3 of 3, while TEINet and TSN stayed at chance (runs/explore/2026-12-07-longrange/).
SYNTH_PROFILES["cpu-final"] = {**SYNTH_PROFILES["cpu-powered"],
                               "scene": {**SYNTH_PROFILES["cpu-powered"]["scene"], "longrange_flash": (0.30, 0.355),
                                         "longrange_marker_scale": 2.0}}

#: H.264 settings: near-lossless, no B-frames (exact frame seeking), a key frame every 16 frames, one thread
#: (byte-identical output for a seed).
X264_OPTIONS = {"crf": "18", "preset": "veryfast",
                "x264-params": "bframes=0:keyint=16:min-keyint=16:scenecut=0:threads=1"}

#: The benchmark modules, in the order of ``BENCHMARKS``.
MODULES = (something, kinetics, longrange, physics)

BENCHMARKS: dict[str, Benchmark] = {module.BENCHMARK.name: module.BENCHMARK for module in MODULES}

#: Each generator's declared version: bump a benchmark module's ``VERSION`` when a change (there, in ``draw.py``
#: or here) changes its clips. tests/test_golden.py compares the decoded first clips with recorded digests and
#: fails until the version is bumped and the digests re-recorded.
GENERATOR_VERSIONS: dict[str, int] = {module.BENCHMARK.name: module.VERSION for module in MODULES}


def _benchmark(name: str) -> Benchmark:
    if name not in BENCHMARKS:
        raise ValueError(f"unknown benchmark {name!r}; choose from {', '.join(BENCHMARKS)}")
    return BENCHMARKS[name]


def _profile(name: str) -> dict:
    if name not in SYNTH_PROFILES:
        raise ValueError(f"unknown profile {name!r}; choose from {', '.join(SYNTH_PROFILES)}")
    return SYNTH_PROFILES[name]


def render_clip(benchmark: str, label: int, seed: int, num_frames: int, size: int,
                mask: str = "object", scene: dict | None = None) -> tuple[Array, Array]:
    """Render one clip: frames uint8 (F, size, size, 3) and a mask bool (F, size, size).

    ``mask="object"``: the visible pixels of the main moving object (the object of the action; the scene's
    object in synth-kinetics; the flashing marker in synth-longrange). ``mask="movers"``: those plus the
    distractors, i.e. everything that moves in the world (the background and the prop move only with the
    camera). Deterministic for (benchmark, label, seed, num_frames, size). A backward class of a reversal
    pair renders its forward partner with the same seed and reverses the frame order, exactly.
    ``scene``: settings that replace those of ``SCENE`` (a profile's ``scene``; None = the spec's difficulty;
    synth-kinetics takes only ``kinetics_object_scale``)."""
    spec = _benchmark(benchmark)
    unknown = set(scene or {}) - set(SCENE)
    if unknown:
        raise ValueError(f"unknown scene settings {sorted(unknown)}; choose from {sorted(SCENE)}")
    if not 0 <= int(label) < len(spec.classes):
        raise ValueError(f"label {label} out of range for {benchmark} ({len(spec.classes)} classes)")
    if int(num_frames) < 2 or int(size) < 8:
        raise ValueError(f"need num_frames >= 2 and size >= 8, got num_frames={num_frames}, size={size}")
    if mask not in MASKS:
        raise ValueError(f"mask must be one of {MASKS}, got {mask!r}")
    rng = np.random.default_rng(int(seed))
    forward = spec.backward.get(int(label), int(label))
    frames, masks = spec.render(spec.classes[forward], rng, int(num_frames), int(size), {**SCENE, **(scene or {})})
    chosen = masks[mask]
    if forward != int(label):
        frames, chosen = frames[::-1], chosen[::-1]
    return np.ascontiguousarray(frames), np.ascontiguousarray(chosen)


# ---------------------------------------------------------------------------------------------------------
# Dataset generation
# ---------------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class ClipPlan:
    id: str
    split: str  # "train" | "validation"
    label: int
    seed: int
    num_frames: int
    fps: int


def _stable(text: str) -> int:
    return zlib.crc32(text.encode())


def plan_clips(benchmark: str, profile: str, seed: int = 0) -> list[ClipPlan]:
    """Every clip of a dataset: balanced classes (labels cycle through the classes), train clips first.

    A clip's seed, length and frame rate derive only from (benchmark, profile, seed, clip index)."""
    spec, params = _benchmark(benchmark), _profile(profile)
    counts = {"train": params["train_clips"], "validation": params["val_clips"]}
    plans, index = [], 0
    for split, count in counts.items():
        for i in range(count):
            rng = np.random.default_rng([int(seed), _stable(benchmark), _stable(profile), index])
            plans.append(ClipPlan(id=str(index), split=split, label=i % len(spec.classes),
                                  seed=int(rng.integers(2 ** 31)),
                                  num_frames=int(rng.integers(params["frames"][0], params["frames"][1] + 1)),
                                  fps=int(rng.integers(params["fps"][0], params["fps"][1] + 1))))
            index += 1
    return plans


def encode_mp4(frames: Array, fps: float) -> bytes:
    """H.264 .mp4 (yuv420p) of uint8 RGB frames (F,H,W,3) with even H and W, encoded with PyAV."""
    buffer = io.BytesIO()
    with av.open(buffer, "w", format="mp4") as container:
        stream = container.add_stream("libx264", rate=Fraction(fps).limit_denominator(1001))
        stream.height, stream.width = frames.shape[1:3]
        stream.pix_fmt = "yuv420p"
        stream.options = dict(X264_OPTIONS)
        stream.codec_context.thread_count = 1
        for frame in frames:
            container.mux(stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")))
        container.mux(stream.encode())
    return buffer.getvalue()


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write ``data`` to a temporary file next to ``path`` and rename it into place."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(tmp, "wb") as handle:
        handle.write(data)
    os.replace(tmp, path)


def _atomic_write_text(path: Path, text: str) -> None:
    atomic_write_bytes(path, text.encode())


def _video_path(plan: ClipPlan) -> str:
    return f"videos/{plan.id}.mp4"


def _make_clip(job: tuple[str, int, Path, ClipPlan]) -> dict:
    """Render, encode and write one clip; return its manifest record."""
    benchmark, params, root, plan = job
    frames, _ = render_clip(benchmark, plan.label, plan.seed, plan.num_frames, params["size"],
                            scene=params.get("scene"))
    data = encode_mp4(frames, plan.fps)
    atomic_write_bytes(root / _video_path(plan), data)
    return {**plan.__dict__, "path": _video_path(plan), "bytes": len(data), "sha1": hashlib.sha1(data).hexdigest()}


def file_matches(root: Path, record: dict | None) -> bool:
    if not record:
        return False
    path = root / record["path"]
    try:
        if path.stat().st_size != record["bytes"]:
            return False
        return hashlib.sha1(path.read_bytes()).hexdigest() == record["sha1"]
    except OSError:
        return False


def fingerprint(benchmark: str, profile: str, seed: int = 0) -> str:
    """Hash of what determines the files: the arguments, the profile's sizes, the encoder options and the
    benchmark's declared generator version (``GENERATOR_VERSIONS``), not the source bytes."""
    _benchmark(benchmark), _profile(profile)
    blob = json.dumps([benchmark, profile, SYNTH_PROFILES[profile], int(seed), X264_OPTIONS,
                       GENERATOR_VERSIONS[benchmark]], sort_keys=True)
    return hashlib.sha1(blob.encode()).hexdigest()


def default_root(benchmark: str, profile: str) -> Path:
    """``data/<profile>/<benchmark>`` under $CMR_ROOT, else under the repository root."""
    project = Path(os.environ.get("CMR_ROOT", Path(__file__).resolve().parents[3]))
    return project / "data" / profile / benchmark


def generate(benchmark: str, profile: str, out: str | os.PathLike | None = None, seed: int = 0,
             workers: int | None = None, verbose: bool = True) -> Path:
    """Generate (or verify and complete) a synthetic dataset; return its root.

    ``out`` is the dataset root itself (default ``data/<profile>/<benchmark>``). Files that match the
    manifest (same generator fingerprint, size and sha1) are kept; missing or corrupt ones are re-rendered.
    ``workers``: processes used to render (default: the number of CPUs; 0 or 1 renders in this process)."""
    spec, params = _benchmark(benchmark), _profile(profile)
    root = Path(out) if out is not None else default_root(benchmark, profile)
    manifest_path = root / "manifest.json"
    old = json.loads(manifest_path.read_text()) if manifest_path.exists() else None
    if old is not None and old.get("benchmark") != benchmark:
        raise ValueError(f"{root} already holds {old.get('benchmark')!r}, not {benchmark!r}; choose another --out")
    current = fingerprint(benchmark, profile, seed)
    old_clips = old["clips"] if old is not None and old.get("fingerprint") == current else {}
    plans = plan_clips(benchmark, profile, seed)

    start = time.perf_counter()
    records = {p.id: old_clips[p.id] for p in plans if file_matches(root, old_clips.get(p.id))}
    todo = [p for p in plans if p.id not in records]
    jobs = [(benchmark, params, root, p) for p in todo]
    workers = (os.cpu_count() or 1) if workers is None else int(workers)
    (root / "videos").mkdir(parents=True, exist_ok=True)
    if workers > 1 and len(jobs) >= 4 * workers:
        with multiprocessing.get_context("fork").Pool(workers) as pool:
            made = pool.imap_unordered(_make_clip, jobs, chunksize=8)
            records.update((r["id"], r) for r in made)
    else:
        records.update((r["id"], r) for r in map(_make_clip, jobs))
    seconds = time.perf_counter() - start

    expected = {_video_path(p) for p in plans}
    for stale in (root / "videos").iterdir():
        if f"videos/{stale.name}" not in expected:
            stale.unlink()
    _write_annotations(spec, profile, seed, root, plans)
    timing = ({"clips_rendered": len(todo), "seconds": round(seconds, 1), "workers": workers,
               "clips_per_s": round(len(todo) / max(seconds, 1e-9), 2), "cpus": os.cpu_count(),
               "utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
              if todo else (old or {}).get("generation"))
    manifest = {"benchmark": benchmark, "profile": profile, "seed": int(seed), "fingerprint": current,
                "size": params["size"], "scene": params.get("scene"), "generation": timing,
                "clips": {p.id: records[p.id] for p in plans}}
    _atomic_write_text(manifest_path, json.dumps(manifest, indent=1))
    if verbose:
        speed = (f"{len(todo) / max(seconds, 1e-9):.1f} clips/s with {workers} worker{'s' * (workers != 1)}"
                 if todo else "all files match the manifest")
        print(f"{benchmark} [{profile}] -> {root}: {len(todo)} clips rendered, {len(plans) - len(todo)} reused, "
              f"{seconds:.1f} s ({speed})", flush=True)
    return root


def _template(name: str) -> str:
    return re.sub(r"\bsomething\b", "[something]", name)


def _write_annotations(spec: Benchmark, profile: str, seed: int, root: Path, plans: list[ClipPlan]) -> None:
    """labels.json, train.json, validation.json (SSv2), TSM lists, Kinetics CSVs (scene data), meta.json."""
    dump = lambda obj: json.dumps(obj, indent=1)  # noqa: E731
    _atomic_write_text(root / "labels.json", dump({name: str(i) for i, name in enumerate(spec.classes)}))
    _atomic_write_text(root / "category.txt", "".join(f"{name}\n" for name in spec.classes))
    for split, tsm_name, csv_name in [("train", "train_videofolder.txt", "train.csv"),
                                      ("validation", "val_videofolder.txt", "validate.csv")]:
        chosen = [p for p in plans if p.split == split]
        entries = [{"id": p.id, "label": spec.classes[p.label], "template": _template(spec.classes[p.label]),
                    "placeholders": ["something"] * _template(spec.classes[p.label]).count("[something]")}
                   for p in chosen]
        _atomic_write_text(root / f"{split}.json", dump(entries))
        _atomic_write_text(root / tsm_name, "".join(f"{_video_path(p)} {p.num_frames} {p.label}\n" for p in chosen))
        if spec.kind == "scene":
            table = io.StringIO()
            writer = csv.writer(table, lineterminator="\n")
            writer.writerow(["label", "youtube_id", "time_start", "time_end", "split"])
            for p in chosen:
                writer.writerow([spec.classes[p.label], p.id, 0, int(np.ceil(p.num_frames / p.fps)),
                                 "train" if split == "train" else "val"])
            _atomic_write_text(root / csv_name, table.getvalue())
    params = SYNTH_PROFILES[profile]
    meta = {"benchmark": spec.name, "profile": profile, "seed": int(seed), "kind": spec.kind,
            "num_classes": len(spec.classes), "classes": list(spec.classes),
            "reversal_pairs": spec.reversal_pairs,
            "self_reversed": list(spec.self_reversed),
            "flip": True, "flip_map": {str(k): v for k, v in sorted(spec.flip_map.items())},
            "mask": spec.mask, "format": "ssv2", "video_dir": "videos", **params}
    _atomic_write_text(root / "meta.json", dump(meta))


def rerender(root: str | os.PathLike, clip_id: str, mask: str = "object") -> tuple[Array, Array]:
    """Frames and mask of one generated clip, re-rendered from its manifest record (e.g. for Figure 5)."""
    manifest = json.loads((Path(root) / "manifest.json").read_text())
    record = manifest["clips"][str(clip_id)]
    return render_clip(manifest["benchmark"], record["label"], record["seed"], record["num_frames"],
                       manifest["size"], mask, manifest.get("scene"))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m cmrlib synth", description=__doc__.split("\n")[0])
    parser.add_argument("--benchmark", required=True, choices=[*BENCHMARKS, "all"])
    parser.add_argument("--profile", default="cpu", choices=list(SYNTH_PROFILES))
    parser.add_argument("--out", default=None,
                        help="dataset root (default: data/<profile>/<benchmark> in the repository); with 'all': the parent folder")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--workers", type=int, default=None, help="rendering processes (default: all CPUs)")
    args = parser.parse_args(argv)
    names = list(BENCHMARKS) if args.benchmark == "all" else [args.benchmark]
    for name in names:
        out = args.out if args.benchmark != "all" or args.out is None else Path(args.out) / name
        generate(name, args.profile, out, seed=args.seed, workers=args.workers)
    return 0


if __name__ == "__main__":
    sys.exit(main())