"""Training configs: the papers' recipe (paper-spec §C), three profiles, and ``resolve``.

A config is one flat JSON-serialisable dict; only the method-specific model options sit in a nested
``model_options`` dict. ``resolve(method, profile, overrides)`` starts from ``RECIPE`` (CMR's recipe for
Something-Something: 50 epochs, lr 0.01 per 64 clips, x0.1 at epochs 30/40/45, SGD momentum 0.9 Nesterov,
weight decay 1e-3, grad-norm clip 20, dropout 0.5), applies the profile, then the overrides, and checks the
result. Every check raises ``ValueError`` naming the offending field.

The profiles change the model size, the input, the epochs and the batch; the optimisation recipe is the
same for every method (lr per 64 clips, scaled linearly to the batch). The smoke and gpu profiles keep the
paper's lr 0.01 and step schedule at 60/80/90 % of the epochs; the cpu profile, which must learn from scratch
in a minute or two of one core, uses lr 0.1 with a one-epoch warm-up and a cosine decay (notes in PROFILES).
All profiles train from scratch: there is no ImageNet here.
"""
from __future__ import annotations

import copy
import json
import math

BENCHMARKS = ("synth-something", "synth-kinetics", "synth-longrange", "synth-physics")

RECIPE = {
    # what is trained
    "method": None,
    "profile": None,
    "benchmark": "synth-something",
    "data": None,               # dataset root; None = data/<data_profile>/<benchmark>, generated on demand
    "data_profile": None,       # which synth profile generates the default data; None = the run's profile
    "data_seed": 0,
    "seed": 0,
    # model (cmrlib.models.build_model)
    "depth": 50,
    "width": 1.0,
    "small_input": False,
    "dropout": 0.5,
    "pretrained": None,
    "model_options": {},        # filled per method from cmrlib.models.OPTIONS
    # clips
    "frames": 8,
    "size": 224,
    "sampling": "auto",         # "segments" (TSN) or "dense"; auto = dense for synth-kinetics, as CMR on K400
    "train_subset": None,       # use only the first N training clips
    "val_subset": None,         # use only the first N validation clips
    # optimisation
    "epochs": 50,
    "batch_size": 64,           # global batch (all processes together)
    "lr": 0.01,                 # per lr_reference_batch clips; the optimiser uses lr * batch_size / 64
    "lr_reference_batch": 64,
    "momentum": 0.9,
    "nesterov": True,
    "weight_decay": 1e-3,
    "clip_grad_norm": 20.0,     # 0 or None disables clipping
    "schedule": "step",         # "step" | "cosine" | "constant"
    "lr_steps": [0.6, 0.8, 0.9],  # fractions of training: 30, 40, 45 of 50 epochs
    "lr_gamma": 0.1,
    "warmup_epochs": 0.0,
    "warmup_start_factor": 0.1,
    "bn": "train",              # "train" | "partial" (TSN partial BN: freeze all but the first) | "frozen"
    "sync_bn": False,           # SyncBatchNorm under DDP (CUDA only)
    # runtime
    "device": "auto",           # "auto" | "cpu" | "cuda" | "cuda:1"
    "amp": "auto",              # auto = on for CUDA
    "channels_last": "auto",    # auto = on for CUDA
    "compile": False,           # torch.compile (CUDA)
    "deterministic": "auto",    # auto = on for CPU; deterministic kernels and seeded everything
    "num_workers": 0,
    "cache_frames": False,      # keep decoded videos in memory after their first read (needs num_workers 0)
    "threads": 0,               # torch.set_num_threads for this run; 0 = torch's default (all cores)
    "eval_batch_size": None,    # None = batch_size
    "val_every": 1,             # validate every N epochs (and always after the last)
    "checkpoint_every": 0,      # also checkpoint every N steps inside an epoch (0 = only at epoch ends)
    "keep_best": False,         # keep checkpoints/best.pt (highest validation top-1)
    # protocols added by the verdicts issue (24); at these defaults every earlier run keeps its key
    "init_from_frames": None,   # start from the same-seed run of this config at that frame count (fine-tuning)
    "test_crop_scale": "full-height",  # 3-crop test views: "full-height" crops of the frames resized to the
                                # crop size (TSM --full_res), or "single-view": crops at the 1-crop view's scale
}

