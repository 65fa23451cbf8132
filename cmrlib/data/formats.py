"""Annotation adapters for the real datasets' layouts (and our synthetic roots, which use the SSv2 layout).

Each adapter turns a dataset root and a split into an ``Annotations``: the class names, one ``Entry`` per
usable clip, and a ``Counter`` of the entries it dropped. Formats (``fmt``):

``ssv2``      Something-Something V2: ``labels.json`` ({"template without brackets": "index"}),
              ``train.json`` / ``validation.json`` ([{"id", "template", ...}]), videos ``<id>.webm`` (or .mp4)
              in ``videos/``, ``20bn-something-something-v2/`` or the root. Synthetic roots (``meta.json``).
``ssv1``      Something-Something V1: ``something-something-v1-labels.csv`` (one class per line),
              ``something-something-v1-{train,validation}.csv`` (``id;label`` lines), JPEG frames in
              ``20bn-something-something-v1/<id>/00001.jpg`` (or ``<root>/<id>/``).
``kinetics``  Kinetics-400: ``train.csv`` / ``validate.csv`` (or ``val.csv``) with the header
              ``label,youtube_id,time_start,time_end[,split]``; videos anywhere under the root named
              ``<youtube_id>_<start:06d>_<end:06d>.<ext>`` or ``<youtube_id>.<ext>``. Classes: ``labels.json``
              if present, else the sorted labels of the training CSV.
``tsm``       TSM list files, lines ``path num_frames label``: ``train_videofolder.txt`` /
              ``val_videofolder.txt`` (or ``train_list.txt`` / ``val_list.txt``) in the root, or the root is
              the list file. Paths are relative to the list's folder and name a video or a folder of frames;
              a path may hold spaces, but a line that reads as MMAction2's multi-label or offset form
              (``imgs 5 3 5``, ``imgs 2 5 127``, ``clip.mp4 0 3``) is an error. Frames of a folder are the
              files named by the frame template (``img_{:05d}.jpg``, TSM's and MMAction2's default; set
              ``"frame_template"`` in a ``meta.json`` beside the list to change it), so that flow frames
              (``x_``, ``y_``, ``flow_``) beside them stay out. Classes: ``category.txt`` or ``labels.json``
              if present, else 0..max label.

Policy at construction: an entry whose file is missing, or whose label is not in the label map, is logged
(path and reason, the first few of each reason, then a count) and dropped; ``Annotations.dropped`` counts
them by reason. A malformed annotation file (not UTF-8, a directory in its place, a line that does not fit
the format) raises ``AnnotationError`` naming the file and the line. A path is looked at with ``path_kind``
(``os.stat`` only: Python 3.11's ``Path.exists()`` raises PermissionError under a folder that cannot be
searched): an entry under such a folder is kept, and loading it reports "unreadable"; a dataset folder that
cannot be read is a ValueError naming it.
"""
from __future__ import annotations

import csv
import io
import json
import logging
import os
import re
import stat
from collections import Counter
from dataclasses import dataclass, field, replace
from pathlib import Path

log = logging.getLogger("cmrlib.data")

FORMATS = ("ssv2", "ssv1", "kinetics", "tsm")
VIDEO_EXTENSIONS = (".mp4", ".webm", ".mkv", ".avi", ".mov")
#: Frames of TSM list folders: ``img_00001.jpg`` (TSM's and MMAction2's default; flow frames ``x_``, ``y_``,
#: ``flow_`` beside them are left out). Digits-only names (TSM's Something-Something lists) are the fallback.
DEFAULT_FRAME_TEMPLATE = "img_{:05d}.jpg"
#: How many dropped entries of each reason are logged one by one before only the count is given.
LOG_EACH = 10


class AnnotationError(ValueError):
    """A malformed annotation file; the message names the file and the line."""

    def __init__(self, path, line: int, reason: str):
        super().__init__(f"{path}:{line}: {reason}" if line else f"{path}: {reason}")
        self.path, self.line, self.reason = str(path), line, reason


@dataclass(frozen=True)
class Entry:
    """One clip: a video file, or a folder of frames when ``frames`` is True."""
    path: str
    label: int
    id: str
    frames: bool = False
    template: str | None = None     # frame filename template of a frame folder (None: every image, by name)
    num_frames: int | None = None   # the frame count the list gives, if any


