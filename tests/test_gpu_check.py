"""gpu-check on the CPU: the dry run of the whole script (tiny sizes) and the CUDA-only paths it rehearses
(bfloat16 autocast and channels_last through the real train step, torch.compile), gradient coverage, the
targets, and the book's GPU pages. Nothing here asserts a timing."""
import dataclasses
import json
import math
import os
import shutil
from pathlib import Path

import pytest
import torch

from cmrlib import gpu_check, gpu_results
from cmrlib.checkpoint import build_model

ROOT = Path(__file__).resolve().parents[1]
LABELS = ["TSN", "TSM", "TIM", "TEINet", "STM", "TEA", "PEM (stand-in)", "CMR", "CMR (released)"]


@pytest.fixture(autouse=True)
def one_thread():
    """One torch thread, as the dry run itself: the tiny models gain nothing from more on a shared machine."""
    from cmrlib.bench import threads_set

    with threads_set(1):
        yield


@pytest.fixture(scope="module")
def dry(tmp_path_factory):
    """``python -m cmrlib gpu-check --dry-run``, in-process: (exit code, the JSON, the output folder)."""
    out = tmp_path_factory.mktemp("gpu-check")
    code = gpu_check.main(["--dry-run", "--out", str(out)])
    return code, json.loads((out / "gpu-check.json").read_text()), out


def plan(**changes):
    return dataclasses.replace(gpu_check.make_plan(dry_run=True), **changes)


def tiny(method="tsm", **changes):
    """(model, config, flags, batches) at the dry run's training shape."""
    p = plan(**changes)
    config = gpu_check.configlib.resolve(method, p.train_profile, {**p.train_shape, "batch_size": p.train_batch},
                                         validate=False)
    torch.manual_seed(0)
    model = build_model(config, 5)
    generator = torch.Generator().manual_seed(0)
    batches = [(torch.randn(2, 4, 3, 16, 16, generator=generator), torch.tensor([1, 3])) for _ in range(2)]
    flags = {"amp": p.amp, "channels_last": p.channels_last, "compile": False, "deterministic": False}
    return model, config, flags, batches


def test_dry_run_writes_the_json_with_provenance_and_every_section(dry):
    code, result, _ = dry
    assert code == 0 and result["ok"] and result["errors"] == {}
    assert result["format"] == gpu_check.FORMAT and result["dry_run"] is True
    assert set(result["provenance"]) >= {"git_commit", "torch_version", "cuda_version", "driver", "device_name",
                                         "cudnn_version", "utc_time"}
    assert set(result["seconds"]) >= set(gpu_check.SECTIONS)
    assert all(isinstance(result["seconds"][name], float) for name in gpu_check.SECTIONS)
    assert result["plan"]["amp"] and result["plan"]["channels_last"] and result["plan"]["device"] == "cpu"


def test_dry_run_trains_every_method_with_finite_losses_and_gradients_everywhere(dry):
    _, result, _ = dry
    rows = result["steps"] + result["compile"]
    assert [r["label"] for r in rows] == LABELS + ["CMR compiled (aot_eager)"]
    for row in rows:
        assert row["ok"] and row["finite"] and row["error"] is None, row
        assert len(row["losses"]) == 2 and all(math.isfinite(v) and v > 0 for v in row["losses"])
        assert row["no_grad"] == [] and row["trainable"] > 0
        assert row["amp"] and row["channels_last"] and (row["depth"], row["frames"]) == (18, 4)
    assert rows[-1]["compile"] == "aot_eager" and rows[-1]["method"] == "cmr"
    assert rows[LABELS.index("CMR (released)")]["options"] == {"variant": "released"}


def test_dry_run_times_table7_pem_and_a_training_run(dry):
    _, result, _ = dry
    table7 = {r["label"]: r for r in result["table7"]["fp32"]}
    assert set(LABELS) | {"TIM+CME", "TIM+SME", "CMEpart+SMEpart"} <= set(table7)
    assert table7["TSM"]["latency_vs_tsm"] == 1.0 and table7["CMR"]["throughput_vs_tsm"] > 0
    assert table7["CMR"]["latency_batch"] == 1 and table7["CMR"]["throughput_batch"] == 8
    assert {r["frames"] for r in result["pem"]} == {8, 16, 32}
    run = result["run"]
    assert run["clips_per_s"] > 0 and run["step_clips_per_s"] > 0 and run["loss_finite"]
    assert [e["epoch"] for e in run["epochs"]] == [1, 2] and run["full_run"]["estimated_train_s"] > 0


