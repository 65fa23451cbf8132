"""Video clip dataset: decord decoding, TSN segment and dense sampling, multi-clip x multi-crop views.

An item is ``(clip, label, issue)``: ``clip`` float (T,3,S,S), or (V,T,3,S,S) with V = clips x crops > 1
(clip-major: the crops of clip 0 first); ``label`` an int; ``issue`` an int code, 0 = OK, named by
``ISSUE_NAMES``.

Sampling (paper-spec §C.1):
- ``segments`` (TSN, Something-Something): the clip's F frames are cut into T equal segments; training takes
  a random frame in each segment, testing the segment centres. With ``clips`` = N > 1, clip c takes the
  frame at fraction (c + 0.5) / N of each segment (N uniformly placed clips).
- ``dense`` (Kinetics): T frames at stride 64 / T from a 64-frame window placed at random for training, at
  the centre for 1 test clip, or at N uniformly spaced starts for N test clips. A video shorter than the
  window is sampled as in ``segments`` over its whole length.
All randomness (frame offsets, crop, flip, replacements) comes from ``numpy.random.default_rng((seed, epoch,
index))``, so a sample does not depend on the worker count or order; call ``set_epoch(epoch)`` before each
epoch's iterator is created (not with ``persistent_workers``).

Bad input policy (loading never crashes in the middle of an epoch):
- at construction, entries whose file is missing or whose label is not in the label map are logged (path and
  reason) and dropped; ``dataset.dropped`` counts them ("missing", "unknown_label");
- at load time, a video that cannot be decoded is logged once per process (path and reason); the item
  returns the failure's code: "missing" (deleted since construction), "truncated" (a known container that
  does not open or decode, including a 0-byte file), "zero_frames" (a container with no video frames),
  "not_a_video" (anything else, a directory in a video's place too), "unreadable" (any other ``OSError``:
  permissions, I/O errors). With ``substitute=True`` (training) the clip is replaced by a deterministic other
  sample (chosen from (seed, epoch, index)); with ``substitute=False`` (evaluation, the default for
  ``train=False``) the item is a zero clip with the entry's own label and the failure's code, and
  ``cmrlib.evaluate.predict`` excludes it: evaluation never scores a clip other than the one listed;
- a path that is not a regular file (a FIFO, a socket, a directory) is refused from ``os.stat`` before any
  ``open`` (a FIFO's would block); a path whose folder cannot be searched is "unreadable";
- a valid video that decord cannot decode (a portrait video with 90/270 degree rotation metadata, some frame
  widths) is decoded with PyAV, turned as its display matrix says, logged once and flagged "pyav" (used, not a
  bad input);
- a clip shorter than T frames is used, its frames sampled with repetition, and flagged "short";
- a frame folder whose frame count differs from the list's ``num_frames`` is read as found, logged once and
  flagged "frame_count";
- if ``MAX_REPLACEMENTS`` replacements in a row fail, the dataset raises ``UnusableData`` (a RuntimeError)
  telling to run ``python -m cmrlib check-data``; ``first_usable`` tells at start-up whether a split has any
  clip that opens;
- a malformed annotation file raises ``AnnotationError`` (a ValueError) naming the file and the line.
"""
from __future__ import annotations

import contextlib
import logging
import os
import re
import stat
import sys
from typing import Callable

import numpy as np
import torch
from torch.utils.data import Dataset

from cmrlib.data.formats import DEFAULT_FRAME_TEMPLATE, Annotations, Entry, load_annotations, path_kind
from cmrlib.data.transforms import test_views, train_transform

# PyAV first: decord's wheel bundles an older libvpx whose global symbols, once loaded, break PyAV's VP8/VP9
# encoders ("avcodec_open2 ... returned 22"). Loaded in this order, both libraries work.
import av  # noqa: F401
import decord

decord.logging.set_level(decord.logging.QUIET)  # the dataset reports failures itself

log = logging.getLogger("cmrlib.data")

#: Item issue codes: the index in this tuple is the code returned as the item's third element.
ISSUE_NAMES = ("ok", "short", "missing", "truncated", "zero_frames", "not_a_video", "unreadable", "frame_count",
               "pyav")
ISSUE_CODES = {name: code for code, name in enumerate(ISSUE_NAMES)}
#: Issues of a clip that could not be loaded at all (the others, "short" and "frame_count", are still used).
FAILURES = frozenset(ISSUE_CODES[name] for name in ("missing", "truncated", "zero_frames", "not_a_video",
                                                     "unreadable"))
