"""Speed benchmarks: ``python -m cmrlib bench model | pem-scaling | data``.

bench runtime      claims 5-7 at R50 8 x 224: every model once per round for at least 15 rounds (order rotated),
                   per-round ratios to TSM and their 95 % intervals, in one keyed, committed file
                   (cmrlib.bench.runtime; its readers feed Table 7's page and the claims)
bench model        CMR Table 7's protocol: latency (ms) at batch 1 and throughput (videos/s) at batch 8, in
                   inference mode, after a warm-up, as the median of repeated timings, with the ratio to TSM
                   beside each model. ``--train-step`` times one training step (forward, backward, SGD) instead.
bench pem-scaling  the PEM stand-in (serial over T) against CME (parallel over T) as T grows, module and model.
bench data         decoded + transformed clips/s of the data loader per worker count, against the clips/s that
                   training the ``cpu`` profile's model consumes.

Shared machines are noisy, so every figure that matters is a ratio of timings taken in one run: the models
are timed round-robin (one timing of each model per round, in a rotating order) and the median over rounds
is kept. On the CPU each timing also records the process CPU time; with ``--threads 1`` on a busy machine the
CPU-time ratios (``--clock cpu``) are far steadier than the wall-clock ones. On the CPU, freed memory is
kept for reuse while timing (``heap_cache``), as PyTorch's CUDA allocator does on a GPU.

    >>> rows = model_benchmark(["tsm", "cmr"], device="cpu", repeats=3)        # R50, 8 x 224
    >>> [(r["label"], r["latency_ms"], r["latency_vs_tsm"]) for r in rows]
"""


from cmrlib.bench import runtime
from cmrlib.bench.cli import format_models, main
from cmrlib.bench.profiling import breakdown, count_ops, format_breakdown, trace
from cmrlib.bench.scaling import data_benchmark, pem_scaling
from cmrlib.bench.timing import (NAMED, R50_224, SHAPE_FIELDS, TABLE5, TABLE7, BenchConfig, Clock, TrainStep,
                                 add_ratios, build, gflops, hardware, heap_cache, model_benchmark, parse_config,
                                 parse_configs, profile_shape, repeat_rows, threads_set, train_clips_per_s)