@dataclass
class Annotations:
    format: str
    classes: list[str]
    entries: list[Entry]
    dropped: Counter = field(default_factory=Counter)
    flip: bool = False  # the training default for horizontal flip
    flip_map: dict[int, int] = field(default_factory=dict)
    meta: dict = field(default_factory=dict)


class _Dropper:
    """Collects dropped entries: logs the first ``LOG_EACH`` per reason, counts all of them."""

    def __init__(self, source):
        self.source, self.counts = source, Counter()

    def __call__(self, path, reason: str) -> None:
        self.counts[reason] += 1
        if self.counts[reason] <= LOG_EACH:
            log.warning("dropped %s: %s (%s)", path, reason, self.source)

    def summary(self) -> Counter:
        for reason, count in self.counts.items():
            if count > LOG_EACH:
                log.warning("dropped %d entries of %s in total: %s", count, self.source, reason)
        return self.counts


def path_kind(path) -> str:
    """What is at ``path``, from ``os.stat`` alone (never ``open``: opening a FIFO blocks until a writer comes):
    'file', 'dir', 'other' (a FIFO, a socket, a device), 'missing', or 'unreadable' (a parent folder without
    search permission, an I/O error). Never raises."""
    try:
        mode = os.stat(path).st_mode
    except (FileNotFoundError, NotADirectoryError, ValueError):
        return "missing"
    except OSError:  # PermissionError (a folder that cannot be searched), ELOOP, EIO, ...
        return "unreadable"
    return "file" if stat.S_ISREG(mode) else "dir" if stat.S_ISDIR(mode) else "other"


def normalise_split(split: str) -> str:
    if split in ("train", "training"):
        return "train"
    if split in ("val", "valid", "validation", "validate"):
        return "val"
    raise ValueError(f"split must be 'train' or 'val', got {split!r}")


def detect_format(root: Path) -> str:
    """Tell the format of a dataset root from the annotation files it holds."""
    if root.is_file():
        return "tsm"
    meta = read_json(root / "meta.json") if (root / "meta.json").exists() else None
    if isinstance(meta, dict) and "format" in meta:  # our synthetic roots; a meta.json may hold other settings
        return meta["format"]
    if (root / "labels.json").exists() and ((root / "train.json").exists() or (root / "validation.json").exists()):
        return "ssv2"
    if (root / "something-something-v1-labels.csv").exists():
        return "ssv1"
    if any((root / name).exists() for name in _KINETICS_FILES["train"] + _KINETICS_FILES["val"]):
        return "kinetics"
    if any((root / name).exists() for name in _TSM_FILES["train"] + _TSM_FILES["val"]):
        return "tsm"
    raise ValueError(f"cannot tell the dataset format of {root}: expected meta.json or labels.json + train.json "
                     f"(SSv2), something-something-v1-labels.csv (SSv1), train.csv (Kinetics) or "
                     f"train_videofolder.txt (TSM); or name the format with check-data's --format (fmt= in Python): "
                     f"one of {', '.join(FORMATS)}")


def load_annotations(root, split: str, fmt: str = "auto", frame_template: str | None = None) -> Annotations:
    """Parse a dataset root's annotations for ``split`` ('train' or 'val'). ``frame_template`` names the frames
    of TSM list folders (default: meta.json's "frame_template", else ``img_{:05d}.jpg``)."""
    root = Path(root)
    if path_kind(root) == "missing":
        raise ValueError(f"dataset root {root} does not exist")
    split = normalise_split(split)
    readers = {"ssv2": _ssv2, "ssv1": _ssv1, "kinetics": _kinetics, "tsm": _tsm}
    try:
        fmt = detect_format(root) if fmt == "auto" else fmt
        if fmt not in readers:
            raise ValueError(f"unknown dataset format {fmt!r}; choose from auto, {', '.join(FORMATS)}")
        annotations = readers[fmt](root, split)
    except PermissionError as error:  # a folder of the dataset that cannot be read or searched
        raise ValueError(f"{error.filename or root}: cannot be read ({error.strerror}); check the dataset "
                         f"folder's permissions") from None
    if fmt == "tsm":
        template = frame_template or annotations.meta.get("frame_template") or DEFAULT_FRAME_TEMPLATE
        annotations.entries = [replace(e, template=template) if e.frames else e for e in annotations.entries]
    annotations.format = fmt
    if not annotations.entries:
        log.warning("%s (%s, %s split) has no usable entries", root, fmt, split)
    return annotations