MAX_REPLACEMENTS = 10
#: ``cache_frames`` keeps a video in memory only when its decoded frames take at most this many bytes (a 2-hour
#: video would take gigabytes), and stops caching once the cache holds ``CACHE_MAX_TOTAL_BYTES``; the videos
#: past either cap are read on demand (the same frames), with one warning.
CACHE_MAX_VIDEO_BYTES = 64 * 2**20
CACHE_MAX_TOTAL_BYTES = 8 * 2**30
IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png")
SAMPLINGS = ("segments", "dense")


class UnusableData(RuntimeError):
    """Too many clips in a row (or all of a split) cannot be loaded."""


class ClipError(Exception):
    """A clip that cannot be loaded; ``issue`` is a name from ``ISSUE_NAMES``."""

    def __init__(self, issue: str, detail: str = ""):
        super().__init__(f"{issue}{': ' + detail if detail else ''}")
        self.issue = issue


# --- frame indices ---------------------------------------------------------------------------------------

def segment_indices(num_frames: int, num_segments: int, clips: int, train: bool,
                    rng: np.random.Generator) -> np.ndarray:
    """TSN sampling: (clips, T) frame indices, one per segment (random in training, else evenly placed)."""
    length = num_frames / num_segments
    starts = np.arange(num_segments) * length
    if train:
        positions = (starts + rng.random(num_segments) * length)[None]
    else:
        positions = starts[None] + length * (np.arange(clips)[:, None] + 0.5) / clips
    return np.minimum(positions.astype(np.int64), num_frames - 1)


