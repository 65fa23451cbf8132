"""cmrlib.bench on tiny models: the fields, the TSM ratio, the JSON output and the error messages.
Nothing here asserts a timing."""
import json

import pytest
import torch

from cmrlib import bench

TINY = {"depth": 18, "width": 0.125, "small_input": True, "size": 16, "frames": 4}
FAST = {"repeats": 2, "warmup": 0, "min_time": 0.0, "threads": 1}
SHAPE_ARGS = ["--depth", "18", "--width", "0.125", "--small-input", "--size", "16",
              "--repeats", "1", "--warmup", "0", "--min-time", "0", "--threads", "1"]
TINY_ARGS = [*SHAPE_ARGS, "--frames", "4"]


def test_model_benchmark_fields_and_tsm_ratio():
    rows = bench.model_benchmark(["tsm", "cmr", "cmr-released", "cmr:cme=part:sme=all"], **TINY, **FAST)
    assert [r["label"] for r in rows] == ["TSM", "CMR", "CMR (released)", "cmr:cme=part:sme=all"]
    by_label = {r["label"]: r for r in rows}
    tsm = by_label["TSM"]
    assert tsm["latency_vs_tsm"] == 1.0 and tsm["throughput_vs_tsm"] == 1.0
    for row in rows:
        assert row["latency_ms"] > 0 and row["throughput"] > 0 and row["latency_ms_cpu"] >= 0
        assert len(row["latency_ms_repeats"]) == 2 and len(row["throughput_repeats"]) == 2
        # the ratio is the median of the per-round ratios (two rounds: their mean)
        per_round = [a / b for a, b in zip(row["latency_ms_repeats"], tsm["latency_ms_repeats"])]
        assert row["latency_vs_tsm"] == pytest.approx(sum(per_round) / 2, rel=1e-2)
        assert (row["depth"], row["frames"], row["size"], row["mode"]) == (18, 4, 16, "inference")
        assert row["latency_batch"] == 1 and row["throughput_batch"] == 8
    assert by_label["CMR (released)"]["options"] == {"variant": "released"}
    assert by_label["cmr:cme=part:sme=all"]["options"] == {"cme": "part", "sme": "all"}
    # CMR adds CME and SME to the backbone, so it must count more multiply-adds than TSM
    assert by_label["CMR"]["gflops"] > tsm["gflops"]


def test_tsm_is_added_as_the_reference_and_table5_names_resolve():
    rows = bench.model_benchmark(["cme-part+sme-part"], latency_batch=1, throughput_batch=2, **TINY, **FAST)
    assert [r["label"] for r in rows] == ["TSM", "CMEpart+SMEpart"]
    assert rows[1]["options"] == {"cme": "part", "sme": "part"}
    assert rows[1]["throughput_batch"] == 2


def test_train_step_reports_ratios_to_tsm_and_tsn():
    rows = bench.model_benchmark(["tsn", "tsm"], train_step=True, train_batch=2, **TINY, **FAST)
    by_label = {r["label"]: r for r in rows}
    assert by_label["TSN"]["train_step_vs_tsn"] == 1.0 and by_label["TSM"]["train_step_vs_tsm"] == 1.0
    assert by_label["TSM"]["train_step_vs_tsn"] > 0
    assert all(r["mode"] == "train_step" and r["train_batch"] == 2 and "latency_ms" not in r for r in rows)


def test_train_step_updates_the_weights():
    config = bench.parse_config("tsm")
    model = bench.build(config, TINY, num_classes=5)
    before = [p.detach().clone() for p in model.parameters()]
    step = bench.TrainStep(model, torch.randn(2, 4, 3, 16, 16), 5, torch.device("cpu"), amp=False)
    step()
    assert any(not torch.equal(a, b) for a, b in zip(before, model.parameters()))


def test_cpu_clock_ratios_come_from_cpu_times():
    rows = bench.model_benchmark(["tsm", "tsn"], clock="cpu", **TINY, **FAST)
    tsn = rows[1]
    assert tsn["ratio_clock"] == "cpu"
    per_round = [a / b for a, b in zip(tsn["latency_ms_cpu_repeats"], rows[0]["latency_ms_cpu_repeats"])]
    assert tsn["latency_vs_tsm"] == pytest.approx(sum(per_round) / 2, rel=1e-2)


def test_profile_shape_reads_the_training_profile():
    from cmrlib.config import PROFILES

    shape = bench.profile_shape("cpu")
    assert shape == {name: PROFILES["cpu"][name] for name in bench.SHAPE_FIELDS}
    assert bench.profile_shape(None) == bench.R50_224
    assert bench.profile_shape("cpu", size=32)["size"] == 32


