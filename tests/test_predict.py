"""python -m cmrlib predict: top-5 classes of a real encoded clip, Figure 5 maps, and one-line errors."""
import json

import numpy as np
import pytest
import torch

from cmrlib import config as configlib
from cmrlib import predict
from cmrlib.checkpoint import build_model as build_run_model
from cmrlib.data.synth import BENCHMARKS, encode_mp4, render_clip
from cmrlib.models import build_model

CLASSES = ["waving", "pushing left", "pushing right", "spinning", "falling", "rising"]


@pytest.fixture(scope="module")
def video(tmp_path_factory):
    frames, _ = render_clip("synth-something", 1, seed=7, num_frames=20, size=64)
    path = tmp_path_factory.mktemp("videos") / "my clip.mp4"
    path.write_bytes(encode_mp4(frames, fps=12))
    return path


@pytest.fixture(scope="module")
def cmr_checkpoint(tmp_path_factory):
    torch.manual_seed(0)
    model = build_model("cmr", num_classes=len(CLASSES), num_segments=4, depth=18, width=0.25)
    folder = tmp_path_factory.mktemp("weights")
    torch.save({"model": model.state_dict(), "epoch": 1}, folder / "last.pt")
    (folder / "labels.txt").write_text("\n".join(CLASSES) + "\n")
    return folder, model


def test_top5_of_an_encoded_clip_from_a_checkpoint_with_labels(video, cmr_checkpoint, capsys):
    folder, model = cmr_checkpoint
    args = [str(video), "--checkpoint", str(folder / "last.pt"), "--method", "cmr", "--frames", "4", "--size", "56",
            "--labels", str(folder / "labels.txt")]
    assert predict.main(args) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == str(video) and len(lines) == 6
    ranked = [line.split(maxsplit=2) for line in lines[1:]]
    assert [r[0] for r in ranked] == ["1.", "2.", "3.", "4.", "5."]
    assert all(r[2] in CLASSES for r in ranked)
    probabilities = [float(r[1].rstrip("%")) for r in ranked]
    assert probabilities == sorted(probabilities, reverse=True) and sum(probabilities) <= 100.01

    predictor = predict.from_checkpoint(folder / "last.pt", "cmr", folder / "labels.txt", frames=4, size=56)
    views, centre = predict.load_views(predictor, video)
    assert views.shape == (1, 4, 3, 56, 56) and centre.shape == (4, 56, 56, 3) and centre.dtype == np.uint8
    with torch.no_grad():
        expected = model.eval()(views).softmax(1)[0]
    best = predict.predict_video(predictor, video, k=1)[0]
    assert best == (CLASSES[int(expected.argmax())], pytest.approx(float(expected.max()), rel=1e-5))


def test_explain_saves_figure5_maps_of_the_clip(video, cmr_checkpoint, tmp_path, capsys):
    folder, _ = cmr_checkpoint
    out = tmp_path / "maps" / "explain.png"
    args = [str(video), "--checkpoint", str(folder / "last.pt"), "--method", "cmr", "--frames", "4", "--size", "56",
            "--explain", str(out)]
    assert predict.main(args) == 0
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert f"Figure 5 maps: {out}" in capsys.readouterr().out


def test_run_folder_uses_its_protocol_and_class_names(video, tmp_path, capsys):
    config = configlib.resolve("cmr", "smoke", {"frames": 4})
    classes = BENCHMARKS[config["benchmark"]].classes
    run = tmp_path / "run"
    (run / "checkpoints").mkdir(parents=True)
    (run / "config.json").write_text(json.dumps(config))
    torch.save({"model": build_run_model(config, len(classes)).state_dict()}, run / "checkpoints" / "last.pt")
    predictor = predict.from_run(run)
    assert (predictor.frames, predictor.size, predictor.sampling) == (4, config["size"], "segments")
    assert predict.main([str(video), "--run", str(run), "--crops", "3"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 6 and all(line.split(maxsplit=2)[2] in classes for line in lines[1:])


def test_bad_inputs_give_one_line_and_no_traceback(video, cmr_checkpoint, tmp_path, capsys):
    folder, _ = cmr_checkpoint
    text = tmp_path / "notes.mp4"
    text.write_text("not a video at all\n")
    common = ["--checkpoint", str(folder / "last.pt"), "--method", "cmr", "--frames", "4", "--size", "56"]
    cases = [
        ([str(text), *common], "not a video file"),
        ([str(tmp_path / "missing.mp4"), *common], "no such file"),
        ([str(video), "--checkpoint", str(text), "--method", "cmr"], "not a PyTorch checkpoint"),
        ([str(video), "--checkpoint", str(folder / "last.pt"), "--method", "tea"], "does not fit a 'tea' model"),
        ([str(video), "--run", str(tmp_path)], "not a run folder"),
    ]
    for args, message in cases:
        assert predict.main(args) == 2, args
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and message in err and "Traceback" not in err, (args, err)
    tsm = tmp_path / "tsm.pt"
    torch.save(build_model("tsm", num_classes=3, num_segments=4, depth=18, width=0.25).state_dict(), tsm)
    assert predict.main([str(video), "--checkpoint", str(tsm), "--method", "tsm", "--frames", "4", "--size", "56",
                         "--explain", str(tmp_path / "x.png")]) == 2
    captured = capsys.readouterr()
    assert "class" in captured.out and captured.err.count("\n") == 1 and "CME and SME" in captured.err