def dense_indices(num_frames: int, num_segments: int, clips: int, train: bool, rng: np.random.Generator,
                  window: int = 64) -> np.ndarray:
    """Kinetics sampling: (clips, T) indices at stride window // T inside a ``window``-frame span."""
    stride = max(1, window // num_segments)
    span = stride * (num_segments - 1) + 1
    if num_frames < stride * num_segments:
        return segment_indices(num_frames, num_segments, clips, train, rng)
    last = num_frames - span
    if train:
        starts = np.array([rng.integers(0, last + 1)])
    elif clips == 1:
        starts = np.array([last // 2])
    else:
        starts = np.linspace(0, last, clips).round().astype(np.int64)
    return starts[:, None] + np.arange(num_segments)[None] * stride


# --- decoding ----------------------------------------------------------------------------------------------

_VIDEO_MAGIC = ((4, b"ftyp"), (4, b"moov"), (4, b"mdat"), (4, b"free"), (4, b"wide"), (0, b"\x1a\x45\xdf\xa3"),
                (0, b"RIFF"), (0, b"OggS"), (0, b"\x00\x00\x01\xba"), (0, b"FLV"))


@contextlib.contextmanager
def quiet_stderr():
    """Send file descriptor 2 to /dev/null: decord's C++ logger prints an "ERROR opening" line for every bad
    file whatever its log level; the dataset reports the failure itself, once, with its reason."""
    try:
        sys.stderr.flush()
        saved, null = os.dup(2), os.open(os.devnull, os.O_WRONLY)
    except (OSError, ValueError):
        yield
        return
    try:
        os.dup2(null, 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(null)


def _not_a_regular_file(path: str) -> str | None:
    """The issue of a path that is not a regular file (checked before any ``open``), else None."""
    kind = path_kind(path)
    return None if kind == "file" else {"dir": "not_a_video", "other": "not_a_video"}.get(kind, kind)


def diagnose_video(path: str) -> str:
    """Why a video that decord could not open is bad: 'missing', 'truncated', 'zero_frames', 'not_a_video'
    (a directory, a FIFO too) or 'unreadable' (an OSError: no permission, an I/O error)."""
    issue = _not_a_regular_file(path)
    if issue:
        return issue
    try:
        with open(path, "rb") as handle:
            head = handle.read(16)
    except OSError:
        return "unreadable"
    if not head:
        return "truncated"
    try:
        with av.open(path) as container:
            streams = container.streams.video
            if not streams:
                return "zero_frames"
            for _ in container.decode(streams[0]):
                return "truncated"  # it has frames, yet decord failed: a damaged file
            return "zero_frames"
    except Exception:  # av.error.FFmpegError, OSError, ValueError, ...
        known = any(head[offset:offset + len(magic)] == magic for offset, magic in _VIDEO_MAGIC)
        return "truncated" if known else "not_a_video"


def read_video_pyav(path: str, pick: Callable[[int], np.ndarray]) -> tuple[np.ndarray, int]:
    """``read_video`` with PyAV, each frame turned as its display matrix says (90, 180, 270 degrees): the
    fallback for the valid files that decord cannot decode (portrait phone videos, some frame widths). Decodes
    every frame in order; fewer frames than the container declares is a truncated file (ClipError)."""
    try:
        with av.open(path) as container:
            stream = container.streams.video[0]
            count = stream.frames or sum(1 for _ in container.decode(stream))
            if count <= 0:
                raise ClipError("zero_frames", path)
            indices = pick(count)
            wanted, frames, decoded = set(np.unique(indices).tolist()), {}, 0
            container.seek(0)
            for frame in container.decode(stream):
                if decoded in wanted:
                    image = frame.to_ndarray(format="rgb24")
                    frames[decoded] = np.ascontiguousarray(np.rot90(image, round(frame.rotation / 90) % 4))
                decoded += 1
    except ClipError:
        raise
    except Exception:  # av.error.FFmpegError, IndexError (no video stream), ...
        raise ClipError("truncated", f"{path}: PyAV cannot decode it either") from None
    if decoded < count or len(frames) < len(wanted):
        raise ClipError("truncated", f"{path}: {decoded} of {count} frames decode")
    if len({image.shape for image in frames.values()}) > 1:
        raise ClipError("truncated", f"{path}: frames of different sizes")
    unique = np.array(sorted(frames))
    return np.stack([frames[i] for i in unique])[np.searchsorted(unique, indices)], count


def read_video(path: str, pick: Callable[[int], np.ndarray], notes: list | None = None) -> tuple[np.ndarray, int]:
    """Decode the frames ``pick(num_frames)`` (an int array of any shape) of a video with decord; a valid file
    that decord cannot decode (a rotated portrait video, some frame widths) is decoded with PyAV instead, and
    "pyav" is appended to ``notes``. Anything but a regular file is refused before it is opened.

    Returns uint8 frames of shape pick's shape + (H, W, 3) and the video's frame count."""
    issue = _not_a_regular_file(path)
    if issue:
        raise ClipError(issue, path)
    try:
        with quiet_stderr():
            reader = decord.VideoReader(path, ctx=decord.cpu(0), num_threads=1)
        num_frames = len(reader)
    except Exception:  # decord raises RuntimeError or DECORDError
        issue = diagnose_video(path)
        if issue != "truncated":  # PyAV decodes frames of it: try it whole before calling it truncated
            raise ClipError(issue, path) from None
        return _pyav_fallback(path, pick, notes)
    if num_frames <= 0:
        raise ClipError("zero_frames", path)
    indices = pick(num_frames)
    unique, inverse = np.unique(indices, return_inverse=True)
    try:
        with quiet_stderr():
            frames = reader.get_batch(unique.tolist()).asnumpy()
    except Exception:
        return _pyav_fallback(path, lambda n: indices if n == num_frames else pick(n), notes)
    return frames[inverse.reshape(indices.shape)], num_frames


def _pyav_fallback(path, pick, notes):
    frames, num_frames = read_video_pyav(path, pick)
    if notes is not None:
        notes.append("pyav")
    return frames, num_frames


def template_pattern(template: str) -> re.Pattern:
    """A frame filename template (``img_{:05d}.jpg``, as TSM and MMAction2 write them) as a regex whose group
    is the frame number."""
    match = re.fullmatch(r"(.*?)\{[^{}]*\}(.*)", template)
    if match is None:
        raise ValueError(f"frame template {template!r} must hold one {{}} field for the frame number, "
                         f"e.g. 'img_{{:05d}}.jpg'")
    return re.compile(re.escape(match[1]) + r"(\d+)" + re.escape(match[2]) + "$")


_DIGITS_ONLY = re.compile(r"(\d+)\.(?:jpg|jpeg|png)$", re.IGNORECASE)


def frame_names(path: str, template: str | None = None) -> list[str]:
    """The frame files of a folder in order: with a template, the names it matches sorted by frame number
    (the default template falls back to digits-only names); without one, every image sorted by name."""
    names = os.listdir(path)
    if template is None:
        return sorted(n for n in names if n.lower().endswith(IMAGE_EXTENSIONS))
    for pattern in [template_pattern(template)] + ([_DIGITS_ONLY] if template == DEFAULT_FRAME_TEMPLATE else []):
        found = sorted((int(m[1]), n) for n in names if (m := pattern.match(n)))
        if found:
            return [n for _, n in found]
    return []


def read_frame_folder(path: str, pick: Callable[[int], np.ndarray],
                      template: str | None = None) -> tuple[np.ndarray, int]:
    """Like ``read_video`` for a folder of JPEG/PNG frames (``frame_names``), decoded with Pillow."""
    from PIL import Image, UnidentifiedImageError

    try:
        names = frame_names(path, template)
    except FileNotFoundError:
        raise ClipError("missing", path) from None
    except NotADirectoryError:
        raise ClipError("not_a_video", f"{path}: not a folder of frames") from None
    except OSError as error:
        raise ClipError("unreadable", f"{path}: {error.strerror or error}") from None
    if not names:
        raise ClipError("zero_frames", path if template is None else f"{path}: no frame named like {template!r}")
    indices = pick(len(names))
    unique, inverse = np.unique(indices, return_inverse=True)
    images = []
    for i in unique:
        file = os.path.join(path, names[i])
        issue = _not_a_regular_file(file)  # a FIFO's open would block
        if issue:
            raise ClipError("unreadable" if issue == "not_a_video" else issue, file)
        try:
            with Image.open(file) as image:
                images.append(np.asarray(image.convert("RGB")))
        except UnidentifiedImageError:
            raise ClipError("not_a_video", file) from None
        except (IsADirectoryError, PermissionError):
            raise ClipError("unreadable", file) from None
        except Exception:  # Pillow's "image file is truncated" (OSError), "broken PNG file" (SyntaxError), ...
            raise ClipError("truncated", file) from None
    if len({im.shape for im in images}) > 1:
        raise ClipError("truncated", f"{path}: frames of different sizes")
    return np.stack(images)[inverse.reshape(indices.shape)], len(names)


def read_entry(entry, pick: Callable[[int], np.ndarray], notes: list | None = None) -> tuple[np.ndarray, int]:
    """``read_frame_folder`` or ``read_video`` for an annotation entry (``notes``: see ``read_video``)."""
    if entry.frames:
        return read_frame_folder(entry.path, pick, entry.template)
    return read_video(entry.path, pick, notes)


def first_usable(dataset, limit: int | None = None) -> int | None:
    """The index of the first entry whose first frame loads (None if none of the first ``limit`` does):
    tells at start-up that a split is usable without decoding it all."""
    entries = getattr(dataset, "entries", None) or getattr(getattr(dataset, "dataset", None), "entries", [])
    for index, entry in enumerate(entries[: min(len(dataset), limit or len(dataset))]):
        try:
            read_entry(entry, lambda n: np.zeros(1, dtype=np.int64))
            return index
        except (ClipError, OSError):
            continue
    return None


# --- the dataset -------------------------------------------------------------------------------------------

class VideoClipDataset(Dataset):
    """Clips of ``num_segments`` frames, transformed to ``size`` x ``size`` (see the module docstring)."""

    def __init__(self, annotations: Annotations, num_segments: int, size: int, train: bool,
                 sampling: str = "segments", clips: int = 1, crops: int = 1, seed: int = 0,
                 flip: bool | None = None, flip_map: dict[int, int] | None = None, dense_window: int = 64,
                 cache_frames: bool = False, substitute: bool | None = None, crop_scale: str = "full-height"):
        if sampling not in SAMPLINGS:
            raise ValueError(f"sampling must be one of {SAMPLINGS}, got {sampling!r}")
        if num_segments < 1 or size < 1:
            raise ValueError(f"num_segments and size must be positive, got {num_segments}, {size}")
        if clips < 1 or crops not in (1, 3):
            raise ValueError(f"clips must be >= 1 and crops 1 or 3, got clips={clips}, crops={crops}")
        if train and clips * crops != 1:
            raise ValueError("multi-view (clips/crops > 1) is for testing; use train=False")
        self.annotations = annotations
        self.entries: list[Entry] = annotations.entries
        self.classes = annotations.classes
        self.num_classes = len(annotations.classes)
        self.dropped = annotations.dropped
        self.format = annotations.format
        self.meta = annotations.meta
        self.num_segments, self.size, self.train = num_segments, size, train
        self.sampling, self.clips, self.crops, self.seed = sampling, clips, crops, seed
        self.crop_scale = crop_scale  # where 3 test crops are taken (transforms.test_views)
        self.flip_map = dict(annotations.flip_map if flip_map is None else flip_map)
        self.flip = bool(annotations.flip if flip is None else flip) and train
        self.dense_window = dense_window
        self.epoch = 0
        self.substitute = train if substitute is None else bool(substitute)
        self._bad: dict[int, str] = {}  # indices found undecodable in this process
        self._miscounted: set[int] = set()  # frame folders whose count differs from the list's, logged once
        self.cache_frames = cache_frames
        self._frames: dict[int, np.ndarray] = {}  # index -> every decoded frame (F, H, W, 3), if cache_frames
        self._uncached: set[int] = set()  # videos past the cache's caps (CACHE_MAX_*_BYTES): read on demand
        self._cached_bytes = 0
        self._pyav: set[int] = set()  # videos decoded with PyAV (decord cannot), logged once

    @property
    def labels(self) -> list[int]:
        return [entry.label for entry in self.entries]

    @property
    def views(self) -> int:
        return self.clips * self.crops

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)

    def __len__(self) -> int:
        return len(self.entries)

    def _indices(self, num_frames: int, rng: np.random.Generator) -> np.ndarray:
        if self.sampling == "dense":
            return dense_indices(num_frames, self.num_segments, self.clips, self.train, rng, self.dense_window)
        return segment_indices(num_frames, self.num_segments, self.clips, self.train, rng)

    def load(self, index: int) -> tuple[torch.Tensor, int, str | None]:
        """Decode and transform entry ``index``: (clip, label, "short" / "frame_count" / None). Raises
        ClipError on bad input."""
        entry = self.entries[index]
        rng = np.random.default_rng([self.seed, self.epoch, index])
        notes = []
        frames, num_frames = self._read(index, lambda n: self._indices(n, rng), notes)  # (clips, T, H, W, 3)
        if notes and index not in self._pyav:
            self._pyav.add(index)
            log.warning("%s: decord cannot decode it (a rotated or unusual video); decoded with PyAV", entry.path)
        issue = "short" if num_frames < self.num_segments else "pyav" if notes else None
        if entry.frames and entry.num_frames and num_frames != entry.num_frames:
            issue = "frame_count"
            if index not in self._miscounted:
                self._miscounted.add(index)
                log.warning("%s: %d frames found, the list says %d; using the %d found", entry.path, num_frames,
                            entry.num_frames, num_frames)
        frames = torch.from_numpy(frames).permute(0, 1, 4, 2, 3)  # (clips, T, 3, H, W) uint8
        label = entry.label
        if self.train:
            flip = rng.random() < 0.5 and self.flip  # the coin is always drawn: crops do not depend on flip
            clip = train_transform(frames[0], rng, self.size, flip)
            if flip:
                label = self.flip_map.get(label, label)
        else:
            views = torch.cat([test_views(f, self.size, self.crops, self.crop_scale) for f in frames])  # (V, T, 3, S, S)
            clip = views[0] if len(views) == 1 else views
        return clip, label, issue

    def _read(self, index: int, pick: Callable[[int], np.ndarray], notes: list) -> tuple[np.ndarray, int]:
        """The frames ``pick(num_frames)`` of entry ``index``; with ``cache_frames``, decode the whole video
        once and keep it in this process's memory (the same frames as decoding only the picked ones), unless
        it is past the cache's caps (``CACHE_MAX_VIDEO_BYTES``, ``CACHE_MAX_TOTAL_BYTES``)."""
        entry = self.entries[index]
        if not self.cache_frames or index in self._uncached:
            return read_entry(entry, pick, notes)
        if index not in self._frames:
            first, num_frames = read_entry(entry, lambda n: np.zeros(1, dtype=np.int64), notes)
            size = num_frames * first[0].nbytes
            if size > CACHE_MAX_VIDEO_BYTES or self._cached_bytes + size > CACHE_MAX_TOTAL_BYTES:
                if not self._uncached:
                    log.warning("cache_frames: %s would take %.0f MiB decoded (caps: %d MiB a video, %d MiB in all); "
                                "videos past the caps are not cached but read on demand", entry.path, size / 2**20,
                                CACHE_MAX_VIDEO_BYTES // 2**20, CACHE_MAX_TOTAL_BYTES // 2**20)
                self._uncached.add(index)
                return read_entry(entry, pick, notes)
            self._frames[index], _ = read_entry(entry, np.arange, notes)
            self._cached_bytes += self._frames[index].nbytes
        video = self._frames[index]
        if index in self._pyav:
            notes.append("pyav")
        return video[pick(len(video))], len(video)

    def _try_load(self, index: int):
        """``load``, or None after logging (once per process) why the clip cannot be loaded."""
        if index in self._bad:
            return None
        try:
            return self.load(index)
        except (ClipError, OSError) as error:  # any OSError on one sample is a bad input, never a crash
            self._bad[index] = error.issue if isinstance(error, ClipError) else "unreadable"
            log.warning("cannot load %s: %s; %s", self.entries[index].path, self._bad[index],
                        "replaced by another sample" if self.substitute else "excluded from evaluation")
            return None

    def empty_clip(self) -> torch.Tensor:
        """The zeros that stand for an excluded clip (``substitute=False``), shaped as a loaded one."""
        shape = (self.num_segments, 3, self.size, self.size)
        return torch.zeros(shape if self.views == 1 else (self.views, *shape))

    def __getitem__(self, index: int):
        if not self.substitute:
            loaded = self._try_load(index)
            if loaded is None:
                return self.empty_clip(), self.entries[index].label, ISSUE_CODES[self._bad[index]]
            clip, label, issue = loaded
            return clip, label, ISSUE_CODES[issue] if issue else 0
        issue = 0
        candidate = index
        for attempt in range(MAX_REPLACEMENTS + 1):
            loaded = self._try_load(candidate)
            if loaded is not None:
                clip, label, own = loaded
                return clip, label, issue or (ISSUE_CODES[own] if own else 0)
            issue = issue or ISSUE_CODES[self._bad[candidate]]
            candidate = self._replacement(index, attempt)
        raise UnusableData(f"{MAX_REPLACEMENTS + 1} samples in a row could not be loaded (starting at "
                           f"{self.entries[index].path}); run `python -m cmrlib check-data` on the dataset")

    def _replacement(self, index: int, attempt: int) -> int:
        """A deterministic other index for a bad sample, from (seed, epoch, index, attempt)."""
        if len(self) < 2:
            return index
        rng = np.random.default_rng([self.seed, self.epoch, index, attempt + 1])
        return int((index + 1 + rng.integers(len(self) - 1)) % len(self))


def build_dataset(root, split: str, num_segments: int, size: int, train: bool, sampling: str = "segments",
                  clips: int = 1, crops: int = 1, seed: int = 0, fmt: str = "auto", flip: bool | None = None,
                  flip_map: dict[int, int] | None = None, dense_window: int = 64,
                  cache_frames: bool = False, substitute: bool | None = None,
                  frame_template: str | None = None, crop_scale: str = "full-height") -> VideoClipDataset:
    """A dataset over a root in any supported format (``cmrlib.data.formats``).

    ``flip``: horizontal flip in training. Default: on for scene data (Kinetics); for Something-Something
    style data only when the root gives a label flip map (our synthetic roots do: left-to-right <-> right-to-
    left, clockwise <-> anticlockwise), off otherwise. ``flip_map`` overrides the root's map.
    ``cache_frames``: keep every decoded video in memory after its first read (small datasets, ``num_workers``
    0: a worker's cache ends with its epoch).
    ``substitute``: replace an unloadable clip by another one (default: in training only; see the module
    docstring). ``frame_template``: the frame filenames of TSM list folders (default: the root's meta.json
    "frame_template", else ``img_{:05d}.jpg``). ``crop_scale``: where 3 test crops are taken
    (``transforms.test_views``)."""
    annotations = load_annotations(root, split, fmt, frame_template=frame_template)
    return VideoClipDataset(annotations, num_segments, size, train, sampling=sampling, clips=clips, crops=crops,
                            seed=seed, flip=flip, flip_map=flip_map, dense_window=dense_window,
                            cache_frames=cache_frames, substitute=substitute, crop_scale=crop_scale)
