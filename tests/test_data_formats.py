"""Real-format adapters on tiny fixtures written in those exact layouts, bad input, and check-data."""
import csv
import io
import json
import logging
import tempfile
from pathlib import Path

import av
import numpy as np
import pytest
import torch
from PIL import Image

from cmrlib.data import ISSUE_CODES, AnnotationError, build_dataset, check, synth
from cmrlib.data.transforms import IMAGENET_MEAN, IMAGENET_STD

torch.set_num_threads(1)
SIZE, CROP, FRAMES, T = 64, 56, 10, 4  # stored side, crop (its scale size is 64), frames per clip, segments
CLASSES = ["Holding something", "Moving something up", "Pushing something from left to right"]


@pytest.fixture
def workdir():
    """A private temporary folder (pytest sessions of other developers prune the shared numbered tmp dirs)."""
    with tempfile.TemporaryDirectory(prefix="cmr-formats-test-") as folder:
        yield Path(folder)


def frames_of(seed: int, num_frames: int = FRAMES) -> np.ndarray:
    return synth.render_clip("synth-something", seed % 16, seed, num_frames, SIZE)[0]


def write_mp4(path: Path, frames: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(synth.encode_mp4(frames, 12))


def write_webm(path: Path, frames: np.ndarray) -> None:
    """VP9 .webm, as Something-Something V2 ships its videos."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libvpx-vp9", rate=12)
        stream.width, stream.height, stream.pix_fmt = frames.shape[2], frames.shape[1], "yuv420p"
        stream.options = {"crf": "10", "b:v": "0", "deadline": "realtime", "cpu-used": "8"}
        for frame in frames:
            container.mux(stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")))
        container.mux(stream.encode())


def write_jpegs(folder: Path, frames: np.ndarray, pattern: str = "{:05d}.jpg") -> None:
    """A JPEG frame folder, 00001.jpg ... as in Something-Something V1."""
    folder.mkdir(parents=True, exist_ok=True)
    for i, frame in enumerate(frames, 1):
        Image.fromarray(frame).save(folder / pattern.format(i), quality=95)


def write_zero_frame_mp4(path: Path) -> None:
    """A valid mp4 container whose video track has no frames."""
    buffer = io.BytesIO()
    container = av.open(buffer, "w", format="mp4")
    stream = container.add_stream("libx264", rate=12)
    stream.width, stream.height, stream.pix_fmt = SIZE, SIZE, "yuv420p"
    container.start_encoding()
    container.close()
    path.write_bytes(buffer.getvalue())


def expected_clip(frames: np.ndarray) -> np.ndarray:
    """What the test transform should give: segment centres, centre crop, as uint8 (T, H, W, 3)."""
    centres = ((np.arange(T) + 0.5) * len(frames) / T).astype(int)
    m = (SIZE - CROP) // 2
    return frames[centres, m:m + CROP, m:m + CROP]


def as_uint8(clip: torch.Tensor) -> np.ndarray:
    mean, std = torch.tensor(IMAGENET_MEAN)[:, None, None], torch.tensor(IMAGENET_STD)[:, None, None]
    return ((clip * std + mean) * 255).permute(0, 2, 3, 1).numpy()


def assert_round_trip(dataset, sources: dict[str, np.ndarray], labels: dict[str, str], tolerance: float = 8.0):
    assert len(dataset) == len(sources) and not dataset.dropped
    for index, entry in enumerate(dataset.entries):
        clip, label, issue = dataset[index]
        assert issue == 0 and clip.shape == (T, 3, CROP, CROP)
        assert dataset.classes[label] == labels[entry.id]
        error = np.abs(as_uint8(clip) - expected_clip(sources[entry.id])).mean()
        assert error < tolerance, (entry.id, error)


# --- round trips -----------------------------------------------------------------------------------------

def test_ssv1_frames_and_id_label_csv(workdir):
    (workdir / "something-something-v1-labels.csv").write_text("\n".join(CLASSES) + "\n")
    sources, labels = {}, {}
    for split, ids in [("train", ["100", "101", "102"]), ("validation", ["200"])]:
        lines = []
        for n, clip_id in enumerate(ids):
            sources[clip_id], labels[clip_id] = frames_of(int(clip_id)), CLASSES[n % 3]
            write_jpegs(workdir / "20bn-something-something-v1" / clip_id, sources[clip_id])
            lines.append(f"{clip_id};{labels[clip_id]}")
        (workdir / f"something-something-v1-{split}.csv").write_text("\n".join(lines) + "\n")
    train = build_dataset(workdir, "train", T, CROP, train=False)
    assert train.format == "ssv1" and train.classes == CLASSES and train.entries[0].frames
    assert not train.flip  # Something-Something without a flip map: never flipped
    assert_round_trip(train, {k: sources[k] for k in ["100", "101", "102"]}, labels)
    assert len(build_dataset(workdir, "val", T, CROP, train=False)) == 1


def test_ssv2_webm_and_json(workdir):
    (workdir / "labels.json").write_text(json.dumps({name: str(i) for i, name in enumerate(CLASSES)}))
    sources, labels = {}, {}
    for split, ids in [("train", ["7", "8"]), ("validation", ["9"])]:
        entries = []
        for n, clip_id in enumerate(ids):
            sources[clip_id], labels[clip_id] = frames_of(int(clip_id)), CLASSES[n + 1]
            write_webm(workdir / "20bn-something-something-v2" / f"{clip_id}.webm", sources[clip_id])
            template = labels[clip_id].replace("something", "[something]")
            entries.append({"id": clip_id, "label": template.replace("[something]", "a pen"),
                            "template": template, "placeholders": ["a pen"]})
        (workdir / f"{split}.json").write_text(json.dumps(entries, indent=4))
    train = build_dataset(workdir, "train", T, CROP, train=False)
    assert train.format == "ssv2" and train.entries[0].path.endswith("7.webm")
    assert_round_trip(train, {k: sources[k] for k in ["7", "8"]}, labels)
    assert build_dataset(workdir, "validation", T, CROP, train=False).labels == [CLASSES.index(labels["9"])]


def test_kinetics_csv_and_videos(workdir):
    sources, labels = {}, {}
    for split, folder, ids in [("train", "train", ["abc", "def", "ghi"]), ("validate", "val", ["jkl"])]:
        rows = [["label", "youtube_id", "time_start", "time_end", "split"]]
        for n, youtube_id in enumerate(ids):
            label = ["abseiling", "air drumming", "zumba"][n % 3]
            sources[youtube_id], labels[youtube_id] = frames_of(n + 3), label
            write_mp4(workdir / folder / label / f"{youtube_id}_000010_000020.mp4", sources[youtube_id])
            rows.append([label, youtube_id, 10, 20, split])
        with open(workdir / f"{split}.csv", "w", newline="") as handle:
            csv.writer(handle).writerows(rows)
    train = build_dataset(workdir, "train", T, CROP, train=False)
    assert train.format == "kinetics" and train.classes == ["abseiling", "air drumming", "zumba"]
    assert build_dataset(workdir, "train", T, CROP, train=True).flip  # scene data: flipped in training
    assert_round_trip(train, {k: sources[k] for k in ["abc", "def", "ghi"]}, labels)
    val = build_dataset(workdir, "val", 8, CROP, train=False, sampling="dense")
    assert len(val) == 1 and val[0][0].shape == (8, 3, CROP, CROP)


def test_tsm_list_with_videos_and_frame_folders(workdir):
    sources = {"a": frames_of(1), "b": frames_of(2)}
    write_mp4(workdir / "clips" / "a.mp4", sources["a"])
    write_jpegs(workdir / "frames" / "b", sources["b"], "img_{:05d}.jpg")
    (workdir / "category.txt").write_text("\n".join(CLASSES) + "\n")
    (workdir / "train_videofolder.txt").write_text(f"clips/a.mp4 {FRAMES} 2\nframes/b {FRAMES} 0\n")
    train = build_dataset(workdir, "train", T, CROP, train=False)
    assert train.format == "tsm" and [e.frames for e in train.entries] == [False, True]
    assert_round_trip(train, sources, {"a": CLASSES[2], "b": CLASSES[0]})
    direct = build_dataset(workdir / "train_videofolder.txt", "train", T, CROP, train=False)  # a list file as root
    assert direct.labels == [2, 0]


def test_synthetic_roots_read_as_every_format(workdir):
    root = synth.generate("synth-kinetics", "smoke", workdir / "k", workers=1, verbose=False)
    ssv2 = build_dataset(root, "train", T, 28, train=False)
    for fmt in ("kinetics", "tsm"):
        other = build_dataset(root, "train", T, 28, train=False, fmt=fmt)
        assert sorted(zip(other.labels, (Path(e.path).name for e in other.entries))) == \
            sorted(zip(ssv2.labels, (Path(e.path).name for e in ssv2.entries)))


# --- bad input -------------------------------------------------------------------------------------------

@pytest.fixture
def bad_root(workdir):
    """SSv2 layout with one entry of every bad kind."""
    videos = workdir / "videos"
    (workdir / "labels.json").write_text(json.dumps({name: str(i) for i, name in enumerate(CLASSES)}))
    for n, clip_id in enumerate(["good1", "good2", "good3"]):
        write_mp4(videos / f"{clip_id}.mp4", frames_of(n))
    data = synth.encode_mp4(frames_of(5), 12)
    (videos / "truncated.mp4").write_bytes(data[:len(data) // 2])
    write_zero_frame_mp4(videos / "zero.mp4")
    (videos / "text.mp4").write_text("this is not a video\n" * 20)
    write_mp4(videos / "short.mp4", frames_of(6, num_frames=2))
    write_mp4(videos / "unknown.mp4", frames_of(7))
    ids = ["good1", "truncated", "good2", "zero", "text", "short", "good3", "missing", "unknown"]
    entries = [{"id": i, "template": "Juggling [something]" if i == "unknown" else "Holding [something]"}
               for i in ids]
    (workdir / "train.json").write_text(json.dumps(entries, indent=1))
    (workdir / "validation.json").write_text("[]")
    return workdir


def test_bad_entries_are_dropped_at_construction(bad_root, caplog):
    with caplog.at_level(logging.WARNING, logger="cmrlib.data"):
        dataset = build_dataset(bad_root, "train", T, CROP, train=True)
    assert len(dataset) == 7
    assert dataset.dropped == {"missing": 1, "unknown_label": 1}
    assert "missing.webm|.mp4" in caplog.text and "missing video" in caplog.text
    assert "Juggling something" in caplog.text


def test_bad_videos_are_replaced_and_reported(bad_root, caplog):
    dataset = build_dataset(bad_root, "train", T, CROP, train=True)
    expected = {"good1": "ok", "truncated": "truncated", "zero": "zero_frames", "text": "not_a_video",
                "short": "short", "good2": "ok", "good3": "ok"}
    with caplog.at_level(logging.WARNING, logger="cmrlib.data"):
        for index, entry in enumerate(dataset.entries):
            clip, label, issue = dataset[index]
            assert clip.shape == (T, 3, CROP, CROP) and torch.isfinite(clip).all()
            assert issue == ISSUE_CODES[expected[entry.id]], entry.id
    assert "truncated.mp4: truncated" in caplog.text and "text.mp4: not_a_video" in caplog.text
    again = build_dataset(bad_root, "train", T, CROP, train=True)  # the replacement is deterministic
    assert torch.equal(again[1][0], dataset[1][0])
    # A whole epoch through a DataLoader: nothing crashes, every issue is counted.
    loader = torch.utils.data.DataLoader(dataset, batch_size=3, num_workers=0)
    issues = torch.cat([batch[2] for batch in loader]).tolist()
    assert sorted(issues) == sorted(ISSUE_CODES[name] for name in expected.values())
    # A file deleted after construction is reported as missing at load time.
    (bad_root / "videos" / "good2.mp4").unlink()
    assert dataset[[e.id for e in dataset.entries].index("good2")][2] == ISSUE_CODES["missing"]


def test_a_dataset_of_only_bad_videos_fails_clearly(workdir):
    (workdir / "labels.json").write_text(json.dumps({"Holding something": "0"}))
    (workdir / "videos").mkdir()
    for i in range(3):
        (workdir / "videos" / f"{i}.mp4").write_text("nope")
    (workdir / "train.json").write_text(json.dumps([{"id": str(i), "template": "Holding something"}
                                                    for i in range(3)]))
    with pytest.raises(RuntimeError, match="check-data"):
        build_dataset(workdir, "train", T, CROP, train=True)[0]


def test_bad_frame_folders(workdir):
    (workdir / "something-something-v1-labels.csv").write_text("Holding something\n")
    write_jpegs(workdir / "20bn-something-something-v1" / "1", frames_of(1))
    (workdir / "20bn-something-something-v1" / "2").mkdir()
    write_jpegs(workdir / "20bn-something-something-v1" / "3", frames_of(3))
    frame = workdir / "20bn-something-something-v1" / "3" / "00002.jpg"  # a frame that testing samples
    frame.write_bytes(frame.read_bytes()[:300])
    (workdir / "something-something-v1-train.csv").write_text("1;Holding something\n2;Holding something\n"
                                                             "3;Holding something\n4;Holding something\n")
    dataset = build_dataset(workdir, "train", T, CROP, train=False)
    assert dataset.dropped == {"missing": 1}
    assert [dataset[i][2] for i in range(3)] == [0, ISSUE_CODES["zero_frames"], ISSUE_CODES["truncated"]]


# --- malformed annotations ---------------------------------------------------------------------------------

def _raises_at(path: Path, line: int, call):
    with pytest.raises(AnnotationError) as error:
        call()
    assert f"{path}:{line}:" in str(error.value), str(error.value)


def test_malformed_ssv1_csv_names_file_and_line(workdir):
    (workdir / "something-something-v1-labels.csv").write_text("Holding something\n")
    csv_path = workdir / "something-something-v1-train.csv"
    csv_path.write_text("1;Holding something\n2;Holding something\n3 Holding something\n")
    _raises_at(csv_path, 3, lambda: build_dataset(workdir, "train", T, CROP, train=True))


def test_malformed_ssv2_json_names_file_and_line(workdir):
    (workdir / "labels.json").write_text(json.dumps({"Holding something": "0"}))
    (workdir / "videos").mkdir()
    path = workdir / "train.json"
    path.write_text('[\n {"id": "1", "template": "Holding something"},\n {"id": "2" "template": "x"}\n]\n')
    _raises_at(path, 3, lambda: build_dataset(workdir, "train", T, CROP, train=True))
    path.write_text('[\n {"id": "1", "template": "Holding something"},\n {\n  "id": "2"\n }\n]\n')
    _raises_at(path, 3, lambda: build_dataset(workdir, "train", T, CROP, train=True))
    (workdir / "labels.json").write_text(json.dumps({"Holding something": "3"}))
    _raises_at(workdir / "labels.json", 1, lambda: build_dataset(workdir, "train", T, CROP, train=True))


def test_malformed_kinetics_csv_and_tsm_list_name_file_and_line(workdir):
    path = workdir / "train.csv"
    path.write_text("label,youtube_id,time_start,time_end,split\nzumba,abc,0,10,train\nzumba,def,0\n")
    _raises_at(path, 3, lambda: build_dataset(workdir, "train", T, CROP, train=True))
    path.unlink()
    tsm = workdir / "train_videofolder.txt"
    tsm.write_text("a.mp4 10 0\nb.mp4 ten 1\n")
    _raises_at(tsm, 2, lambda: build_dataset(workdir, "train", T, CROP, train=True))


# --- check-data --------------------------------------------------------------------------------------------

def test_check_data_reports(bad_root, workdir, capsys):
    assert check.main([str(bad_root), "--frames", str(T), "--split", "train"]) == 1
    report = capsys.readouterr().out
    for text in ("truncated.mp4: truncated", "zero.mp4: zero_frames", "text.mp4: not_a_video",
                 "short.mp4: short", "dropped 1: missing", "dropped 1: unknown_label", "problem(s)"):
        assert text in report, text
    (bad_root / "train.json").write_text('[\n {"id": 1,}\n]')
    assert check.main([str(bad_root)]) == 2
    assert f"{bad_root / 'train.json'}:2:" in capsys.readouterr().out
    good = synth.generate("synth-longrange", "smoke", workdir / "good", workers=1, verbose=False)
    assert check.main([str(good)]) == 0
    assert "OK" in capsys.readouterr().out