def test_dry_run_evaluates_every_target_and_profiles_the_misses(dry):
    _, result, out = dry
    targets = {t["name"]: t for t in result["targets"]}
    assert set(targets) == {"cmr_latency_fp32", "cmr_throughput_fp32", "teinet_latency_fp32", "pem_growth"}
    for target in targets.values():
        assert isinstance(target["passed"], bool) and target["value"] is not None
        if not target["passed"]:  # a miss gets a torch.profiler table of its models
            text = (out / target["profile"]).read_text()
            assert "Self CPU" in text and text.startswith("== ")
    assert sorted(result.get("profiles", {})) == sorted(n for n, t in targets.items() if not t["passed"])
    summary = gpu_check.summary(result)
    assert "DRY RUN" in summary and "4. targets:" in summary and ("PASS" in summary or "MISS" in summary)


def test_gradient_coverage_flags_a_parameter_that_gets_no_gradient():
    model, config, flags, batches = tiny()
    model.unused = torch.nn.Parameter(torch.zeros(3))  # registered, never used in forward
    model.frozen = torch.nn.Parameter(torch.zeros(3), requires_grad=False)  # not trainable: not reported
    row = gpu_check.training_check(model, config, flags, "cpu", batches)
    assert row["finite"] and row["no_grad"] == ["unused"]


def test_a_non_finite_loss_is_reported():
    model, config, flags, batches = tiny(amp=False)
    with torch.no_grad():
        model.fc.weight.fill_(float("nan"))
    row = gpu_check.training_check(model, config, flags, "cpu", batches)
    assert not row["finite"] and "loss became nan" in row["error"]


@pytest.mark.parametrize("amp, dtype", [(True, torch.bfloat16), (False, torch.float32)])
def test_bf16_autocast_on_the_cpu_runs_through_the_real_train_step(amp, dtype):
    model, config, flags, batches = tiny(amp=amp, channels_last=False)
    seen = []
    model.conv1.register_forward_hook(lambda module, args, output: seen.append(output.dtype))
    before = model.conv1.weight.detach().clone()
    row = gpu_check.training_check(model, config, flags, "cpu", batches)
    assert row["finite"] and row["no_grad"] == []
    assert seen and set(seen) == {dtype}
    assert model.conv1.weight.dtype == torch.float32 and not torch.equal(before, model.conv1.weight)


def test_channels_last_train_steps_match_the_contiguous_ones():
    rows, weights = [], []
    for channels_last in (False, True):
        model, config, flags, batches = tiny("cmr", amp=False, channels_last=channels_last)
        rows.append(gpu_check.training_check(model, config, flags, "cpu", batches))
        weights.append(model.conv1.weight)
    assert weights[1].is_contiguous(memory_format=torch.channels_last)
    assert not weights[0].is_contiguous(memory_format=torch.channels_last)
    assert rows[0]["losses"] == pytest.approx(rows[1]["losses"], rel=1e-4)
    assert torch.allclose(weights[0], weights[1], atol=1e-5)


# Measured on the 2-core development machine: inductor takes ~160 s for one tiny TSM forward + backward (C++
# code generation and compilation), over the one-minute budget of a test; the dry run compiles CMR with the
# aot_eager backend instead (dynamo + AOT autograd, ~15 s), so only inductor's code generation is left out.
@pytest.mark.skipif(os.environ.get("CMR_TEST_INDUCTOR") != "1",
                    reason="inductor takes ~160 s on this 2-core CPU (> 1 minute); set CMR_TEST_INDUCTOR=1 to run it")
@pytest.mark.skipif(not (shutil.which("cc") or shutil.which("gcc") or shutil.which("clang")),
                    reason="no C compiler: torch.compile's inductor backend cannot build its CPU kernels")
def test_torch_compile_inductor_smoke():
    row = gpu_check.check_method("tsm", plan(amp=False, channels_last=False), compile_backend="inductor")
    assert row["ok"], row


