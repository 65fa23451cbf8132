"""Every method learns: it fits 4 smoke clips of 2 classes to 100% training accuracy (training mode, as the
trainer logs it) with the trainer's optimiser (SGD + Nesterov, lr scaling, clipping at 20) and loss."""
import pytest
import torch

from cmrlib import checkpoint, loaders
from cmrlib import train as trainlib
from cmrlib.config import resolve
from cmrlib.models import METHODS

STEPS = 60


@pytest.fixture(scope="module")
def tiny_set():
    """Clips 0-1 of class 0 and of class 2 (not a time-reversal pair), 4 frames at 28 px, labels 0/1."""
    from cmrlib.data import build_dataset

    root = loaders.dataset_root(resolve("tsn", "smoke", validate=False))
    dataset = build_dataset(root, "train", num_segments=4, size=28, train=False)
    chosen = {0: [], 2: []}
    for index, label in enumerate(dataset.labels):
        if label in chosen and len(chosen[label]) < 2:
            chosen[label].append(index)
    indices = chosen[0] + chosen[2]
    clips = torch.stack([dataset[i][0] for i in indices])
    return clips, torch.tensor([0, 0, 1, 1])


@pytest.mark.parametrize("method", sorted(METHODS))
def test_method_overfits_four_clips(method, tiny_set):
    torch.set_num_threads(1)
    clips, labels = tiny_set
    config = resolve(method, "smoke", {"frames": 4, "batch_size": 4, "dropout": 0.0, "lr": 1.6,
                                       "weight_decay": 0.0, "schedule": "constant"})
    torch.manual_seed(0)
    model = checkpoint.build_model(config, num_classes=2)
    optimizer = trainlib.make_optimizer(model, config)
    assert optimizer.param_groups[0]["lr"] == pytest.approx(0.1) and optimizer.param_groups[0]["nesterov"]
    for step in range(STEPS):
        trainlib.set_train_mode(model, config["bn"])
        logits = model(clips)
        loss = trainlib.classification_loss(logits, labels)
        optimizer.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), config["clip_grad_norm"])
        optimizer.step()
        if loss.item() < 0.05 and bool((logits.argmax(1) == labels).all()):
            break
    assert loss.item() < 0.05, f"{method}: training loss {loss.item():.3f} after {step + 1} steps"
    assert logits.argmax(1).tolist() == labels.tolist(), f"{method}: predictions {logits.argmax(1).tolist()}"