# --- small parsers that know line numbers ------------------------------------------------------------------

_SEPARATORS = re.compile(r"[\s,]*")


def read_text(path: Path) -> str:
    """A UTF-8 annotation file's text (a BOM is dropped); AnnotationError names the file and line when it is
    not UTF-8 or cannot be read (a directory in its place, no permission)."""
    try:
        data = Path(path).read_bytes()
    except IsADirectoryError:
        raise AnnotationError(path, 0, "is a directory, expected a file") from None
    except OSError as error:
        raise AnnotationError(path, 0, f"cannot be read: {error.strerror or error}") from None
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = data[:error.start].count(b"\n") + 1
        raise AnnotationError(path, line, f"not UTF-8 text (byte 0x{data[error.start]:02x}); save the file as "
                                          f"UTF-8") from None


def read_json(path: Path):
    try:
        return json.loads(read_text(path))
    except json.JSONDecodeError as error:
        raise AnnotationError(path, error.lineno, f"invalid JSON: {error.msg}") from None


def read_json_entries(path: Path) -> list[tuple[int, object]]:
    """The elements of a top-level JSON list, each with the line it starts on."""
    data = read_json(path)
    if not isinstance(data, list):
        raise AnnotationError(path, 1, "expected a JSON list of entries")
    text = read_text(path)
    decoder, pos, line, out = json.JSONDecoder(), text.index("[") + 1, 1, []
    line += text.count("\n", 0, pos)
    for _ in data:
        start = _SEPARATORS.match(text, pos).end()
        line += text.count("\n", pos, start)
        value, pos = decoder.raw_decode(text, start)
        out.append((line, value))
        line += text.count("\n", start, pos)
    return out


def _read_lines(path: Path) -> list[tuple[int, str]]:
    """Non-empty lines with their numbers (1-based)."""
    lines = read_text(path).replace("\r\n", "\n").replace("\r", "\n").split("\n")
    return [(n, line.strip()) for n, line in enumerate(lines, 1) if line.strip()]


def _first_existing(root: Path, names) -> Path | None:
    return next((root / n for n in names if (root / n).exists()), None)


def _class_names_from_labels_json(path: Path) -> list[str]:
    """SSv2 labels.json: {"name": "index"} with indices 0..n-1."""
    labels = read_json(path)
    if not isinstance(labels, dict):
        raise AnnotationError(path, 1, 'expected {"class name": "index", ...}')
    try:
        index = {name: int(i) for name, i in labels.items()}
    except (TypeError, ValueError):
        raise AnnotationError(path, 1, "class indices must be integers") from None
    if sorted(index.values()) != list(range(len(index))):
        raise AnnotationError(path, 1, f"class indices must be 0..{len(index) - 1} without gaps")
    return sorted(index, key=index.get)


def _listing(folder: Path) -> set[str]:
    try:
        return set(os.listdir(folder))
    except PermissionError:
        raise  # load_annotations names the folder
    except OSError:
        return set()


# --- Something-Something V2 (and synthetic roots) ------------------------------------------------------------

def _ssv2(root: Path, split: str) -> Annotations:
    classes = _class_names_from_labels_json(root / "labels.json")
    index = {name: i for i, name in enumerate(classes)}
    meta = read_json(root / "meta.json") if (root / "meta.json").exists() else {}
    path = root / ("train.json" if split == "train" else "validation.json")
    if not path.exists():
        raise ValueError(f"{path} not found (Something-Something V2 layout)")
    folders = [root / meta["video_dir"]] if "video_dir" in meta else []
    folders += [root / "videos", root / "20bn-something-something-v2", root]
    folder = next(f for f in folders if f.is_dir())
    present = _listing(folder)
    drop, entries = _Dropper(path), []
    for line, item in read_json_entries(path):
        if not isinstance(item, dict) or "id" not in item or ("template" not in item and "label" not in item):
            raise AnnotationError(path, line, 'each entry needs "id" and "template"')
        name = str(item.get("template", item.get("label"))).replace("[", "").replace("]", "")
        clip_id = str(item["id"])
        video = next((f"{clip_id}{ext}" for ext in (".webm", ".mp4") if f"{clip_id}{ext}" in present), None)
        if name not in index:
            drop(folder / (video or f"{clip_id}.webm|.mp4"), f"unknown label {name!r}")
        elif video is None:
            drop(folder / f"{clip_id}.webm|.mp4", "missing video")
        else:
            entries.append(Entry(str(folder / video), index[name], clip_id))
    flip_map = {int(k): int(v) for k, v in meta.get("flip_map", {}).items()}
    return Annotations("ssv2", classes, entries, _reasons(drop), flip=bool(meta.get("flip", False)),
                       flip_map=flip_map, meta=meta)


