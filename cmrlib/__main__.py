"""Command line: ``python -m cmrlib <command> [options]``.

Each command lives in its own module and exposes ``main(argv) -> int``.
"""
import importlib
import sys

COMMANDS = {
    "flops": ("cmrlib.flops", "FLOPs (multiply-adds) and parameters of every method"),
    "synth": ("cmrlib.data.synth", "generate a synthetic benchmark as real .mp4 files"),
    "check-data": ("cmrlib.data.check", "validate a dataset folder and print a report"),
    "pretrain": ("cmrlib.pretrain", "pretrain the 2D backbone on fractal images (the ImageNet stand-in)"),
    "train": ("cmrlib.train", "train one model (works under torchrun for DDP)"),
    "runs": ("cmrlib.grid", "train a profile's missing runs, N side by side (--list: what is missing)"),
    "eval": ("cmrlib.evaluate", "evaluate a trained run (1-view or N-clip x 3-crop)"),
    "predict": ("cmrlib.predict", "top-5 classes of your own videos (and a Figure 5 picture with --explain)"),
    "convert": ("cmrlib.convert", "convert a checkpoint of the authors' code (CMR, TSM, TEA) to cmrlib's"),
    "bench": ("cmrlib.bench", "benchmarks: 'bench runtime' (claims 5-7, R50 rounds), 'bench model', 'bench data'"),
    "gpu-check": ("cmrlib.gpu_check", "GPU readiness: CUDA training steps, Table 7 on the GPU, targets (--dry-run: CPU)"),
    "verify": ("cmrlib.verify", "re-make committed runs in a scratch folder and compare them with their files"),
    "export-weights": ("cmrlib.verify:export_main", "write a run's final weights in float16 (to commit them)"),
    "book": ("cmrlib.book", "run the book's notebooks with papermill and build the HTML"),
}


def usage() -> str:
    lines = ["usage: python -m cmrlib <command> [options]", "", "commands:"]
    lines += [f"  {name:<11} {text}" for name, (_, text) in COMMANDS.items()]
    return "\n".join(lines)


def main(argv=None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help"):
        print(usage())
        return 0
    name, rest = argv[0], argv[1:]
    if name not in COMMANDS:
        print(f"cmrlib: unknown command {name!r}\n\n{usage()}", file=sys.stderr)
        return 2
    module_name, _, function = COMMANDS[name][0].partition(":")
    module = importlib.import_module(module_name)
    return int(getattr(module, function or "main")(rest) or 0)


if __name__ == "__main__":
    sys.exit(main())
