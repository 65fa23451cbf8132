"""Broken input and faults, built on the fly (issue 15): nothing crashes mid-epoch, nothing is lost, and
evaluation never scores a clip other than the one listed.

Each test names the case of the issue it covers. The datasets are tiny (a few 10-frame 32 px clips) and the
runs use the smoke model at 4 frames, so a training run takes a few seconds.
"""
import errno
import json
import logging
import os
import tempfile
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from cmrlib import checkpoint as checkpointlib
from cmrlib import evaluate as evallib
from cmrlib import runs
from cmrlib import train as trainlib
from cmrlib.config import resolve
from cmrlib.data import ISSUE_CODES, AnnotationError, build_dataset, check, synth
from cmrlib.data import dataset as datasetlib

torch.set_num_threads(1)
T, CROP, FRAMES = 4, 28, 10
CLASSES = ["Holding something", "Moving something up"]
FAST = {"frames": T, "epochs": 1, "batch_size": 2, "threads": 1}
TIMING = ("clips_per_s", "train_time_s", "val_time_s", "wall_time_s")


@pytest.fixture
def workdir():
    with tempfile.TemporaryDirectory(prefix="cmr-bad-input-") as folder:
        yield Path(folder)


def frames_of(seed: int, num_frames: int = FRAMES) -> np.ndarray:
    return synth.render_clip("synth-something", seed % 16, seed, num_frames, 32)[0]