def test_repeat_rows_have_the_book_format():
    rows = bench.model_benchmark(["tsm"], **TINY, **FAST)
    flat = bench.repeat_rows(rows)
    assert [r["repeat"] for r in flat] == [0, 1]
    assert set(flat[0]) >= {"label", "method", "repeat", "latency_ms", "throughput", "latency_cpu_ms", "throughput_cpu",
                            "frames", "size", "depth", "width"}
    assert flat[1]["latency_ms"] == rows[0]["latency_ms_repeats"][1]


def test_cli_json_parses(capsys):
    assert bench.main(["model", "--methods", "tsm,tim+cme", "--json", *TINY_ARGS]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [r["label"] for r in rows] == ["TSM", "TIM+CME"]
    assert rows[0]["latency_vs_tsm"] == 1.0


def test_cli_text_table(capsys):
    assert bench.main(["model", "--methods", "tsm,tsn", *TINY_ARGS]) == 0
    out = capsys.readouterr().out
    assert "xTSM" in out and "TSN" in out and "latency at batch 1" in out


@pytest.mark.parametrize("methods, message", [
    ("tsm,foo", "unknown method or benchmark config 'foo'"),
    ("cmr:colour=red", "colour"),
    ("tsm:r=4", "do not apply to method 'tsm'"),
])
def test_bad_method_fails_with_a_clear_message(methods, message, capsys):
    with pytest.raises(ValueError, match=message):
        bench.parse_configs(methods)
    assert bench.main(["model", "--methods", methods, *TINY_ARGS]) == 2
    err = capsys.readouterr().err
    assert message in err and err.startswith("bench model:")


def test_cuda_options_are_refused_on_cpu():
    with pytest.raises(ValueError, match="CUDA options"):
        bench.model_benchmark(["tsm"], amp=True, **TINY, **FAST)


def test_pem_scaling_counts_serial_ops():
    rows = bench.pem_scaling((2, 4, 8), depth=18, width=0.125, small_input=True, size=16, models=False, **FAST)
    ops = {(r["label"], r["position"], r["frames"]): r["aten_ops"] for r in rows}
    for position in ("layer1.1", "layer4.1", "gate only"):
        pem = [ops["PEM (stand-in)", position, t] for t in (2, 4, 8)]
        cme = [ops["CME", position, t] for t in (2, 4, 8)]
        assert cme[0] == cme[1] == cme[2]  # CME: batched over T, the same kernels at every T
        assert pem[0] < pem[1] < pem[2]  # PEM: a loop over T launches more kernels as T grows
        assert pem[2] - pem[1] == 2 * (pem[1] - pem[0])  # ... linearly in T
    assert all(r["vs_first_t"] > 0 and r["latency_ms"] > 0 for r in rows)
    assert {r["vs_first_t"] for r in rows if r["frames"] == 2} == {1.0}


def test_pem_scaling_models_and_text(capsys):
    assert bench.main(["pem-scaling", "--frames", "2,4", *SHAPE_ARGS]) == 0
    out = capsys.readouterr().out
    assert "whole model" in out and "TIM+PEM (stand-in)" in out and "layer4.1" in out


# The speed work replaced autograd's default backward of the shift and of TIM's temporal conv by their
# written-out adjoints; gradcheck (float64, finite differences) proves them exact.
def test_temporal_shift_backward_is_its_adjoint():
    from cmrlib.modules.temporal_shift import _Shift

    x = torch.randn(2, 4, 16, 2, 3, dtype=torch.double, requires_grad=True)
    assert torch.autograd.gradcheck(lambda v: _Shift.apply(v, 2), (x,))


def test_temporal_conv_backward_matches_finite_differences():
    from cmrlib.modules.temporal_interaction import temporal_conv_op

    x = torch.randn(2, 4, 3, 5, dtype=torch.double, requires_grad=True)
    taps = torch.randn(3, 3, 1, dtype=torch.double, requires_grad=True)
    assert torch.autograd.gradcheck(temporal_conv_op, (x, taps))


def test_configs_with_their_own_shape_get_their_own_reference():
    sweep = [{"label": "TIM+CME", "method": "cmr", "options": {"sme": "none"}, "frames": t} for t in (2, 4)]
    rows = bench.model_benchmark(sweep, latency_batch=1, throughput_batch=1, **{**TINY, "frames": 2}, **FAST)
    assert [(r["label"], r["frames"]) for r in rows] == [("TSM", 2), ("TSM", 4), ("TIM+CME", 2), ("TIM+CME", 4)]
    assert all(r["latency_vs_tsm"] > 0 for r in rows)
    assert "frames=4" in bench.format_models(rows)


def test_heap_cache_is_recorded_and_can_be_left_off():
    kept = bench.model_benchmark(["tsm"], **TINY, **FAST)
    released = bench.model_benchmark(["tsm"], keep_freed_memory=False, **TINY, **FAST)
    assert isinstance(kept[0]["heap_cache"], bool) and released[0]["heap_cache"] is False