def _reasons(drop: _Dropper) -> Counter:
    """Counts by reason kind ("unknown label", "missing ...") rather than by exact label."""
    counts = Counter()
    for reason, count in drop.summary().items():
        counts["unknown_label" if reason.startswith("unknown label") else "missing"] += count
    return counts


# --- Something-Something V1 ---------------------------------------------------------------------------------

def _ssv1(root: Path, split: str) -> Annotations:
    labels_path = root / "something-something-v1-labels.csv"
    classes = [line for _, line in _read_lines(labels_path)]
    index = {name: i for i, name in enumerate(classes)}
    path = root / f"something-something-v1-{'train' if split == 'train' else 'validation'}.csv"
    if not path.exists():
        raise ValueError(f"{path} not found (Something-Something V1 layout)")
    frames_root = root / "20bn-something-something-v1"
    frames_root = frames_root if frames_root.is_dir() else root
    present = _listing(frames_root)
    drop, entries = _Dropper(path), []
    for line, text in _read_lines(path):
        clip_id, sep, name = text.partition(";")
        if not sep or not clip_id.strip() or not name.strip():
            raise AnnotationError(path, line, f"expected 'id;label', got {text!r}")
        clip_id, name = clip_id.strip(), name.strip()
        if name not in index:
            drop(frames_root / clip_id, f"unknown label {name!r}")
        elif clip_id not in present:
            drop(frames_root / clip_id, "missing frame folder")
        else:
            entries.append(Entry(str(frames_root / clip_id), index[name], clip_id, frames=True))
    return Annotations("ssv1", classes, entries, _reasons(drop))


# --- Kinetics-400 ------------------------------------------------------------------------------------------

_KINETICS_FILES = {"train": ["train.csv", "kinetics_400_train.csv", "kinetics-400_train.csv"],
                   "val": ["validate.csv", "val.csv", "kinetics_400_val.csv", "kinetics-400_val.csv"]}
_KINETICS_COLUMNS = ("label", "youtube_id", "time_start", "time_end")


def _read_kinetics_csv(path: Path) -> list[tuple[int, str, str, int, int]]:
    """(line, label, youtube_id, time_start, time_end) for each row."""
    rows = []
    with io.StringIO(read_text(path), newline="") as handle:
        reader = csv.reader(handle)
        header = next(reader, None)
        if header is None or not all(c in header for c in _KINETICS_COLUMNS):
            raise AnnotationError(path, 1, f"expected a header with {','.join(_KINETICS_COLUMNS)}, got {header}")
        where = [header.index(c) for c in _KINETICS_COLUMNS]
        for row in reader:
            if not row:
                continue
            if len(row) != len(header):
                raise AnnotationError(path, reader.line_num, f"expected {len(header)} fields, got {len(row)}")
            label, youtube_id, start, end = (row[i].strip() for i in where)
            try:
                start, end = int(float(start)), int(float(end))
            except ValueError:
                raise AnnotationError(path, reader.line_num, f"time_start/time_end must be numbers: {row}") from None
            if not label or not youtube_id:
                raise AnnotationError(path, reader.line_num, "empty label or youtube_id")
            rows.append((reader.line_num, label, youtube_id, start, end))
    return rows


def _kinetics(root: Path, split: str) -> Annotations:
    path = _first_existing(root, _KINETICS_FILES[split])
    if path is None:
        raise ValueError(f"no Kinetics CSV for the {split} split in {root} (looked for {_KINETICS_FILES[split]})")
    rows = _read_kinetics_csv(path)
    if (root / "labels.json").exists():
        classes = _class_names_from_labels_json(root / "labels.json")
    else:
        train = _first_existing(root, _KINETICS_FILES["train"])
        classes = sorted({r[1] for r in (rows if split == "train" or train is None else _read_kinetics_csv(train))})
    index = {name: i for i, name in enumerate(classes)}
    videos = {}

    def unreadable(error: OSError) -> None:
        log.warning("%s: cannot be read (%s); videos in it count as missing", error.filename, error.strerror)

    for folder, _, files in os.walk(root, onerror=unreadable):
        for name in files:
            stem, ext = os.path.splitext(name)
            if ext.lower() in VIDEO_EXTENSIONS:
                videos.setdefault(stem, os.path.join(folder, name))
    drop, entries = _Dropper(path), []
    for _, label, youtube_id, start, end in rows:
        stem = f"{youtube_id}_{start:06d}_{end:06d}"
        video = videos.get(stem) or videos.get(youtube_id)
        if label not in index:
            drop(root / stem, f"unknown label {label!r}")
        elif video is None:
            drop(root / stem, "missing video")
        else:
            entries.append(Entry(video, index[label], youtube_id))
    meta = read_json(root / "meta.json") if (root / "meta.json").exists() else {}
    return Annotations("kinetics", classes, entries, _reasons(drop), flip=True, meta=meta)


