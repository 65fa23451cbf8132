"""Faults and bad input, third round (issue 27): unreadable folders, FIFOs, a full disk, two trainers on one run
folder, rotated videos, long videos in the frame cache, signals, mismatched checkpoints and safe converters.

Each test names the case of the issue it covers; the helpers and the tiny data are test_bad_input's.
"""
import errno
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
from pathlib import Path

import av
import numpy as np
import pytest
import torch

from cmrlib import convert, predict, runs
from cmrlib import evaluate as evallib
from cmrlib import train as trainlib
from cmrlib.data import ISSUE_CODES, build_dataset, check
from cmrlib.data import dataset as datasetlib
from cmrlib.models import build_model
from test_bad_input import (CLASSES, CROP, FAST, TIMING, T, assert_one_clear_line, config_for, main_train,  # noqa: F401
                            ssv2_root, workdir, write_mp4)

ROOT = hasattr(os, "geteuid") and os.geteuid() == 0


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A finished smoke TSM run on a tiny SSv2 root (2 classes), shared read-only: copy it to change it."""
    base = tmp_path_factory.mktemp("faults")
    root = ssv2_root(base / "data")
    trainlib.train(config_for(root), base / "run")
    return root, base / "run"


def copied(trained, workdir):
    root, run = trained
    shutil.copytree(run, workdir / "run")
    return root, workdir / "run"


def tsm_list_root(root: Path, inner: str) -> Path:
    """A TSM list root whose second training clip lives in ``inner``/ (the folder the test locks)."""
    for i in range(4):
        write_mp4(root / (inner if i == 1 else "clips") / f"c{i}.mp4", seed=i)
    lines = "".join(f"{inner if i == 1 else 'clips'}/c{i}.mp4 10 {i % 2}\n" for i in range(4))
    (root / "train_videofolder.txt").write_text(lines)
    (root / "val_videofolder.txt").write_text(lines)
    (root / "category.txt").write_text("\n".join(CLASSES) + "\n")
    return root


def run_with_timeout(call, seconds=60):
    """``call()`` in a thread: a hang (a FIFO opened for reading) fails the test instead of blocking it."""
    result = {}
    thread = threading.Thread(target=lambda: result.update(value=call()), daemon=True)
    thread.start()
    thread.join(seconds)
    assert not thread.is_alive(), "hangs (a FIFO was opened?)"
    return result.get("value")


# --- 1: a video inside a folder without read/search permission ---------------------------------------------------

def _unreadable_folder_case(root, capsys, workdir):
    assert check.main([str(root), "--frames", str(T), "--split", "train"]) == 1
    out = capsys.readouterr().out
    assert "c1.mp4: unreadable" in out and "Traceback" not in out
    final = trainlib.train(config_for(root), workdir / "run")
    assert final["bad_inputs"] == {"unreadable": 1}
    result = evallib.evaluate(workdir / "run")
    assert result["excluded"] == 1 and result["excluded_clips"][0]["issue"] == "unreadable"


@pytest.mark.skipif(ROOT, reason="runs as root, where folder permissions do not bite (the monkeypatched test "
                                 "below covers the same code path)")
def test_a_video_in_a_folder_that_cannot_be_searched_is_a_counted_skip(workdir, capsys):
    root = tsm_list_root(workdir / "data", "locked")
    os.chmod(root / "locked", 0o600)  # readable, not searchable: stat of locked/c1.mp4 raises PermissionError
    try:
        _unreadable_folder_case(root, capsys, workdir)
    finally:
        os.chmod(root / "locked", 0o755)


def test_a_permission_error_from_stat_is_a_counted_skip_also_as_root(workdir, capsys, monkeypatch):
    root = tsm_list_root(workdir / "data", "locked")
    real = os.stat
    locked = str(root / "locked") + os.sep

    def stat(path, *args, **kwargs):  # what the kernel answers to a non-root user under a folder without +x
        if os.fspath(path).startswith(locked):
            raise PermissionError(errno.EACCES, "Permission denied", os.fspath(path))
        return real(path, *args, **kwargs)

    monkeypatch.setattr(os, "stat", stat)
    assert datasetlib.path_kind(root / "locked" / "c1.mp4") == "unreadable"
    _unreadable_folder_case(root, capsys, workdir)


# --- 2: a FIFO in a video's place --------------------------------------------------------------------------------

def test_a_fifo_in_a_videos_place_is_refused_without_opening_it(workdir, capsys):
    root = ssv2_root(workdir / "data")
    (root / "videos" / "t1.mp4").unlink()
    os.mkfifo(root / "videos" / "t1.mp4")
    dataset = build_dataset(root, "train", T, CROP, train=True)
    issues = run_with_timeout(lambda: [dataset[i][2] for i in range(len(dataset))])
    assert issues.count(ISSUE_CODES["not_a_video"]) == 1
    assert run_with_timeout(lambda: check.main([str(root), "--frames", str(T)])) == 1
    assert "t1.mp4: not_a_video" in capsys.readouterr().out
    final = run_with_timeout(lambda: trainlib.train(config_for(root), workdir / "run"))
    assert final["bad_inputs"] == {"not_a_video": 1}


# --- 3: disk full while a checkpoint is written ------------------------------------------------------------------

@pytest.mark.parametrize("error", [OSError(errno.ENOSPC, "No space left on device"),
                                   RuntimeError("[enforce fail at inline_container.cc:603] . unexpected pos 64 vs 0")])
def test_a_full_disk_while_checkpointing_is_one_line_and_resume_works(workdir, capsys, monkeypatch, error):
    root = ssv2_root(workdir / "data")
    reference = trainlib.train(config_for(root, epochs=2), workdir / "reference")
    real, calls = torch.save, []

    def save(obj, f, *args, **kwargs):
        calls.append(1)
        if len(calls) == 3:  # epoch 2's checkpoint, written before its validation
            f.write(b"PK\x03\x04 half of it")
            raise error
        return real(obj, f, *args, **kwargs)

    monkeypatch.setattr(torch, "save", save)
    code, err = main_train(capsys, root, workdir / "run", "epochs=2")
    assert code == 2
    assert_one_clear_line(err, "cannot write", str(workdir / "run" / "checkpoints" / "last.pt"), "--resume")
    assert "inline_container" not in err
    assert not [p.name for p in (workdir / "run" / "checkpoints").iterdir() if p.name.endswith(".tmp")]
    monkeypatch.undo()
    code, _ = main_train(capsys, root, workdir / "run", "epochs=2", "--resume")
    assert code == 0 and runs.read_json(workdir / "run" / "final.json")["val_top1"] == reference["val_top1"]


# --- 4: two train processes on the same run folder ----------------------------------------------------------------

def test_a_second_train_on_a_locked_run_folder_is_refused(workdir, capsys):
    root = ssv2_root(workdir / "data")
    out = workdir / "run"
    out.mkdir()
    holder = subprocess.Popen([sys.executable, "-c", (
        "import fcntl, sys, time\nf = open(sys.argv[1], 'a+')\nfcntl.flock(f, fcntl.LOCK_EX)\nf.write('4242')\n"
        "f.flush()\nprint('locked', flush=True)\ntime.sleep(120)"), str(out / "train.lock")],
        stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        code, err = main_train(capsys, root, out)
    finally:
        holder.kill()
        holder.wait()
    assert code == 2
    assert_one_clear_line(err, str(out), "in use", "4242")
    assert not (out / "config.json").exists() and not list(out.rglob(".previous.*.tmp"))
    code, _ = main_train(capsys, root, out)  # the holder is gone: the lock is free again
    assert code == 0 and (out / "final.json").exists() and not (out / "train.lock").exists()
    assert not list(out.rglob("*.tmp"))


# --- 5: a portrait video with 90 / 270 degree rotation metadata ---------------------------------------------------

def write_rotated(path: Path, rotation: int, width=32, height=48, frames=10) -> np.ndarray:
    """An H.264 video stored ``width`` x ``height`` with a display matrix of ``rotation`` degrees (as phones
    write portrait videos); returns the stored frames. decord cannot decode this one (its output is 48 wide)."""
    rng = np.random.default_rng(0)
    stored = np.repeat(np.repeat(rng.integers(0, 255, (frames, height // 8, width // 8, 3), dtype=np.uint8), 8, 1),
                       8, 2)
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=12)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.set_display_rotation(rotation)
        for frame in stored:
            for packet in stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return stored


@pytest.mark.parametrize("rotation", [90, -90])
def test_a_rotated_portrait_video_is_decoded_with_pyav_and_counted(workdir, capsys, rotation):
    root = ssv2_root(workdir / "data")
    stored = write_rotated(root / "videos" / "t1.mp4", rotation)
    frames, count = datasetlib.read_video(str(root / "videos" / "t1.mp4"), np.arange)
    assert count == 10 and frames.shape == (10, 32, 48, 3)  # turned: 48 wide, 32 high
    assert np.abs(frames.astype(int) - np.rot90(stored, rotation // 90, axes=(1, 2))).mean() < 12
    dataset = build_dataset(root, "train", T, CROP, train=False)
    assert dataset[1][2] == ISSUE_CODES["pyav"]
    assert check.main([str(root), "--frames", str(T), "--split", "train"]) == 0
    assert "decoded with PyAV: 1" in capsys.readouterr().out
    final = trainlib.train(config_for(root), workdir / "run")
    assert final["bad_inputs"] == {} and final["decoded_with_pyav"] >= 1
    model = build_model("tsm", num_classes=2, num_segments=T, depth=18, width=0.25)
    torch.save(model.state_dict(), workdir / "tsm.pt")
    assert predict.main([str(root / "videos" / "t1.mp4"), "--checkpoint", str(workdir / "tsm.pt"), "--method", "tsm",
                         "--frames", str(T), "--size", "28"]) == 0
    assert "decoded with PyAV" in capsys.readouterr().out


# --- 6: cache_frames and a very long video ------------------------------------------------------------------------

def test_cache_frames_leaves_videos_past_the_cap_uncached_with_one_warning(workdir, monkeypatch, caplog):
    root = ssv2_root(workdir / "data")
    monkeypatch.setattr(datasetlib, "CACHE_MAX_VIDEO_BYTES", 5 * 32 * 32 * 3)  # "long": more than 5 frames
    cached = build_dataset(root, "train", T, CROP, train=True, cache_frames=True)
    plain = build_dataset(root, "train", T, CROP, train=True)
    with caplog.at_level("WARNING", logger="cmrlib.data"):
        items = [cached[i] for i in range(len(cached))]
    assert not cached._frames and cached._uncached == set(range(4))  # read on demand
    assert caplog.text.count("cache_frames") == 1 and "read on demand" in caplog.text
    for (clip, label, issue), (own, own_label, own_issue) in zip(items, [plain[i] for i in range(len(plain))]):
        assert torch.equal(clip, own) and (label, issue) == (own_label, own_issue)
    monkeypatch.setattr(datasetlib, "CACHE_MAX_VIDEO_BYTES", 2**30)
    small = build_dataset(root, "train", T, CROP, train=True, cache_frames=True)
    small[0]
    assert list(small._frames) == [0]


# --- 7: Ctrl-C and SIGTERM -----------------------------------------------------------------------------------------

def _interrupt_at_step(monkeypatch, step, action):
    real, calls = trainlib.classification_loss, []

    def loss(logits, labels):
        calls.append(1)
        if len(calls) == step:
            action()
        return real(logits, labels)

    monkeypatch.setattr(trainlib, "classification_loss", loss)


def _raise(error):
    raise error


@pytest.mark.parametrize("how", ["ctrl-c", "sigterm"])
def test_ctrl_c_exits_130_and_sigterm_143_with_one_line_and_resume_works(workdir, capsys, monkeypatch, how):
    root = ssv2_root(workdir / "data")
    reference = trainlib.train(config_for(root, epochs=2, checkpoint_every=1), workdir / "reference")

    def unhandled(signum, frame):  # without cmrlib's handler a SIGTERM would end pytest itself
        raise RuntimeError("SIGTERM was not handled by cmrlib train")

    monkeypatch.setattr(signal, "SIGTERM", signal.SIGTERM)
    saved = signal.signal(signal.SIGTERM, unhandled)
    try:
        _interrupt_at_step(monkeypatch, 3, (lambda: _raise(KeyboardInterrupt())) if how == "ctrl-c"
                           else (lambda: os.kill(os.getpid(), signal.SIGTERM)))
        try:
            code, err = main_train(capsys, root, workdir / "run", "epochs=2", "checkpoint_every=1")
        except KeyboardInterrupt:
            pytest.fail("Ctrl-C escaped cmrlib train's main as a traceback")
        assert signal.getsignal(signal.SIGTERM) is unhandled  # restored
    finally:
        signal.signal(signal.SIGTERM, saved)
    assert code == (130 if how == "ctrl-c" else 143)
    assert_one_clear_line(err, "Ctrl-C" if how == "ctrl-c" else "SIGTERM", "--resume", "last.pt")
    monkeypatch.undo()
    code, _ = main_train(capsys, root, workdir / "run", "epochs=2", "checkpoint_every=1", "--resume")
    assert code == 0 and runs.read_json(workdir / "run" / "final.json")["loss"] == reference["loss"]


# --- 8: a checkpoint used as another method than its own ----------------------------------------------------------

def test_a_checkpoint_used_as_another_method_is_refused_naming_both(trained, workdir, capsys):
    root, run = copied(trained, workdir)
    record = runs.read_json(run / "config.json")
    runs.atomic_write_json(run / "config.json", {**record, "method": "tsn"})
    assert evallib.main([str(run)]) == 2
    assert_one_clear_line(capsys.readouterr().err, "'tsm'", "'tsn'")
    video = str(root / "videos" / "v0.mp4")
    assert predict.main([video, "--checkpoint", str(run / "checkpoints" / "last.pt"), "--method", "tsn",
                         "--frames", str(T), "--size", str(CROP)]) == 2
    assert_one_clear_line(capsys.readouterr().err, "'tsm'", "'tsn'")
    runs.atomic_write_json(run / "config.json", {**record, "method": "cmr"})
    assert predict.main([video, "--run", str(run)]) == 2
    err = capsys.readouterr().err
    assert_one_clear_line(err, "'tsm'", "'cmr'")
    assert len(err) < 300


# --- 9: class names that do not fit the model ----------------------------------------------------------------------

def test_labels_or_run_classes_that_do_not_fit_the_model_are_refused(trained, workdir, capsys):
    root, run = trained
    video = str(root / "videos" / "v0.mp4")
    (workdir / "labels.txt").write_text("a\nb\nc\n")
    for source in (["--run", str(run)], ["--checkpoint", str(run / "checkpoints" / "last.pt"), "--method", "tsm",
                                         "--frames", str(T), "--size", str(CROP)]):
        assert predict.main([video, *source, "--labels", str(workdir / "labels.txt")]) == 2
        assert_one_clear_line(capsys.readouterr().err, "3 names", "2 classes")
    other = workdir / "other"  # a run whose checkpoint has 3 classes, its data 2
    (other / "checkpoints").mkdir(parents=True)
    shutil.copy(run / "config.json", other / "config.json")
    config = runs.load_run_config(run)
    from cmrlib.checkpoint import build_model as build_run_model

    torch.save({"model": build_run_model(config, 3, pretrained=False).state_dict()}, other / "checkpoints" / "last.pt")
    assert predict.main([video, "--run", str(other)]) == 2
    assert_one_clear_line(capsys.readouterr().err, "3 classes", "has 2", "--labels")


# --- 10: evaluation on other data -----------------------------------------------------------------------------------

def test_eval_on_data_with_other_class_order_is_refused(trained, workdir, capsys):
    root, run = copied(trained, workdir)
    other = workdir / "reversed"
    shutil.copytree(root, other)
    (other / "labels.json").write_text(json.dumps({name: str(i) for i, name in enumerate(reversed(CLASSES))}))
    assert evallib.main([str(run), "--data", str(other)]) == 2
    assert_one_clear_line(capsys.readouterr().err, str(other), "another order", "refused")
    assert not list(run.glob("eval_*.json"))


def test_eval_on_other_data_records_it_and_keeps_the_runs_own_evaluation(trained, workdir, capsys):
    root, run = copied(trained, workdir)
    own = evallib.evaluate(run)
    assert own["data"] == {"path": str(root), "fingerprint": own["data"]["fingerprint"], "own": True}
    before = (run / "eval_1x1.json").read_text()
    other = workdir / "copy"
    shutil.copytree(root, other)
    (other / "videos" / "v1.mp4").unlink()
    write_mp4(other / "videos" / "v1.mp4", seed=55)
    (other / "validation.json").write_text(json.dumps([{"id": "v1", "template": CLASSES[1]}]))
    assert evallib.main([str(run), "--data", str(other)]) == 0
    assert "on other data" in capsys.readouterr().out
    assert (run / "eval_1x1.json").read_text() == before
    saved = [p for p in run.glob("eval_1x1-data-*.json")]
    assert len(saved) == 1
    record = runs.read_json(saved[0])["data"]
    assert record["path"] == str(other) and record["own"] is False and record["fingerprint"] != own["data"]["fingerprint"]


# --- 11-13: converters ------------------------------------------------------------------------------------------------

def authors_checkpoint(path: Path, source: str) -> Path:
    from test_convert import to_cmr_released, to_tsm

    if source == "tsm":
        state = to_tsm(build_model("tsm", num_classes=5, num_segments=T, depth=18, width=0.25).state_dict())
    else:
        state = to_cmr_released(build_model("cmr", num_classes=5, num_segments=T, depth=18, width=0.25,
                                            variant="released").state_dict())
    torch.save({"epoch": 3, "state_dict": state}, path)
    return path


@pytest.mark.parametrize("given,wrong,words", [("tsm", "cmr-released", ("TSM checkpoint", "--from tsm")),
                                              ("cmr-released", "tsm", ("CMR", "another architecture"))])
def test_a_checkpoint_of_another_code_is_refused_by_convert(workdir, capsys, given, wrong, words):
    src = authors_checkpoint(workdir / "in.pth", given)
    assert convert.main(["--from", wrong, str(src), str(workdir / "out.pth")]) == 2
    assert_one_clear_line(capsys.readouterr().err, str(src), *words)
    assert not (workdir / "out.pth").exists()
    assert convert.main(["--from", given, str(src), str(workdir / "out.pth")]) == 0


def test_convert_in_in_is_refused_and_leaves_in_untouched(workdir, capsys):
    src = authors_checkpoint(workdir / "in.pth", "tsm")
    before = src.read_bytes()
    for dst in (src, workdir / "." / "in.pth"):
        assert convert.main(["--from", "tsm", str(src), str(dst)]) == 2
        assert_one_clear_line(capsys.readouterr().err, "is IN itself")
    assert src.read_bytes() == before


@pytest.mark.parametrize("case", ["directory", "slash", "missing folder", "unwritable"])
def test_a_bad_output_path_is_one_line_and_writes_nothing(workdir, capsys, monkeypatch, case):
    src = authors_checkpoint(workdir / "in.pth", "tsm")
    (workdir / "outdir").mkdir()
    dst, words = {"directory": (str(workdir / "outdir"), ("is a directory",)),
                  "slash": (str(workdir / "new") + "/", ("ends in '/'",)),
                  "missing folder": (str(workdir / "nowhere" / "out.pth"), ("does not exist",)),
                  "unwritable": (str(workdir / "outdir" / "out.pth"), ("permission denied",))}[case]
    if case == "unwritable":
        real = os.access
        monkeypatch.setattr(os, "access", lambda path, mode, **kw: False if Path(path) == workdir / "outdir"
                            else real(path, mode, **kw))  # as for a non-root user in a read-only folder
    assert convert.main(["--from", "tsm", str(src), dst]) == 2
    assert_one_clear_line(capsys.readouterr().err, *words)
    assert sorted(p.name for p in workdir.iterdir()) == ["in.pth", "outdir"] and not list((workdir / "outdir").iterdir())


# --- 14: a directory where a file is expected; --explain's path ------------------------------------------------------

def test_a_directory_where_a_file_is_expected_says_so(trained, workdir, capsys):
    root, run = trained
    (workdir / "folder.pth").mkdir()
    assert convert.main(["--from", "tsm", str(workdir / "folder.pth"), str(workdir / "out.pth")]) == 2
    assert_one_clear_line(capsys.readouterr().err, "is a directory")
    checkpoint = str(run / "checkpoints" / "last.pt")
    common = ["--method", "tsm", "--frames", str(T), "--size", str(CROP)]
    assert predict.main([str(workdir / "folder.pth"), "--checkpoint", checkpoint, *common]) == 2
    assert_one_clear_line(capsys.readouterr().err, "is a directory")
    assert predict.main([str(root / "videos" / "v0.mp4"), "--checkpoint", str(workdir / "folder.pth"), *common]) == 2
    assert_one_clear_line(capsys.readouterr().err, "is a directory")


def test_explain_writes_and_prints_the_same_path(workdir, capsys):
    model = build_model("cmr", num_classes=3, num_segments=T, depth=18, width=0.25)
    torch.save(model.state_dict(), workdir / "cmr.pt")
    write_mp4(workdir / "clip.mp4", 1)
    assert predict.main([str(workdir / "clip.mp4"), "--checkpoint", str(workdir / "cmr.pt"), "--method", "cmr",
                         "--frames", str(T), "--size", str(CROP), "--explain", str(workdir / "maps")]) == 0
    printed = capsys.readouterr().out.split("Figure 5 maps: ")[1].strip()
    assert Path(printed).read_bytes()[:4] == b"\x89PNG" and printed == str(workdir / "maps.png")


# --- messages ----------------------------------------------------------------------------------------------------------

def test_a_damaged_checkpoint_and_its_fallback_give_a_short_line(trained, workdir, capsys):
    root, run = copied(trained, workdir)
    (run / "final.json").unlink()
    for name in ("last.pt", "previous.pt"):
        path = run / "checkpoints" / name
        path.write_bytes((path if path.exists() else run / "checkpoints" / "last.pt").read_bytes()[:500])
    code, err = main_train(capsys, root, run, "--resume")
    assert code == 2 and len(err.strip()) < 200
    assert_one_clear_line(err, "last.pt", "--restart")
    assert predict.main([str(root / "videos" / "v0.mp4"), "--checkpoint", str(run / "checkpoints" / "last.pt"),
                         "--method", "tsm"]) == 2
    err = capsys.readouterr().err
    assert_one_clear_line(err, "last.pt")
    assert len(err.strip()) < 200


def test_an_authors_checkpoint_given_to_predict_suggests_convert(workdir, capsys):
    src = authors_checkpoint(workdir / "tsm_authors.pth", "tsm")
    write_mp4(workdir / "clip.mp4", 1)
    assert predict.main([str(workdir / "clip.mp4"), "--checkpoint", str(src), "--method", "tsm"]) == 2
    assert_one_clear_line(capsys.readouterr().err, "python -m cmrlib convert --from tsm")


def test_eval_best_without_keep_best_says_keep_best_was_off(trained, capsys):
    assert evallib.main([str(trained[1]), "--checkpoint", "best"]) == 2
    err = capsys.readouterr().err
    assert_one_clear_line(err, "keep_best")
    assert "train the run first" not in err


def test_key_value_overrides_may_sit_between_options(workdir, capsys):
    code = trainlib.main(["--method", "tsm", "epochs=1", "--profile", "smoke", "lr=0.1", "--data",
                          str(workdir / "absent")])
    assert code == 2
    err = capsys.readouterr().err
    assert "unrecognized arguments" not in err and "does not exist" in err


# --- the runs driver (issue 26): stopping it stops its workers, and a run finished meanwhile is committed later --

def _children(pid: int) -> set:
    """The live processes whose parent is ``pid`` (Linux /proc)."""
    found = set()
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid and fields[0] != "Z":
            found.add(int(stat.parent.name))
    return found


def _alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads /proc")
def test_a_sigterm_to_the_runs_driver_terminates_its_training_workers():
    """``runs`` trains in spawned processes; before, a killed driver left them training on as orphans."""
    import time

    driver = subprocess.Popen([sys.executable, "-c", (
        "import time\n"
        "from cmrlib.experiments import worker_pool\n"
        "from cmrlib.train import Terminated\n"
        "try:\n"
        "    with worker_pool(2) as pool:\n"
        "        futures = [pool.submit(time.sleep, 300) for _ in range(2)]\n"
        "        print('started', flush=True)\n"
        "        futures[0].result()\n"
        "except Terminated:\n"
        "    print('terminated', flush=True)\n")], stdout=subprocess.PIPE, text=True)
    assert driver.stdout.readline().strip() == "started"
    deadline = time.monotonic() + 60
    while len(workers := _children(driver.pid)) < 2 and time.monotonic() < deadline:
        time.sleep(0.2)
    assert len(workers) >= 2, "the pool's two workers did not start"
    time.sleep(1)  # both are inside time.sleep
    driver.send_signal(signal.SIGTERM)
    assert driver.wait(30) == 0 and driver.stdout.read().strip() == "terminated"
    deadline = time.monotonic() + 15
    while any(_alive(pid) for pid in workers) and time.monotonic() < deadline:
        time.sleep(0.2)
    left = [pid for pid in workers if _alive(pid)]
    for pid in left:
        os.kill(pid, signal.SIGKILL)
    assert not left, "workers kept running after their driver stopped"


def test_the_runs_driver_commits_a_finished_run_that_an_earlier_driver_left_uncommitted(tmp_path, monkeypatch,
                                                                                       capsys):
    from cmrlib import grid
    from cmrlib import experiments as ex

    for key in ("AUTHOR", "COMMITTER"):
        monkeypatch.setenv(f"GIT_{key}_NAME", "t")
        monkeypatch.setenv(f"GIT_{key}_EMAIL", "t@t")
    monkeypatch.setenv("CMR_ROOT", str(tmp_path))
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    done, running, other = (tmp_path / "runs" / "p" / "bench" / name for name in ("done", "running", "other"))
    for folder in (done, running, other):
        folder.mkdir(parents=True)
        (folder / "config.json").write_text("{}\n")
    (done / "final.json").write_text("{}\n")
    (other / "final.json").write_text("{}\n")  # finished, but not a planned run of this call
    monkeypatch.setattr(ex, "check_profile", lambda profile: profile)
    monkeypatch.setattr(ex, "planned_configs", lambda profile, grids: {done: {}, running: {}})
    monkeypatch.setattr(ex, "missing_runs", lambda profile, grids: [{}])
    monkeypatch.setattr(ex, "train_all", lambda *args, **kwargs: 0)
    assert grid.main(["--profile", "p", "--commit"]) == 0
    assert "runs/p/bench/done finished earlier and is not committed: committed" in capsys.readouterr().out
    tracked = subprocess.run(["git", "ls-files"], cwd=tmp_path, capture_output=True, text=True).stdout.split()
    assert tracked == ["runs/p/bench/done/config.json", "runs/p/bench/done/final.json"]