def test_trace_names_the_device_and_the_cuda_flags():
    from cmrlib.bench import trace

    text = trace("tsm", shape={**gpu_check.TINY}, repeats=1, warmup=0, top=5, amp=True, channels_last=True)
    assert text.startswith("== TSM:") and "CPU" in text and "bfloat16 autocast" in text and "channels_last" in text


def test_targets_pass_miss_and_missing_figures():
    rows = [{"label": "TSM", "latency_vs_tsm": 1.0, "throughput_vs_tsm": 1.0},
            {"label": "CMR", "latency_vs_tsm": 1.2, "throughput_vs_tsm": 0.7}]
    pem = [{"kind": "model", "frames": t, "label": label, "vs_first_t": growth * t / 8}
           for t in (8, 32) for label, growth in (("TIM+PEM (stand-in)", 1.0), ("TIM+CME", 0.5))]
    targets = {t["name"]: t for t in gpu_check.evaluate_targets({"table7": {"amp": rows}, "pem": pem})}
    assert targets["cmr_latency_amp"]["passed"] is True and targets["cmr_throughput_amp"]["passed"] is False
    assert targets["teinet_latency_amp"]["passed"] is None  # TEINet not timed: no verdict
    assert targets["pem_growth"]["passed"] is True and targets["pem_growth"]["value"] == 4.0
    assert gpu_check.evaluate_targets({})[0]["passed"] is None


def test_the_command_is_registered_and_refuses_what_it_cannot_do(capsys):
    from cmrlib.__main__ import COMMANDS

    assert COMMANDS["gpu-check"][0] == "cmrlib.gpu_check"
    assert gpu_check.main(["--dry-run", "--skip", "everything"]) == 2
    assert "unknown section" in capsys.readouterr().err
    if not torch.cuda.is_available():
        assert gpu_check.main([]) == 2
        assert "--dry-run" in capsys.readouterr().err


def test_book_pages_show_a_committed_gpu_result_beside_the_cpu_figures(dry, tmp_path, capsys):
    assert gpu_results.stored_results(tmp_path) == [] and gpu_results.page("table7", tmp_path) is None
    assert gpu_results.show("pem", tmp_path) is None
    assert capsys.readouterr().out.strip() == gpu_results.NO_RESULT  # one sentence
    shutil.copytree(ROOT / "runs" / "benchmarks" / "2026-11-21-cpu", tmp_path / "runs" / "benchmarks" / "2026-11-21-cpu")
    _, result, _ = dry
    dry_copy = tmp_path / "runs" / "benchmarks" / "dry" / "gpu-check.json"  # a dry run is never shown
    dry_copy.parent.mkdir(parents=True)
    dry_copy.write_text(json.dumps(result))
    assert gpu_results.page("table7", tmp_path) is None
    gpu = {**result, "dry_run": False, "provenance": {**result["provenance"], "device": "cuda", "device_name": "NVIDIA H200"}}
    stored = tmp_path / "runs" / "benchmarks" / "2099-01-01-nvidia-h200" / "gpu-check.json"
    stored.parent.mkdir(parents=True)
    stored.write_text(json.dumps(gpu))
    assert [r["path"] for r in gpu_results.stored_results(tmp_path)] == ["runs/benchmarks/2099-01-01-nvidia-h200/gpu-check.json"]
    table = gpu_results.show("table7", tmp_path)
    assert "runs/benchmarks/2099-01-01-nvidia-h200/gpu-check.json" in capsys.readouterr().out
    sources = list(dict.fromkeys(table.columns.get_level_values(0)))
    assert sources == ["CPU: AMD EPYC CPU, 1 thread(s)", "GPU: NVIDIA H200, fp32", "paper: Tesla V100"]
    assert table.loc["TSM", ("GPU: NVIDIA H200, fp32", "latency / TSM")] == 1.0
    assert table.loc["CMR", ("paper: Tesla V100", "latency / TSM")] == pytest.approx(1.74, abs=0.01)
    pem = gpu_results.page("pem", tmp_path)
    assert list(dict.fromkeys(pem.columns.get_level_values(0))) == ["CPU: AMD EPYC CPU, 1 thread(s)", "GPU: NVIDIA H200, fp32"]
    assert ("whole model", "TIM+PEM (stand-in)") in pem.index
    assert pem.loc[("whole model", "TIM+CME"), ("GPU: NVIDIA H200, fp32", "T=32 ms")] > 0