PROFILES = {
    # seconds per run: CI, nbval, the smoke book (32 px smoke videos -> 28 px crops, as 256 -> 224)
    "smoke": {
        "depth": 50, "width": 0.25, "small_input": False, "size": 28, "frames": 8,
        "epochs": 1, "batch_size": 8,
    },
    # the book default, 2-3 minutes of one core per 8-frame run: 64 px videos -> 56 px crops and the
    # ImageNet stem (stage grids 14/7/4/2; the small-input stem's 56/28/14/7 costs 12x more)
    "cpu": {
        "depth": 18,                # ResNet-18 layout: 2.5-3.5x cheaper per clip than R50 and trains from scratch
        "width": 0.25, "small_input": False, "size": 56, "frames": 8,
        "epochs": 20,               # at 12 the curves still rose and late-starting seeds ended 30-40 points lower
        "batch_size": 16,
        "lr": 0.1,                  # shared by all methods; 0.01 per 64 (ImageNet-initialised recipe) is too low from scratch
        "schedule": "cosine", "warmup_epochs": 1.0,  # warm-up then cosine: the step schedule decays too early here
        "threads": 1,               # one core per run: the book trains two runs side by side on a 2-core machine
        "cache_frames": True,       # decode each video once: a third of a step's time was decoding
    },
    # ResNet-50 at full width on one GPU: 128 px videos -> 112 px crops, bfloat16 autocast, channels_last
    "gpu": {
        "depth": 50, "width": 1.0, "small_input": False, "size": 112, "frames": 8,
        "epochs": 20, "batch_size": 64, "num_workers": 12,
    },
}
# The powered protocol (issue "Powered verdicts"): the cpu recipe, but every method starts from the fractal-
# pretrained backbone (the papers' ImageNet start), validation on 1,536 clips per benchmark (binomial std at most
# 1.0 point at 80 %) every 4 epochs. Its runs accumulate in runs/cpu-powered/ until the grid is complete; then
# it becomes the book's default profile.
PROFILES["cpu-powered"] = {**PROFILES["cpu"], "pretrained": "fractals", "val_every": 4}
# The reviewed protocol (issues 24-26): cpu-powered's recipe on cpu-powered's clips, with the test protocols a
# reviewer accepts. 3 crops at the single-view scale: the generated frames are square, so full-height crops of a
# 64 x 64 frame are one identical view; at the 1-crop view's scale (shorter side 64, crops of 56 at the left,
# middle and right, TSM's GroupFullResSample without --full_res) they are three different views, as the paper's
# left/middle/right crops are on real, wider-than-high frames. 16-frame runs are fine-tuned from the same-seed
# 8-frame run (FINETUNE): from the fractal start, TIM, TIM+CME and CMR stay at the frame-order-blind solution
# at 16 frames within the 8-frame budget (issue 24), while the 8-frame run fine-tuned at 16 frames does not.
PROFILES["cpu-final"] = {**PROFILES["cpu-powered"], "data_profile": "cpu-powered", "test_crop_scale": "single-view"}

#: Profiles whose runs the book commits: the trainer refuses to train them from a dirty tree (issue 25).
BOOK_PROFILES = ("cpu", "cpu-powered", "cpu-final", "gpu")

#: How a longer-clip run of a profile whose plan sets ``long_protocol="finetune"`` is trained: from the same-seed
#: run at ``init_from_frames`` frames, for ``epochs`` more epochs at one tenth of the profile's lr, cosine, no
#: warm-up (declared before the runs it produces were trained).
FINETUNE = {"init_from_frames": 8, "epochs": 5, "lr": 0.01, "warmup_epochs": 0.0}
#: The fields FINETUNE replaces; the parent run has the profile's values of them.
FINETUNE_FIELDS = ("init_from_frames", "epochs", "lr", "warmup_epochs")

