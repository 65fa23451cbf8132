"""cmrlib.evaluate: top-k, per-class accuracy, confusion matrix, multi-view averaging, batch-size independence."""
import pytest
import torch

from cmrlib import evaluate as evallib
from cmrlib import runs
from cmrlib import checkpoint, loaders
from cmrlib import train as trainlib
from cmrlib.config import resolve


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    torch.set_num_threads(1)
    config = resolve("tsm", "smoke", {"frames": 4, "epochs": 1, "train_subset": 16, "val_subset": 10,
                                      "batch_size": 4, "threads": 1})
    out = tmp_path_factory.mktemp("eval") / "tsm"
    trainlib.train(config, out)
    return out


def test_single_view_matches_the_last_epochs_validation(run_dir):
    result = evallib.evaluate(run_dir, batch_size=3)
    last = runs.read_jsonl(run_dir / "metrics.jsonl")[-1]
    assert result["top1"] == pytest.approx(last["val_top1"]) and result["top5"] == pytest.approx(last["val_top5"])
    saved = runs.read_json(run_dir / "eval_1x1.json")
    assert saved["top1"] == result["top1"] and saved["views"] == 1 and saved["videos"] == 10


def test_confusion_and_per_class_agree_with_top1(run_dir):
    result = evallib.evaluate(run_dir, clips=2, crops=3, batch_size=4)
    confusion = torch.tensor(result["confusion"])
    classes = len(result["classes"])
    assert confusion.shape == (classes, classes) and int(confusion.sum()) == result["videos"] == 10
    assert float(confusion.trace()) / 10 == pytest.approx(result["top1"])
    assert result["predictions"] == [int(row.argmax()) for row in evallib.evaluate(
        run_dir, clips=2, crops=3, save=False, keep_scores=True)["scores"]]
    for k, name in enumerate(result["classes"]):
        support = int(confusion[k].sum())
        expected = None if support == 0 else float(confusion[k, k]) / support
        assert result["per_class"][name] == (expected if expected is None else pytest.approx(expected))
    assert (run_dir / "eval_2x3.json").exists() and result["views"] == 6 and 0 <= result["top1"] <= result["top5"]


@pytest.mark.parametrize("clips, crops", [(1, 1), (2, 3)])
def test_scores_do_not_depend_on_the_eval_batch_size(run_dir, clips, crops):
    results = [evallib.evaluate(run_dir, clips, crops, batch_size=size, save=False, keep_scores=True)
               for size in (1, 4, 10)]
    for other in results[1:]:
        torch.testing.assert_close(other["scores"], results[0]["scores"], atol=1e-5, rtol=1e-4)
        assert other["predictions"] == results[0]["predictions"] and other["top5"] == results[0]["top5"]


def test_views_are_averaged_per_video(run_dir):
    """Each video's score is the mean softmax of its own 6 views, computed one view at a time."""
    from cmrlib.data import build_dataset

    config = evallib.load_run_config(run_dir)
    dataset = build_dataset(loaders.dataset_root(config), "validation", num_segments=4, size=config["size"],
                            train=False, clips=2, crops=3)
    model = checkpoint.build_model(config, dataset.num_classes)
    model.load_state_dict(torch.load(run_dir / "checkpoints" / "last.pt", weights_only=True)["model"])
    model.eval()
    scores = evallib.evaluate(run_dir, 2, 3, batch_size=3, save=False, keep_scores=True)["scores"]
    for index in (0, 4):
        views, _, _ = dataset[index]  # (6, T, 3, S, S)
        with torch.no_grad():
            expected = torch.stack([model(view[None]).softmax(1)[0] for view in views]).mean(0)
        torch.testing.assert_close(scores[index], expected, atol=1e-5, rtol=1e-4)


def test_topk_accuracy_counts_ties_and_few_classes():
    scores = torch.tensor([[0.1, 0.7, 0.2], [0.5, 0.3, 0.2], [0.2, 0.3, 0.5]])
    labels = torch.tensor([1, 2, 0])
    top1, top2, top5 = evallib.topk_accuracy(scores, labels, (1, 2, 5))
    assert (top1, top2, top5) == (pytest.approx(1 / 3), pytest.approx(1 / 3), 1.0)


def test_cli(run_dir, capsys):
    assert evallib.main([str(run_dir), "--clips", "2", "--crops", "3", "--batch-size", "5"]) == 0
    assert "top1" in capsys.readouterr().out
    assert evallib.main([str(run_dir.parent / "missing")]) == 2
    assert "not a run folder" in capsys.readouterr().err