# --- TSM list files ----------------------------------------------------------------------------------------

_TSM_FILES = {"train": ["train_videofolder.txt", "train_list.txt"],
              "val": ["val_videofolder.txt", "val_list.txt"]}


_ENDS_WITH_NUMBER = re.compile(r"\s[-+]?\d+$")


def _read_tsm_list(path: Path) -> list[tuple[int, str, int, int]]:
    """(line, path, num_frames, label) for each line ``path num_frames label``. The path may hold spaces, but
    a line whose path would end in a number (``imgs 5 3 5``: MMAction2's multi-label or offset form) is an
    error unless that path exists, and so is a video with 0 frames (``clip.mp4 0 3``: MMAction2's
    ``path label label``)."""
    rows, base = [], path.parent
    for line, text in _read_lines(path):
        parts = text.rsplit(maxsplit=2)
        if len(parts) != 3:
            raise AnnotationError(path, line, f"expected 'path num_frames label', got {text!r}")
        try:
            relative, num_frames, label = parts[0], int(parts[1]), int(parts[2])
        except ValueError:
            raise AnnotationError(path, line, f"num_frames and label must be integers, got {text!r}") from None
        if _ENDS_WITH_NUMBER.search(relative) and path_kind(base / relative) == "missing":
            raise AnnotationError(path, line, f"{text!r} has more than 3 fields; MMAction2's multi-label "
                                              f"('path num_frames label label ...') and offset ('path offset "
                                              f"num_frames label') forms are not supported: expected "
                                              f"'path num_frames label'")
        if num_frames < 0 or label < 0:
            raise AnnotationError(path, line, f"num_frames and label must be >= 0, got {text!r}")
        if num_frames == 0 and relative.lower().endswith(VIDEO_EXTENSIONS):
            raise AnnotationError(path, line, f"{text!r}: a video with 0 frames; MMAction2's multi-label video "
                                              f"form ('path label label ...') is not supported: expected "
                                              f"'path num_frames label'")
        rows.append((line, relative, num_frames, label))
    return rows


def _tsm(root: Path, split: str) -> Annotations:
    path = root if root.is_file() else _first_existing(root, _TSM_FILES[split])
    if path is None:
        raise ValueError(f"no TSM list file for the {split} split in {root} (looked for {_TSM_FILES[split]})")
    base = path.parent
    rows = _read_tsm_list(path)
    if (base / "category.txt").exists():
        classes = [line for _, line in _read_lines(base / "category.txt")]
    elif (base / "labels.json").exists():
        classes = _class_names_from_labels_json(base / "labels.json")
    else:
        classes = [str(i) for i in range(max((r[3] for r in rows), default=-1) + 1)]
    drop, entries = _Dropper(path), []
    for _, relative, num_frames, label in rows:
        target = base / relative
        kind = path_kind(target)  # "unreadable" (a folder that cannot be searched): kept, and loading says so
        if not 0 <= label < len(classes):
            drop(target, f"unknown label {label}")
        elif kind == "missing":
            drop(target, "missing video or frame folder")
        else:
            frames = kind == "dir" or (kind == "unreadable" and not relative.lower().endswith(VIDEO_EXTENSIONS))
            entries.append(Entry(str(target), label, Path(relative).stem, frames=frames, num_frames=num_frames))
    meta = read_json(base / "meta.json") if (base / "meta.json").exists() else {}
    flip_map = {int(k): int(v) for k, v in meta.get("flip_map", {}).items()}
    return Annotations("tsm", classes, entries, _reasons(drop), flip=bool(meta.get("flip", False)),
                       flip_map=flip_map, meta=meta)