# The ImageNet stand-in's recipe (cmrlib.pretrain), shared by every backbone shape: 64 fractal classes x 64
# instances (1/8 held out for the curves), random crops to the run's size and flips, SGD with a cosine schedule.
PRETRAINING = {"classes": 64, "instances": 64, "holdout": 8, "epochs": 12, "batch_size": 64, "lr": 0.1,
               "momentum": 0.9, "weight_decay": 1e-4, "seed": 0}
NAMED_PRETRAINING = ("fractals",)


def pretraining(config: dict) -> dict:
    """The pretraining config behind ``pretrained="fractals"``: the run's backbone shape and crop size, the
    drawing size (the shorter side the video transforms resize to: 64 for a 56 crop) and PRETRAINING."""
    shape = {name: config[name] for name in ("depth", "width", "small_input", "size")}
    return {**shape, "image_size": int(round(config["size"] * 256 / 224)), **PRETRAINING}


MODEL_OPTION_CHOICES = {
    "cme": ("all", "part", "none"),
    "sme": ("all", "part", "none"),
    "variant": ("paper", "released"),
}

CHOICES = {
    "benchmark": BENCHMARKS,
    "sampling": ("auto", "segments", "dense"),
    "schedule": ("step", "cosine", "constant"),
    "bn": ("train", "partial", "frozen"),
    "amp": ("auto", True, False),
    "channels_last": ("auto", True, False),
    "deterministic": ("auto", True, False),
    "test_crop_scale": ("full-height", "single-view"),
}
POSITIVE_INTS = ("frames", "size", "epochs", "batch_size", "lr_reference_batch", "val_every", "depth")


def methods() -> dict:
    from cmrlib.models import METHODS

    return METHODS


def model_options_table() -> dict:
    """method -> the options its builder takes, with their defaults (cmrlib.models.OPTIONS)."""
    from cmrlib.models import OPTIONS

    return OPTIONS


def default_model_options(method: str) -> dict:
    return dict(model_options_table().get(method, {}))


def parse_value(text: str):
    """CLI value: JSON first (ints, floats, true/false/null, lists, dicts), Python spellings, else a string."""
    aliases = {"True": True, "False": False, "None": None}
    if text in aliases:
        return aliases[text]
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def parse_overrides(items) -> dict:
    """``["lr=0.1", "r=4"]`` -> ``{"lr": 0.1, "r": 4}``."""
    overrides = {}
    for item in items:
        name, sep, text = item.partition("=")
        if not sep or not name:
            raise ValueError(f"override {item!r}: expected key=value")
        overrides[name.strip()] = parse_value(text.strip())
    return overrides


NULLABLE = ("clip_grad_norm",)


def _coerce(name: str, value):
    """Check an override against its field: a listed choice, or the type of the recipe's default
    (an int is accepted for a float; None only where the default is None or the field is NULLABLE)."""
    default = RECIPE[name]
    if name in CHOICES:
        if value not in CHOICES[name]:
            raise ValueError(f"config field {name!r}: {value!r} is not one of {list(CHOICES[name])}")
        return value
    if default is None or (value is None and name in NULLABLE):
        return value
    if isinstance(default, float) and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if type(value) is not type(default):
        raise ValueError(f"config field {name!r} must be {type(default).__name__} (got {value!r})")
    return value


