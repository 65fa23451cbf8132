"""``python -m cmrlib check-data DIR``: validate a dataset folder and print a report.

For each split it parses the annotations (a malformed file is reported with its file and line), lists the
entries the loader would drop (missing file, unknown label), opens every clip and decodes the frames that
testing samples plus the last one, and reports undecodable clips (truncated, zero frames, not a video) and
clips shorter than ``--frames``. A split with no usable entry, or none that decodes, is a problem: training
refuses it. A valid video that decord cannot decode (a portrait video with rotation metadata) is decoded with
PyAV, as training and evaluation do, and counted ("decoded with PyAV: N"). For a synthetic root it also checks every video against the manifest's size and sha1. Exit
status: 0 when nothing is wrong (short clips and frame folders whose count differs from the list's are only
warnings), 1 when problems were found, 2 when an annotation file is malformed or the folder cannot be read as
a dataset.
"""
from __future__ import annotations

import argparse
import json
import logging
from collections import Counter
from pathlib import Path

import numpy as np

from cmrlib.data.dataset import ClipError, read_entry, segment_indices
from cmrlib.data.formats import FORMATS, AnnotationError, load_annotations


def check_entry(entry, num_segments: int, notes: list | None = None) -> tuple[str, int]:
    """(issue name or "ok" / "short", frame count) after decoding the test frames and the last frame; a video
    decoded with PyAV (decord cannot) appends "pyav" to ``notes``."""
    def pick(n):
        centres = segment_indices(n, num_segments, 1, False, np.random.default_rng(0))[0]
        return np.append(centres, n - 1)

    try:
        _, num_frames = read_entry(entry, pick, notes)
    except ClipError as error:
        return error.issue, 0
    except OSError:
        return "unreadable", 0
    if entry.frames and entry.num_frames and num_frames != entry.num_frames:
        return "frame_count", num_frames
    return ("short" if num_frames < num_segments else "ok"), num_frames


def check_manifest(root: Path) -> list[str]:
    """Videos of a synthetic root that do not match the manifest (size and sha1)."""
    from cmrlib.data.synth import file_matches

    manifest = json.loads((root / "manifest.json").read_text())
    return [record["path"] for record in manifest["clips"].values() if not file_matches(root, record)]


def check(root, fmt: str = "auto", num_segments: int = 8, splits=("train", "val"), decode: bool = True,
          out=print, frame_template: str | None = None) -> int:
    """Check a dataset and print the report with ``out``; return the number of problems found."""
    root = Path(root)
    problems = 0
    for split in splits:
        annotations = load_annotations(root, split, fmt, frame_template=frame_template)
        counts = Counter(entry.label for entry in annotations.entries)
        per_class = [counts.get(i, 0) for i in range(len(annotations.classes))]
        out(f"{split}: {len(annotations.entries)} usable entries, format {annotations.format}, "
            f"{len(annotations.classes)} classes ({min(per_class, default=0)}-{max(per_class, default=0)} "
            f"per class)")
        for reason, count in sorted(annotations.dropped.items()):
            out(f"  dropped {count}: {reason} (see the warnings above for paths)")
            problems += count
        if not annotations.entries:
            out(f"  {split}: no usable entries; training refuses an empty split")
            problems += 1
        if not decode:
            continue
        issues, frame_counts, pyav = Counter(), [], 0
        for entry in annotations.entries:
            notes = []
            issue, num_frames = check_entry(entry, num_segments, notes)
            if notes:
                pyav += 1
                out(f"  {entry.path}: decord cannot decode it (rotated or unusual); decoded with PyAV")
            issues[issue] += 1
            if num_frames:
                frame_counts.append(num_frames)
            if issue not in ("ok", "short", "frame_count"):
                out(f"  {entry.path}: {issue}")
                problems += 1
            elif issue == "short":
                out(f"  {entry.path}: short ({num_frames} < {num_segments} frames; sampled with repetition)")
            elif issue == "frame_count":
                out(f"  {entry.path}: {num_frames} frames found, the list says {entry.num_frames}")
        if annotations.entries and not frame_counts:
            out(f"  {split}: not one clip decodes; training refuses this split")
            problems += 1
        summary = ", ".join(f"{count} {name}" for name, count in sorted(issues.items()))
        out(f"  decoded: {summary or 'nothing'}" + (f"; decoded with PyAV: {pyav}" if pyav else ""))
        if frame_counts:
            out(f"  frames per clip: min {min(frame_counts)}, median {int(np.median(frame_counts))}, "
                f"max {max(frame_counts)}")
    if (root / "manifest.json").exists():
        mismatched = check_manifest(root)
        for path in mismatched:
            out(f"  {path}: does not match manifest.json (rerun `python -m cmrlib synth` to repair)")
        meta = json.loads((root / "meta.json").read_text()) if (root / "meta.json").exists() else {}
        out(f"synthetic {meta.get('benchmark')} [{meta.get('profile')}], seed {meta.get('seed')}: "
            f"{len(mismatched)} file(s) differ from the manifest")
        problems += len(mismatched)
    out(f"{root}: {'OK' if problems == 0 else f'{problems} problem(s)'}")
    return problems


def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text!r}")
    return value


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m cmrlib check-data", description=__doc__.split("\n")[0])
    parser.add_argument("root", help="dataset root (or a TSM list file)")
    parser.add_argument("--format", default="auto", choices=["auto", *FORMATS])
    parser.add_argument("--frames", type=positive_int, default=8,
                        help="T: clips with fewer frames are reported as short")
    parser.add_argument("--frame-template", default=None,
                        help="frame filenames of TSM list folders (default: meta.json's, else img_{:05d}.jpg)")
    parser.add_argument("--split", default="train,val", help="comma-separated splits (default train,val)")
    parser.add_argument("--no-decode", action="store_true", help="only parse annotations and check files exist")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(message)s")
    try:
        problems = check(args.root, args.format, args.frames, args.split.split(","), not args.no_decode,
                         frame_template=args.frame_template)
    except AnnotationError as error:
        print(f"malformed annotation file: {error}")
        return 2
    except ValueError as error:
        print(f"error: {error}")
        return 2
    return 1 if problems else 0
