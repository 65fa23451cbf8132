"""Run folders: atomic writes, provenance, locks and the run key.

The run key hashes the resolved config, the declared ``TRAINING_VERSION`` and, for generated data, the
synthetic dataset's fingerprint (``cmrlib.data.synth.fingerprint``: the benchmark's generator version, the
profile's sizes and the seed). It hashes behaviour, not source bytes: a change that moves the numbers bumps a
version (the golden tests say when), and every other change keeps the cached runs valid.

A run lives in ``runs/<profile>/<benchmark>/<run-id>/`` and holds ``config.json``, ``metrics.jsonl``,
``final.json``, ``eval_*.json`` and ``checkpoints/`` (git-ignored). Every file is written to a temporary
name in the same folder and moved into place with ``os.replace``, so a run killed at any moment leaves
either the old file or the new one, never half of one.
"""
from __future__ import annotations

import contextlib
import datetime
import hashlib
import json
import os
import platform
import socket
import subprocess
import tempfile
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent


# Config fields that change where or how fast a run executes, not what it computes.
KEY_IGNORED_FIELDS = ("num_workers", "threads", "eval_batch_size", "checkpoint_every")

# What config.json records beside the config itself.
RECORD_FIELDS = ("provenance", "run_key", "data_digest", "init_from")

# Config fields and model options added after runs were committed, with the default that reproduces the
# behaviour from before them: at that default they are left out of the key, so adding them keeps every run
# valid. ("field", default) for config fields, ("method.option", default) for model options.
KEY_ADDED_AT_DEFAULT: dict[str, object] = {
    "tea.variant": "paper",  # TEA as in the paper; "released" is the official code (issue 16)
    "init_from_frames": None,         # issue 24: 16-frame runs fine-tuned from the 8-frame run
    "test_crop_scale": "full-height",  # issue 24: where the 3 test crops are taken
}


_UMASK = os.umask(0)
os.umask(_UMASK)


def project_root() -> Path:
    """The folder that holds ``runs/`` and ``data/``: ``$CMR_ROOT``, else the repository root."""
    return Path(os.environ.get("CMR_ROOT", PACKAGE_DIR.parent)).resolve()


class WriteFailed(OSError):
    """A file of a run could not be written (disk full, no permission); the message names it, and the file it
    would have replaced is kept."""

    def __init__(self, path, error: BaseException):
        reason = getattr(error, "strerror", None) or "the write failed (is the disk full?)"
        self.message = f"cannot write {path}: {reason}; the file it would replace is kept"
        super().__init__(getattr(error, "errno", None), self.message, str(path))

    def __str__(self) -> str:
        return self.message


def _write_failure(error: BaseException) -> bool:
    """An OSError, or torch.save's RuntimeError for a failed write ("enforce fail at inline_container.cc")."""
    return isinstance(error, OSError) or (isinstance(error, RuntimeError) and any(
        text in str(error) for text in ("inline_container", "PytorchStreamWriter", "write failed")))