def resolve(method: str, profile: str = "cpu", overrides: dict | None = None, validate: bool = True) -> dict:
    """The fully resolved config of one run (JSON-serialisable). Raises ValueError on any bad field."""
    all_methods = methods()
    if method not in all_methods:
        raise ValueError(f"unknown method {method!r}; choose from {sorted(all_methods)}")
    if profile not in PROFILES:
        raise ValueError(f"unknown profile {profile!r}; choose from {sorted(PROFILES)}")
    overrides = dict(overrides or {})
    for name, given in (("method", method), ("profile", profile)):
        if name in overrides and overrides.pop(name) != given:
            raise ValueError(f"config field {name!r} is set by the {name} argument, not by an override")

    config = copy.deepcopy(RECIPE)
    config.update(copy.deepcopy(PROFILES[profile]))
    config["method"], config["profile"] = method, profile
    options = default_model_options(method)
    options.update(overrides.pop("model_options", None) or {})

    known_option_names = {name for table in model_options_table().values() for name in table}
    for name, value in overrides.items():
        if name in RECIPE:
            config[name] = _coerce(name, value)
        elif name in known_option_names:
            options[name] = value
        else:
            raise ValueError(f"unknown config field {name!r}; known fields: {sorted(RECIPE)} "
                             f"and model options {sorted(known_option_names)}")
    defaults = default_model_options(method)
    for name, value in options.items():
        if name not in defaults:
            raise ValueError(f"model option {name!r} does not apply to method {method!r}"
                             f" (it takes {sorted(defaults) or 'no options'})")
        if name in MODEL_OPTION_CHOICES and value not in MODEL_OPTION_CHOICES[name]:
            raise ValueError(f"model option {name!r}: {value!r} is not one of {list(MODEL_OPTION_CHOICES[name])}")
        if type(value) is not type(defaults[name]):
            raise ValueError(f"model option {name!r} must be {type(defaults[name]).__name__} (got {value!r})")
    config["model_options"] = options

    if config["data_profile"] is None:
        config["data_profile"] = profile
    if config["data_profile"] not in PROFILES:
        raise ValueError(f"config field 'data_profile': unknown profile {config['data_profile']!r}")
    _check(config)
    if config["data"] is not None:
        _from_data(config, explicit_benchmark="benchmark" in overrides)
    if config["sampling"] == "auto":
        config["sampling"] = "dense" if config["benchmark"] in ("synth-kinetics", "kinetics") else "segments"
    if validate:
        check_model(config)
    return config


def _from_data(config: dict, explicit_benchmark: bool) -> None:
    """A given dataset folder: stored absolute (so that evaluation finds it from any folder), and it names the
    run's benchmark (its meta.json's, else its format: kinetics, ssv2, ssv1, tsm) unless one was set, which
    also chooses the default sampling (dense for Kinetics) and the default run folder."""
    from pathlib import Path

    root = Path(config["data"]).expanduser().resolve()
    config["data"] = str(root)
    if explicit_benchmark or not root.exists():
        return
    from cmrlib.data.formats import detect_format, read_json

    fmt = detect_format(root)
    meta = read_json(root / "meta.json") if root.is_dir() and (root / "meta.json").is_file() else {}
    benchmark = meta.get("benchmark") if isinstance(meta, dict) else None
    config["benchmark"] = benchmark if benchmark in BENCHMARKS else fmt


def _check(config: dict) -> None:
    for name in POSITIVE_INTS:
        if not isinstance(config[name], int) or config[name] < 1:
            raise ValueError(f"config field {name!r} must be a positive integer (got {config[name]!r})")
    if config["method"] != "tsn" and config["frames"] < 2:
        raise ValueError(f"config field 'frames': method {config['method']!r} is temporal and needs frames >= 2"
                         f" (got {config['frames']})")
    for name in ("lr", "width"):
        if not config[name] > 0:
            raise ValueError(f"config field {name!r} must be > 0 (got {config[name]!r})")
    if not 0 <= config["dropout"] < 1:
        raise ValueError(f"config field 'dropout' must be in [0, 1) (got {config['dropout']!r})")
    steps = config["lr_steps"]
    if not isinstance(steps, list) or any(not isinstance(s, (int, float)) or not 0 < s < 1 for s in steps) \
            or steps != sorted(steps):
        raise ValueError(f"config field 'lr_steps' must be increasing fractions of training in (0, 1) (got {steps!r})")
    if not 0 <= config["warmup_epochs"] < config["epochs"]:
        raise ValueError(f"config field 'warmup_epochs' must be in [0, epochs) (got {config['warmup_epochs']!r})")
    for name in ("train_subset", "val_subset", "eval_batch_size"):
        value = config[name]
        if value is not None and (not isinstance(value, int) or value < 1):
            raise ValueError(f"config field {name!r} must be a positive integer or null (got {value!r})")
    for name in ("num_workers", "threads"):
        if not isinstance(config[name], int) or config[name] < 0:
            raise ValueError(f"config field {name!r} must be an integer >= 0 (got {config[name]!r})")
    if config["cache_frames"] and config["num_workers"]:
        raise ValueError("config field 'cache_frames' needs num_workers 0 (a worker's cache ends with its epoch)")
    for name in ("data", "pretrained"):
        if config[name] is not None and not isinstance(config[name], str):  # pretrained: a path or "fractals"
            raise ValueError(f"config field {name!r} must be a path (got {config[name]!r})")
    clip = config["clip_grad_norm"]
    if clip is not None and (not isinstance(clip, float) or clip < 0):
        raise ValueError(f"config field 'clip_grad_norm' must be >= 0 or null (got {clip!r})")
    start = config["init_from_frames"]
    if start is not None and (not isinstance(start, int) or start < 1 or start == config["frames"]):
        raise ValueError(f"config field 'init_from_frames' must be null or a frame count other than frames "
                         f"(got {start!r})")
    if config["depth"] not in (18, 34, 50):
        raise ValueError(f"config field 'depth' must be 18, 34 or 50 (got {config['depth']})")


