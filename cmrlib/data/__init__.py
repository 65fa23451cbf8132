"""Video data: synthetic benchmarks (``cmrlib.data.synth``), the real datasets' formats
(``cmrlib.data.formats``), the decord clip dataset (``cmrlib.data.dataset``) and its transforms.

    >>> from cmrlib.data import build_dataset, synth
    >>> root = synth.generate("synth-something", "smoke")                # data/smoke/synth-something
    >>> train = build_dataset(root, "train", num_segments=8, size=28, train=True)
    >>> clip, label, issue = train[0]                                      # (8, 3, 28, 28), int, 0
"""
from __future__ import annotations

import time

from cmrlib.data.dataset import ISSUE_CODES, ISSUE_NAMES, VideoClipDataset, build_dataset
from cmrlib.data.formats import AnnotationError

__all__ = ["AnnotationError", "ISSUE_CODES", "ISSUE_NAMES", "VideoClipDataset", "build_dataset",
           "loader_benchmark"]


def loader_benchmark(root, workers=(0, 1, 2), num_segments: int = 8, size: int = 56, batches: int = 20,
                     batch_size: int = 16, split: str = "train", sampling: str = "segments") -> list[dict]:
    """Decoded and transformed training clips per second through a DataLoader, for each worker count.

    The clock starts when the first batch arrives (worker start-up is reported apart as ``startup_s``) and
    stops after ``batches`` more batches."""
    import torch
    from torch.utils.data import DataLoader

    dataset = build_dataset(root, split, num_segments, size, train=True, sampling=sampling)
    results = []
    for count in workers:
        loader = DataLoader(dataset, batch_size=batch_size, shuffle=False, num_workers=count, drop_last=False,
                            sampler=torch.utils.data.RandomSampler(
                                dataset, replacement=True, num_samples=(batches + 1) * batch_size,
                                generator=torch.Generator().manual_seed(0)))
        start = time.perf_counter()
        iterator = iter(loader)
        next(iterator)
        first = time.perf_counter()
        clips = sum(len(batch[0]) for batch in iterator)
        seconds = time.perf_counter() - first
        results.append({"workers": count, "clips": clips, "seconds": round(seconds, 3),
                        "clips_per_s": round(clips / seconds, 1), "startup_s": round(first - start, 3),
                        "num_segments": num_segments, "size": size, "batch_size": batch_size})
    return results