def write_mp4(path: Path, seed: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(synth.encode_mp4(frames_of(seed), 12))


def ssv2_root(root: Path, train=4, val=2, bad_val=(), extra_train=()) -> Path:
    """A Something-Something V2 root: ``train`` and ``val`` good clips (labels alternate), the val ids in
    ``bad_val`` written as garbage, ``extra_train`` entries (id, template) appended without a video."""
    (root / "labels.json").parent.mkdir(parents=True, exist_ok=True)
    (root / "labels.json").write_text(json.dumps({name: str(i) for i, name in enumerate(CLASSES)}))
    entries = {"train": [], "validation": []}
    for split, count in (("train", train), ("validation", val)):
        for i in range(count):
            clip_id = f"{split[0]}{i}"
            if clip_id in bad_val:
                (root / "videos").mkdir(exist_ok=True)
                (root / "videos" / f"{clip_id}.mp4").write_bytes(b"not a video at all" * 10)
            else:
                write_mp4(root / "videos" / f"{clip_id}.mp4", seed=i + (100 if split == "validation" else 0))
            entries[split].append({"id": clip_id, "template": CLASSES[i % 2]})
    entries["train"] += [{"id": clip_id, "template": template} for clip_id, template in extra_train]
    (root / "videos").mkdir(exist_ok=True)
    for split, items in entries.items():
        (root / f"{split}.json").write_text(json.dumps(items, indent=1))
    return root


def config_for(root: Path, method="tsm", **extra) -> dict:
    return resolve(method, "smoke", {**FAST, "data": str(root), **extra})


def main_train(capsys, root, out, *extra) -> tuple[int, str]:
    code = trainlib.main(["--method", "tsm", "--profile", "smoke", "--data", str(root), "--out", str(out),
                          *[f"{k}={v}" for k, v in FAST.items()], *extra])
    return code, capsys.readouterr().err


def assert_one_clear_line(err: str, *words):
    assert "Traceback" not in err and "weights_only" not in err, err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    for word in words:
        assert word in err, (word, err)


# --- 1: a directory (or any OSError) where a video is expected ----------------------------------------------

def test_a_directory_in_a_videos_place_is_a_counted_bad_input(workdir):
    root = ssv2_root(workdir / "data")
    (root / "videos" / "t1.mp4").unlink()
    (root / "videos" / "t1.mp4").mkdir()  # an SSv2 <id>.mp4 that is a folder
    dataset = build_dataset(root, "train", T, CROP, train=True)
    issues = [dataset[i][2] for i in range(len(dataset))]
    assert issues.count(ISSUE_CODES["not_a_video"]) == 1
    final = trainlib.train(config_for(root), workdir / "run")
    assert final["bad_inputs"] == {"not_a_video": 1}
    assert check.check(root, splits=("train",), num_segments=T, out=lambda *_: None) == 1


def test_any_oserror_while_loading_a_sample_is_a_counted_bad_input(workdir, monkeypatch):
    root = ssv2_root(workdir / "data")
    real = datasetlib.read_video

    def flaky(path, pick, *args):
        if path.endswith("t2.mp4"):
            raise OSError(errno.EIO, "Input/output error", path)
        return real(path, pick, *args)

    monkeypatch.setattr(datasetlib, "read_video", flaky)
    dataset = build_dataset(root, "train", T, CROP, train=True)
    assert sorted(dataset[i][2] for i in range(len(dataset))) == [0, 0, 0, ISSUE_CODES["unreadable"]]
    assert datasetlib.diagnose_video(str(root / "videos")) == "not_a_video"


# --- 2, 3, 4: unusable validation splits are refused at the start, and check-data fails on them ---------------

@pytest.mark.parametrize("case", ["empty", "undecodable"])
def test_an_unusable_validation_split_is_refused_before_training(workdir, capsys, case):
    root = ssv2_root(workdir / "data", val=0 if case == "empty" else 2,
                     bad_val=() if case == "empty" else ("v0", "v1"))
    assert check.main([str(root), "--frames", str(T)]) == 1
    report = capsys.readouterr().out
    assert "OK" not in report and ("no usable entries" if case == "empty" else "not one clip decodes") in report
    code, err = main_train(capsys, root, workdir / "run")
    assert code == 2
    assert_one_clear_line(err, "val split", str(root), "check-data")
    assert not (workdir / "run" / "metrics.jsonl").exists()  # refused before any epoch


def test_the_trained_epoch_is_checkpointed_before_validation(workdir, monkeypatch):
    root = ssv2_root(workdir / "data")
    config = config_for(root, epochs=2)
    reference = trainlib.train(config, workdir / "reference")

    def broken_validation(*args, **kwargs):
        raise KeyboardInterrupt  # killed (or failed) while validating epoch 1

    monkeypatch.setattr(trainlib, "validate", broken_validation)
    with pytest.raises(KeyboardInterrupt):
        trainlib.train(config, workdir / "run")
    state = torch.load(workdir / "run" / "checkpoints" / "last.pt", weights_only=True)
    assert state["epoch"] == 1 and state["pending"]["epoch"] == 1  # the epoch was not lost
    monkeypatch.undo()
    final = trainlib.train(config, workdir / "run", resume=True)
    strip = lambda rows: [{k: v for k, v in row.items() if k not in TIMING} for row in rows]  # noqa: E731
    assert strip(runs.read_jsonl(workdir / "run" / "metrics.jsonl")) == \
        strip(runs.read_jsonl(workdir / "reference" / "metrics.jsonl"))
    assert final["val_top1"] == reference["val_top1"] and final["loss"] == reference["loss"]


def test_validation_that_finds_no_loadable_clip_fails_clearly_after_saving_the_epoch(workdir, capsys):
    root = ssv2_root(workdir / "data")
    real = trainlib.train_epoch

    def train_then_break_the_val_videos(*args, **kwargs):
        real(*args, **kwargs)
        for clip_id in ("v0", "v1"):
            (root / "videos" / f"{clip_id}.mp4").write_bytes(b"broken")

    trainlib.train_epoch, saved = train_then_break_the_val_videos, trainlib.train_epoch
    try:
        code, err = main_train(capsys, root, workdir / "run")
    finally:
        trainlib.train_epoch = saved
    assert code == 2
    assert_one_clear_line(err, "validation after epoch 1", "--resume")
    assert torch.load(workdir / "run" / "checkpoints" / "last.pt", weights_only=True)["epoch"] == 1


# --- 5: a damaged last.pt ------------------------------------------------------------------------------------

@pytest.mark.parametrize("damage", ["truncated", "empty", "garbage"])
def test_a_damaged_checkpoint_gives_a_clear_error_and_resume_falls_back_to_previous(workdir, capsys, damage):
    root = ssv2_root(workdir / "data")
    out = workdir / "run"
    config = config_for(root, epochs=2)
    reference = trainlib.train(config, out)
    last, previous = out / "checkpoints" / "last.pt", out / "checkpoints" / "previous.pt"
    assert previous.exists() and torch.load(previous, weights_only=True)["epoch"] >= 1
    data = last.read_bytes()
    last.write_bytes({"truncated": data[: len(data) // 2], "empty": b"",
                      "garbage": b"\x80\x04garbage that pickle reads" * 40}[damage])
    with pytest.raises(checkpointlib.CheckpointError) as error:
        checkpointlib.load_checkpoint(last)
    assert str(last) in str(error.value) and "weights_only" not in str(error.value)

    (out / "final.json").unlink()  # the run is unfinished again: its last epoch must be redone from previous.pt
    code = trainlib.main(["--method", "tsm", "--profile", "smoke", "--data", str(root), "--out", str(out),
                          "--resume", *[f"{k}={v}" for k, v in {**FAST, "epochs": 2}.items()]])
    captured = capsys.readouterr()
    assert code == 0 and "previous checkpoint" in captured.out and "weights_only" not in captured.out + captured.err
    assert (out / "checkpoints" / "last.pt.damaged").exists()
    assert runs.read_json(out / "final.json")["val_top1"] == reference["val_top1"]


def test_resume_with_no_loadable_checkpoint_is_one_clear_line(workdir, capsys):
    root = ssv2_root(workdir / "data")
    out = workdir / "run"
    trainlib.train(config_for(root), out)
    (out / "final.json").unlink()
    for name in ("last.pt", "previous.pt"):
        if (out / "checkpoints" / name).exists():
            (out / "checkpoints" / name).write_bytes(b"PK\x03\x04 truncated zip")
    code, err = main_train(capsys, root, out, "--resume")
    assert code == 2
    assert_one_clear_line(err, "last.pt", "--restart")


# --- 6: rerunning an unfinished run ----------------------------------------------------------------------------

def test_rerunning_an_unfinished_run_without_resume_is_refused(workdir, capsys):
    root = ssv2_root(workdir / "data")
    out = workdir / "run"
    trainlib.train(config_for(root, epochs=2), out)
    (out / "final.json").unlink()
    before = (out / "checkpoints" / "last.pt").read_bytes(), (out / "metrics.jsonl").read_text()
    code, err = main_train(capsys, root, out, "epochs=2")
    assert code == 2
    assert_one_clear_line(err, "unfinished run", "--resume", "--restart")
    assert ((out / "checkpoints" / "last.pt").read_bytes(), (out / "metrics.jsonl").read_text()) == before
    code, _ = main_train(capsys, root, out, "epochs=2", "--restart")
    assert code == 0 and len(runs.read_jsonl(out / "metrics.jsonl")) == 2


def test_the_books_cache_still_continues_a_killed_run(workdir, monkeypatch):
    from cmrlib.experiments import cache

    root = ssv2_root(workdir / "data")
    out = workdir / "run"
    config = config_for(root, epochs=2)
    trainlib.train(config, out)
    (out / "final.json").unlink()
    calls = []
    real = trainlib.train
    monkeypatch.setattr(trainlib, "train", lambda *a, **k: calls.append(k) or real(*a, **k))
    monkeypatch.setattr(cache.runs, "project_root", lambda: workdir)
    assert cache.train_cached(config, run_dir=out) == (out, False)
    assert calls == [{"resume": True}] and (out / "final.json").exists()


# --- 7: evaluation excludes a broken clip, never substitutes it ------------------------------------------------

def test_evaluation_excludes_a_broken_clip_and_reports_it(workdir, capsys):
    root = ssv2_root(workdir / "data", val=4)
    out = workdir / "run"
    trainlib.train(config_for(root), out)
    (root / "videos" / "v1.mp4").write_bytes(b"broken after training")
    result = evallib.evaluate(out)
    assert result["listed"] == 4 and result["excluded"] == 1 and result["videos"] == 3
    assert result["excluded_clips"] == [{"path": str(root / "videos" / "v1.mp4"), "issue": "not_a_video"}]
    assert result["labels"] == [0, 0, 1]  # v0, v2, v3: never v1's label on another clip
    assert sum(sum(row) for row in result["confusion"]) == 3
    assert evallib.main([str(out)]) == 0
    assert "3 videos scored, 1 excluded" in capsys.readouterr().out
    assert runs.read_json(out / "eval_1x1.json")["excluded"] == 1


def test_predict_never_scores_a_substitute(workdir):
    root = ssv2_root(workdir / "data", val=3, bad_val=("v0",))
    dataset = build_dataset(root, "validation", T, CROP, train=False)
    clip, label, issue = dataset[0]
    assert issue == ISSUE_CODES["not_a_video"] and label == 0 and not clip.any()

    class Tiny(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = torch.nn.Linear(3, 2)

        def forward(self, x):  # (N, T, 3, H, W)
            return self.fc(x.mean(dim=(1, 3, 4)))

    excluded = []
    scores, labels, _ = evallib.predict(Tiny(), torch.utils.data.DataLoader(dataset, batch_size=2),
                                        torch.device("cpu"), excluded=excluded)
    assert excluded == [0] and labels.tolist() == [1, 0] and scores.shape == (2, 2)


# --- 8: entries dropped at construction reach metrics.jsonl and final.json ------------------------------------

def test_dropped_entries_are_counted_in_metrics_and_final(workdir, capsys):
    root = ssv2_root(workdir / "data", extra_train=[("gone", CLASSES[0]), ("t0", "Juggling something")])
    final = trainlib.train(config_for(root), workdir / "run")
    expected = {"train": {"missing": 1, "unknown_label": 1}}
    assert final["dropped"] == expected
    assert runs.read_jsonl(workdir / "run" / "metrics.jsonl")[0]["dropped"] == expected
    assert "dropped at start" in capsys.readouterr().out


# --- 9: frame folders with flow frames --------------------------------------------------------------------------

def write_frames(folder: Path, frames, names):
    folder.mkdir(parents=True, exist_ok=True)
    for frame, name in zip(frames, names):
        Image.fromarray(frame).save(folder / name, quality=95)


def tsm_root_with_flow(root: Path, listed_frames=FRAMES) -> Path:
    rgb, black = frames_of(3), np.zeros((FRAMES, 32, 32, 3), np.uint8)
    for clip in ("a", "b"):
        folder = root / "frames" / clip
        write_frames(folder, rgb, [f"img_{i:05d}.jpg" for i in range(1, FRAMES + 1)])
        for prefix in ("x_", "y_", "flow_x_", "flow_y_"):  # TSM / MMAction2 flow frames beside the RGB ones
            write_frames(folder, black, [f"{prefix}{i:05d}.jpg" for i in range(1, FRAMES + 1)])
    (root / "category.txt").write_text("\n".join(CLASSES) + "\n")
    (root / "train_videofolder.txt").write_text(f"frames/a {listed_frames} 0\nframes/b {FRAMES} 1\n")
    return root


def test_a_frame_folder_with_flow_frames_reads_only_the_rgb_frames(workdir, caplog):
    root = tsm_root_with_flow(workdir / "data", listed_frames=12)
    dataset = build_dataset(root, "train", T, CROP, train=False)
    with caplog.at_level(logging.WARNING, logger="cmrlib.data"):
        clip_a, _, issue_a = dataset[0]
        clip_b, _, issue_b = dataset[1]
    assert issue_a == ISSUE_CODES["frame_count"] and issue_b == 0
    assert "10 frames found, the list says 12" in caplog.text
    assert torch.equal(clip_a, clip_b) and clip_b.mean() > -1.5  # RGB frames, no black flow frame mixed in
    names = datasetlib.frame_names(str(root / "frames" / "a"), "img_{:05d}.jpg")
    assert names == [f"img_{i:05d}.jpg" for i in range(1, FRAMES + 1)]
    (root / "meta.json").write_text(json.dumps({"frame_template": "x_{:05d}.jpg"}))  # configurable
    assert build_dataset(root, "train", T, CROP, train=False)[1][0].max() < -1.5  # now the black x_ frames
    assert check.check(root, splits=("train",), num_segments=T, out=lambda *_: None,
                       frame_template="img_{:05d}.jpg") == 0


def test_digits_only_frame_names_are_the_fallback_of_the_default_template(workdir):
    root = workdir / "data"
    write_frames(root / "clip", frames_of(1), [f"{i:05d}.jpg" for i in range(1, FRAMES + 1)])
    (root / "train_videofolder.txt").write_text(f"clip {FRAMES} 0\n")
    dataset = build_dataset(root, "train", T, CROP, train=False)
    assert dataset[0][2] == 0 and dataset.entries[0].template == "img_{:05d}.jpg"


# --- 10: MMAction2's multi-label and offset lines -------------------------------------------------------------

@pytest.mark.parametrize("line", ["imgs 5 3 5", "imgs 2 5 127", "test.mp4 0 3"])
def test_a_real_world_list_with_multi_label_lines_is_an_error_naming_file_and_line(workdir, line):
    root = workdir / "data"
    root.mkdir()
    write_frames(root / "imgs", frames_of(1), [f"img_{i:05d}.jpg" for i in range(1, FRAMES + 1)])
    write_mp4(root / "test.mp4", 2)
    path = root / "train_videofolder.txt"
    path.write_text(f"imgs {FRAMES} 0\ntest.mp4 {FRAMES} 1\n{line}\n")
    with pytest.raises(AnnotationError, match=f"{path}:3:"):
        build_dataset(root, "train", T, CROP, train=True)


def test_paths_with_spaces_still_parse(workdir):
    root = workdir / "data"
    write_mp4(root / "my clip.mp4", 1)
    write_frames(root / "clip 5", frames_of(2), [f"img_{i:05d}.jpg" for i in range(1, FRAMES + 1)])
    (root / "train_videofolder.txt").write_text(f"my clip.mp4 {FRAMES} 0\nclip 5 {FRAMES} 1\n")
    dataset = build_dataset(root, "train", T, CROP, train=True)
    assert [e.id for e in dataset.entries] == ["my clip", "clip 5"] and not dataset.dropped


# --- 11: a real dataset names the run and picks the sampling ----------------------------------------------------

def test_a_kinetics_root_gives_dense_sampling_and_its_own_run_folder(workdir):
    root = workdir / "k400"
    root.mkdir()
    (root / "train.csv").write_text("label,youtube_id,time_start,time_end,split\nzumba,abc,0,10,train\n")
    args = trainlib.parser().parse_args(["--method", "tsm", "--profile", "smoke", "--data", str(root)])
    config = trainlib.config_from_args(args)
    assert config["sampling"] == "dense" and config["benchmark"] == "kinetics"
    assert runs.default_run_dir(config).parent.name == "kinetics"
    assert resolve("tsm", "smoke", {"data": str(root), "sampling": "segments"})["sampling"] == "segments"
    synthetic = ssv2_root(workdir / "ssv2")
    assert resolve("tsm", "smoke", {"data": str(synthetic)})["benchmark"] == "ssv2"


# --- 12: errors that were unclear --------------------------------------------------------------------------------

def test_a_list_file_that_is_not_utf8_names_the_file_and_line(workdir):
    path = workdir / "train_videofolder.txt"
    path.write_bytes("a.mp4 10 0\nb.mp4 10 1\ncaf\xe9.mp4 10 0\n".encode("latin-1"))
    with pytest.raises(AnnotationError, match=f"{path}:3: not UTF-8"):
        build_dataset(workdir, "train", T, CROP, train=True)


@pytest.mark.parametrize("name", ["train_videofolder.txt", "category.txt", "labels.json"])
def test_an_annotation_file_that_is_a_directory_is_one_clear_error(workdir, capsys, name):
    (workdir / "train_videofolder.txt").write_text("a.mp4 10 0\n")
    (workdir / "val_videofolder.txt").write_text("a.mp4 10 0\n")
    if (workdir / name).exists():
        (workdir / name).unlink()
    (workdir / name).mkdir()
    assert check.main([str(workdir), "--split", "train"]) == 2
    out = capsys.readouterr().out
    assert f"{workdir / name}" in out and "is a directory" in out and "Traceback" not in out


def test_check_data_rejects_zero_frames_with_a_message(capsys):
    with pytest.raises(SystemExit) as exit_:
        check.main(["anything", "--frames", "0"])
    assert exit_.value.code == 2 and "positive integer" in capsys.readouterr().err


def test_eval_on_data_with_another_class_count_is_one_clear_error(workdir, capsys):
    root = ssv2_root(workdir / "data")
    trainlib.train(config_for(root), workdir / "run")
    other = workdir / "other"
    ssv2_root(other)
    (other / "labels.json").write_text(json.dumps({"a": "0", "b": "1", "c": "2"}))
    for split in ("train", "validation"):
        items = json.loads((other / f"{split}.json").read_text())
        (other / f"{split}.json").write_text(json.dumps([{**item, "template": "a"} for item in items]))
    assert evallib.main([str(workdir / "run"), "--data", str(other)]) == 2
    assert_one_clear_line(capsys.readouterr().err, "2 classes", "has 3")


@pytest.mark.parametrize("case", ["no usable", "undecodable"])
def test_unusable_training_data_is_refused_at_the_start(workdir, capsys, case):
    root = ssv2_root(workdir / "data")
    for i in range(4):
        if case == "no usable":
            (root / "videos" / f"t{i}.mp4").unlink()
        else:
            (root / "videos" / f"t{i}.mp4").write_bytes(b"x" * 100)
    code, err = main_train(capsys, root, workdir / "run")
    assert code == 2
    assert_one_clear_line(err, "train split", "check-data")
    assert "batch_size" not in err


def test_a_dataset_that_fails_mid_epoch_is_one_line_from_the_cli(workdir, capsys, monkeypatch):
    def unusable(*args, **kwargs):
        raise datasetlib.UnusableData("Caught UnusableData in DataLoader worker process 0.\nOriginal Traceback "
                                      "(most recent call last):\n  ...\nUnusableData: 11 samples in a row could not "
                                      "be loaded; run `python -m cmrlib check-data` on the dataset")

    monkeypatch.setattr(trainlib, "train", unusable)
    code, err = main_train(capsys, ssv2_root(workdir / "data"), workdir / "run")
    assert code == 2
    assert_one_clear_line(err, "11 samples in a row", "check-data")


def test_train_data_that_is_a_list_file_says_a_folder_is_needed(workdir, capsys):
    (workdir / "train_videofolder.txt").write_text("a.mp4 10 0\n")
    code, err = main_train(capsys, workdir / "train_videofolder.txt", workdir / "run")
    assert code == 2
    assert_one_clear_line(err, "is a file", "folder")


def test_the_format_hint_names_the_cli_option(workdir):
    with pytest.raises(ValueError, match="--format"):
        build_dataset(workdir, "train", T, CROP, train=True)


def test_a_relative_data_override_is_stored_absolute(workdir, monkeypatch):
    ssv2_root(workdir / "data")
    monkeypatch.chdir(workdir)
    assert resolve("tsm", "smoke", {"data": "data"})["data"] == str((workdir / "data").resolve())


# --- 13: decord's own C++ error lines are silenced ---------------------------------------------------------------

def test_decord_prints_nothing_for_a_bad_file(workdir, capfd, caplog):
    bad = workdir / "bad.mp4"
    bad.write_bytes(b"garbage" * 50)
    (workdir / "dir.mp4").mkdir()
    for path in (bad, workdir / "dir.mp4"):
        with pytest.raises(datasetlib.ClipError):
            datasetlib.read_video(str(path), np.arange)
    err = capfd.readouterr().err
    assert "ERROR opening" not in err and "video_reader" not in err, err
    os.write(2, b"stderr still works\n")
    assert "stderr still works" in capfd.readouterr().err


# --- the same class of bug elsewhere ------------------------------------------------------------------------------

def test_a_damaged_run_file_is_one_clear_error(workdir, capsys):
    run = workdir / "run"
    run.mkdir()
    (run / "config.json").write_text('{"method": "tsm",')  # cut short
    assert evallib.main([str(run)]) == 2
    assert_one_clear_line(capsys.readouterr().err, str(run / "config.json"))
    (run / "metrics.jsonl").write_text('{"epoch": 1}\n{"epoch": \n')
    with pytest.raises(ValueError, match="metrics.jsonl:2:"):
        runs.read_jsonl(run / "metrics.jsonl")


def test_any_decoding_error_of_a_frame_is_a_counted_bad_input_not_a_crash(workdir, monkeypatch):
    import PIL.Image

    root = workdir / "data"
    write_frames(root / "clip", frames_of(1), [f"img_{i:05d}.jpg" for i in range(1, FRAMES + 1)])
    (root / "train_videofolder.txt").write_text(f"clip {FRAMES} 0\n")
    real = PIL.Image.open

    def broken_png(path, *args, **kwargs):  # Pillow raises SyntaxError for some broken PNG files
        if str(path).endswith("img_00002.jpg"):
            raise SyntaxError("broken PNG file")
        return real(path, *args, **kwargs)

    monkeypatch.setattr(PIL.Image, "open", broken_png)
    dataset = build_dataset(root, "train", T, CROP, train=False)
    assert dataset[0][2] == ISSUE_CODES["truncated"]