def parent_config(config: dict) -> dict | None:
    """The run a fine-tuned run starts from (``init_from_frames``): the same config at that frame count, with
    the profile's values of FINETUNE_FIELDS. None for a run that does not start from another run."""
    if config.get("init_from_frames") is None:
        return None
    profile = resolve(config["method"], config["profile"], validate=False)
    parent = {**copy.deepcopy(config), "frames": config["init_from_frames"]}
    parent.update({name: profile[name] for name in FINETUNE_FIELDS})
    return parent


def model_kwargs(config: dict, num_classes: int) -> dict:
    """Keyword arguments of ``cmrlib.models.build_model`` for this config, less ``pretrained``
    (``cmrlib.checkpoint.build_model`` resolves and loads it)."""
    return dict(method=config["method"], num_classes=num_classes, num_segments=config["frames"],
                depth=config["depth"], width=config["width"], small_input=config["small_input"],
                dropout=config["dropout"], **config["model_options"])


def check_model(config: dict, num_classes: int = 10) -> None:
    """Build the model once so that bad model options (r that does not divide the channels, ...) fail here
    with a ValueError naming the option instead of a traceback from deep inside torch."""
    from cmrlib.models import build_model

    options = "".join(f", {name}={value}" for name, value in config["model_options"].items())
    settings = f"method {config['method']!r} (depth={config['depth']}, width={config['width']}{options})"
    try:
        build_model(**model_kwargs(config, num_classes))
    except ValueError as error:
        raise ValueError(f"{settings}: {error}") from None
    except Exception as error:  # an error from inside torch: name the settings that caused it
        raise ValueError(f"cannot build {settings}: {type(error).__name__}: {error}") from None


def lr_factor(config: dict, progress: float) -> float:
    """Multiplier of the base lr after ``progress`` epochs of training (a float; updated every step).

    step: x lr_gamma at each fraction in lr_steps (CMR: x0.1 at 30, 40, 45 of 50 epochs); cosine: half a
    cosine from 1 to 0 after the warm-up; constant: 1. A linear warm-up from warmup_start_factor to 1 over
    warmup_epochs comes first when warmup_epochs > 0.
    """
    epochs, warmup = config["epochs"], config["warmup_epochs"]
    if warmup > 0 and progress < warmup:
        start = config["warmup_start_factor"]
        return start + (1.0 - start) * progress / warmup
    if config["schedule"] == "step":
        passed = sum(progress >= fraction * epochs - 1e-9 for fraction in config["lr_steps"])
        return config["lr_gamma"] ** passed
    if config["schedule"] == "cosine":
        fraction = min(1.0, (progress - warmup) / max(epochs - warmup, 1e-12))
        return 0.5 * (1.0 + math.cos(math.pi * fraction))
    return 1.0


def base_lr(config: dict) -> float:
    """The recipe's linear scaling: lr x global batch / 64."""
    return config["lr"] * config["batch_size"] / config["lr_reference_batch"]