def _atomic_write_bytes(path: Path, write) -> None:
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as error:
        raise WriteFailed(path, error) from None
    try:
        os.chmod(tmp, 0o666 & ~_UMASK)  # mkstemp makes 0600; give the file the usual permissions
        with os.fdopen(fd, "wb") as handle:
            write(handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException as error:
        if os.path.exists(tmp):
            os.unlink(tmp)
        if _write_failure(error) and not isinstance(error, WriteFailed):
            raise WriteFailed(path, error) from None
        raise


def output_file(path, option: str, create: bool = False) -> Path:
    """Check a file path the user asked to write (``option`` names the argument): one ValueError line when it
    ends in '/', is a directory, sits in a missing folder (created only with ``create``, never silently
    otherwise) or in one that cannot be written."""
    text = str(path)
    if text.endswith(("/", os.sep)):
        raise ValueError(f"{option} {text!r} ends in '/': give a file name")
    path = Path(path)
    if path.is_dir():
        raise ValueError(f"{option} {path} is a directory: give a file name")
    parent = path.parent
    if create and not parent.exists():
        try:
            parent.mkdir(parents=True)
        except OSError as error:
            raise ValueError(f"{option} {path}: cannot create the folder {parent} ({error.strerror})") from None
    if not parent.is_dir():
        what = "is not a folder" if parent.exists() else "does not exist (create it first)"
        raise ValueError(f"{option} {path}: the folder {parent} {what}")
    if not os.access(parent, os.W_OK | os.X_OK) or (path.exists() and not os.access(path, os.W_OK)):
        raise ValueError(f"{option} {path}: cannot write there (permission denied)")
    return path


def atomic_write_text(path, text: str) -> None:
    _atomic_write_bytes(Path(path), lambda handle: handle.write(text.encode("utf-8")))


def atomic_write_json(path, obj) -> None:
    atomic_write_text(path, json.dumps(obj, indent=2, sort_keys=True, allow_nan=True) + "\n")


def atomic_write_jsonl(path, rows) -> None:
    atomic_write_text(path, "".join(json.dumps(row, sort_keys=True) + "\n" for row in rows))


def atomic_save(obj, path) -> None:
    """``torch.save`` to a temporary file, then ``os.replace``: a checkpoint is whole or absent."""
    import torch

    _atomic_write_bytes(Path(path), lambda handle: torch.save(obj, handle))


def read_json(path):
    """A JSON file of a run; a damaged one (not JSON, not UTF-8, a directory) raises ValueError naming it."""
    try:
        with open(path, encoding="utf-8") as handle:
            return json.load(handle)
    except (ValueError, IsADirectoryError, PermissionError) as error:
        raise ValueError(f"{path} cannot be read as JSON ({_reason(error)})") from None


def read_jsonl(path) -> list:
    """The rows of a JSON-lines file; a damaged line raises ValueError naming the file and line."""
    rows = []
    try:
        with open(path, encoding="utf-8") as handle:
            for number, line in enumerate(handle, 1):
                if line.strip():
                    try:
                        rows.append(json.loads(line))
                    except ValueError as error:
                        raise ValueError(f"{path}:{number}: not a JSON row ({_reason(error)})") from None
    except (UnicodeDecodeError, IsADirectoryError, PermissionError) as error:
        raise ValueError(f"{path} cannot be read as JSON lines ({_reason(error)})") from None
    return rows


def _reason(error: Exception) -> str:
    if isinstance(error, json.JSONDecodeError):
        return f"{error.msg} at line {error.lineno}"
    if isinstance(error, UnicodeDecodeError):
        return "not UTF-8"
    return getattr(error, "strerror", None) or str(error) or type(error).__name__


def load_run_config(run_dir: Path) -> dict:
    """A run folder's config (config.json less its run key and provenance)."""
    path = Path(run_dir) / "config.json"
    if not path.exists():
        raise ValueError(f"{run_dir} is not a run folder (no config.json)")
    record = read_json(path)
    return {name: value for name, value in record.items() if name not in RECORD_FIELDS}


@contextlib.contextmanager
def locked(name: str):
    """An exclusive lock across processes (the book executes notebooks side by side): two notebooks that
    need the same missing run train it once; the second waits and then reuses it."""
    import fcntl

    path = project_root() / "_build" / "locks" / f"{name.replace('/', '_')}.lock"
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


LOCK_NAME = "train.lock"


@contextlib.contextmanager
def run_lock(run_dir):
    """Hold ``run_dir/train.lock`` (an exclusive ``fcntl`` lock, with the holder's pid in it) while a process
    trains in the folder; a second process is refused at once with a ValueError naming the folder and the
    holder. The file is removed when the lock is released (a process killed with -9 releases it too)."""
    import fcntl

    path = Path(run_dir) / LOCK_NAME
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise WriteFailed(path, error) from None
    while True:
        try:
            handle = open(path, "a+")
        except OSError as error:
            raise WriteFailed(path, error) from None
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "?"
            handle.close()
            raise ValueError(f"{run_dir} is in use: another train process (pid {holder}) holds {path}; wait "
                             f"for it to end, or choose another --out") from None
        try:  # the holder may have removed the file between our open and our lock: lock the new one
            same = os.path.samestat(os.fstat(handle.fileno()), os.stat(path))
        except FileNotFoundError:
            same = False
        if same:
            break
        handle.close()
    handle.seek(0)
    handle.truncate()
    handle.write(f"{os.getpid()}\n")
    handle.flush()
    try:
        yield path
    finally:
        with contextlib.suppress(OSError):
            os.unlink(path)
        handle.close()


def _git(*args) -> str | None:
    try:
        result = subprocess.run(["git", *args], cwd=PACKAGE_DIR, capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return None
    return result.stdout.strip() if result.returncode == 0 else None


#: What decides what a run computes, for "trained from a committed tree": the package and the pinned environment
#: (run folders, notebooks and logs change while runs train and are not code).
CODE_PATHS = ("cmrlib", "pyproject.toml", "constraints.txt")


def git_dirty() -> bool | None:
    """Whether the tracked code (CODE_PATHS) differs from HEAD (None outside a git checkout)."""
    status = _git("status", "--porcelain", "--untracked-files=no", "--", *CODE_PATHS)
    return None if status is None else bool(status)


def git_diff() -> str:
    """The uncommitted changes to the tracked code (CODE_PATHS), as a patch against HEAD."""
    return (_git("diff", "HEAD", "--", *CODE_PATHS) or "") + "\n"


def file_sha1(path) -> str:
    digest = hashlib.sha1()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def data_digest(root) -> str | None:
    """A generated dataset's fingerprint: sha1 over its manifest's clips (id, split, label and the sha1 of each
    encoded file), so a run records exactly which clips it saw. None for a folder without a manifest.json
    (a user's dataset: identified by its path in the config)."""
    path = Path(root) / "manifest.json"
    if not path.is_file():
        return None
    clips = read_json(path).get("clips", {})
    rows = sorted((str(i), c.get("split"), c.get("label"), c.get("sha1")) for i, c in clips.items())
    return hashlib.sha1(json.dumps(rows).encode()).hexdigest()


NUMERIC_ENV_VARS = ("ATEN_CPU_CAPABILITY", "ONEDNN_MAX_CPU_ISA", "MKL_CBWR", "MKL_ENABLE_INSTRUCTIONS",
                    "OMP_NUM_THREADS")
CPU_FLAGS = ("avx2", "fma", "avx512f", "avx512_bf16", "avx512_vnni", "amx_tile")


def cpu_signature() -> dict:
    """What decides the floating-point results of CPU kernels: the CPU (model, family, vector extensions), the
    kernel paths torch picks (ATen's capability, the MKL and oneDNN builds) and the variables that override them.
    Runs of the gated methods (CME, PEM, ME, MEM: pooled -> linear -> sigmoid) re-make bit for bit only on the
    same signature (runs/explore/2026-12-07-divergence/FINDINGS.md)."""
    import re

    import torch

    info = {}
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            key, _, value = line.partition(":")
            info.setdefault(key.strip(), value.strip())
    except OSError:
        pass
    config = torch.__config__.show()
    mkl = re.search(r"Math Kernel Library Version ([^\s]+)", config)
    onednn = re.search(r"MKL-DNN (v[0-9.]+)", config)
    return {"cpu": info.get("model name", platform.processor() or "unknown"),
            "family_model": f"{info.get('cpu family', '?')}/{info.get('model', '?')}",
            "flags": [flag for flag in CPU_FLAGS if flag in info.get("flags", "").split()],
            "aten_capability": torch.backends.cpu.get_cpu_capability(),
            "mkl": mkl.group(1) if mkl else None, "onednn": onednn.group(1) if onednn else None,
            "env": {name: os.environ[name] for name in NUMERIC_ENV_VARS if name in os.environ}}


def tree_state() -> tuple:
    """(git object ids of the committed code, CODE_PATHS at HEAD; dirty; sha1 of the uncommitted diff) of the
    code on disk. A commit that changes no code (a finished run, a notebook) leaves it unchanged."""
    dirty = git_dirty()
    code = _git("rev-parse", *(f"HEAD:{path}" for path in CODE_PATHS))
    return code, dirty, hashlib.sha1(git_diff().encode()).hexdigest()[:12] if dirty else None


#: The tree state when this process loaded cmrlib: a long-lived process keeps the code it loaded, so a run it
#: trains must not record a later state of the tree as its code (``cmrlib.train`` refuses when they differ).
LOADED_TREE = tree_state()


def check_tree(config: dict, out_dir, allow_dirty: bool, write_diff: bool = True) -> None:
    """Refuse a book-profile run (``config.BOOK_PROFILES``) from uncommitted code or from code that changed on
    disk since this process loaded it; with ``allow_dirty``, keep the diff beside the run instead."""
    from cmrlib.config import BOOK_PROFILES

    if config["profile"] not in BOOK_PROFILES:
        return
    now = tree_state()
    if now != LOADED_TREE:
        def text(state):
            return f"code {str(state[0]).split()[0][:10] if state[0] else None}{'+dirty' if state[1] else ''}"
        raise ValueError(f"the code on disk changed since this process loaded it ({text(LOADED_TREE)} -> {text(now)}); "
                         f"start a new process to train profile {config['profile']!r}")
    if not now[1]:
        return
    if not allow_dirty:
        raise ValueError(f"profile {config['profile']!r} is a book profile and the git tree has uncommitted changes "
                         f"to tracked files: commit them first (or pass --allow-dirty to keep the diff in the run)")
    if write_diff:
        atomic_write_text(Path(out_dir) / "uncommitted.diff", git_diff())


def provenance(device: str | None = None) -> dict:
    """Where and with what a run was made: git commit and dirty flag, versions, device, host, UTC time."""
    import torch

    status = _git("status", "--porcelain", "--untracked-files=no", "--", *CODE_PATHS)
    if device is None:
        device = "cuda" if torch.cuda.is_available() else "cpu"
    device_name = torch.cuda.get_device_name(0) if device.startswith("cuda") else (platform.processor() or "cpu")
    return {
        "git_commit": _git("rev-parse", "HEAD"),
        "git_dirty": None if status is None else bool(status),
        "training_version": TRAINING_VERSION,
        "torch_version": torch.__version__,
        "python_version": platform.python_version(),
        "device": device,
        "device_name": device_name,
        "cpu_threads": torch.get_num_threads(),
        "cpu_signature": cpu_signature(),
        "hostname": socket.gethostname(),
        "utc_time": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
    }


# What a training run computes, declared: bump TRAINING_VERSION whenever a change to the model, the data
# pipeline, the trainer or the config's meaning changes the numbers of a run with an unchanged config. The
# golden tests (tests/test_golden.py) fail until it is bumped and the goldens are re-recorded. A refactor, a
# comment or a speed-up that leaves the numbers alone keeps every committed run valid. The synthetic data
# generators carry their own versions (cmrlib.data.synth.GENERATOR_VERSIONS).
TRAINING_VERSION = 1


def data_fingerprint(config: dict) -> str:
    """The generated dataset's fingerprint when ``config['data']`` is None (data/<data_profile>/<benchmark>),
    else "" (a given folder is identified by its path, which is part of the config)."""
    if config.get("data") is not None:
        return ""
    from cmrlib.data import synth

    return synth.fingerprint(config["benchmark"], config.get("data_profile") or config["profile"],
                             config.get("data_seed", 0))


def pretraining_key(pretraining: dict) -> str:
    """A 16-hex-digit key of a pretraining config (``cmrlib.config.pretraining``) and TRAINING_VERSION."""
    text = json.dumps(pretraining, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(f"{text}\ntraining-v{TRAINING_VERSION}".encode()).hexdigest()[:16]


def run_key(config: dict) -> str:
    """A 16-hex-digit key of the resolved config (less the fields in KEY_IGNORED_FIELDS and the added fields at
    their old behaviour, KEY_ADDED_AT_DEFAULT), TRAINING_VERSION and the generated data's fingerprint (its
    generator's version, profile and seed). No source bytes enter it."""
    kept = {name: value for name, value in config.items() if name not in KEY_IGNORED_FIELDS
            and not (name in KEY_ADDED_AT_DEFAULT and value == KEY_ADDED_AT_DEFAULT[name])}
    if isinstance(kept.get("model_options"), dict):
        added = {name.split(".", 1)[1]: default for name, default in KEY_ADDED_AT_DEFAULT.items()
                 if name.startswith(f"{config.get('method')}.")}
        kept["model_options"] = {name: value for name, value in kept["model_options"].items()
                                 if not (name in added and value == added[name])}
    text = json.dumps(kept, sort_keys=True, separators=(",", ":"))
    versioned = f"{text}\ntraining-v{TRAINING_VERSION}\n{data_fingerprint(config)}"
    if config.get("pretrained") is not None:  # a named stand-in enters with its pretraining's key
        from cmrlib.config import NAMED_PRETRAINING, pretraining

        if config["pretrained"] in NAMED_PRETRAINING:
            versioned += f"\npretrained-{pretraining_key(pretraining(config))}"
    return hashlib.sha256(versioned.encode()).hexdigest()[:16]


def variant_tag(config: dict) -> str:
    """Short text for the model options that differ from the method's defaults, or ``default``."""
    from cmrlib.config import default_model_options

    defaults = default_model_options(config["method"])
    changed = [f"{name}{value}" for name, value in sorted(config["model_options"].items())
               if defaults.get(name) != value]
    tag = "-".join(changed) if changed else "default"
    return "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in tag)


def run_id(config: dict) -> str:
    """``<method>-<variant tag>-T<frames>-s<seed>-<first 8 digits of run_key>``."""
    return f"{config['method']}-{variant_tag(config)}-T{config['frames']}-s{config['seed']}-{run_key(config)[:8]}"


def default_run_dir(config: dict) -> Path:
    return project_root() / "runs" / config["profile"] / config["benchmark"] / run_id(config)
