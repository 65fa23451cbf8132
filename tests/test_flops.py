"""FLOPs (multiply-adds) and parameters, against hand counts at ResNet-50, 8 x 224 x 224."""
import json

import pytest
import torch
from torch import nn

from cmrlib import METHODS, build_model
from cmrlib.flops import ROWS, count, format_table, main, table

FRAMES, SIZE = 8, 224
# ResNet-50 blocks at 224 px: (C_in, H_in, C_out, H_out) for the 16 bottlenecks
BLOCKS = ([(64, 56, 256, 56)] + [(256, 56, 256, 56)] * 2 + [(256, 56, 512, 28)] + [(512, 28, 512, 28)] * 3
          + [(512, 28, 1024, 14)] + [(1024, 14, 1024, 14)] * 5 + [(1024, 14, 2048, 7)] + [(2048, 7, 2048, 7)] * 2)


USED = ["tsn", "tsm", "tim", "teinet", "stm", "tea", "cmr", "cmr variant=released", "cmr r=1",
        "cmr sme=none (TIM+CME)", "cmr cme=none (TIM+SME)"]


@pytest.fixture(scope="module")
def rows():
    return {row["label"]: row for row in table(depth=50, frames=FRAMES, size=SIZE, classes=174, labels=USED)}


def macs(label, rows):
    return round(rows[label]["gmacs"] * 1e9)


def test_count_is_multiply_adds():
    model = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.Flatten(), nn.Linear(8 * 10 * 10, 7))
    assert count(model, (2, 3, 10, 10)) == (2 * (8 * 3 * 9 * 100 + 800 * 7), sum(p.numel() for p in model.parameters()))


def test_count_on_meta_equals_count_on_cpu():
    cpu = build_model("cmr", 5, 4, width=0.125, small_input=True)
    with torch.device("meta"):
        meta = build_model("cmr", 5, 4, width=0.125, small_input=True)
    assert count(cpu, (1, 4, 3, 32, 32)) == count(meta, (1, 4, 3, 32, 32))
    assert cpu.training  # count restores the mode


def test_table_lists_every_method_and_cmr_variant(rows):
    labels = [label for label, _, _ in ROWS]
    assert labels[:len(METHODS)] == list(METHODS)
    for label in ("cmr variant=released", "cmr r=1", "cmr r=4", "cmr r=16", "cmr variant=released r=16",
                  "cmr cme=part", "cmr sme=all", "cmr cme=part sme=all", "cmr tim=False (TSN+CME&SME)"):
        assert label in labels
    assert list(rows) == USED


def test_tsn_and_tsm_cost_what_the_papers_print(rows):
    assert macs("tsm", rows) == macs("tsn", rows)  # the shift has no multiply-adds
    assert abs(rows["tsn"]["gmacs"] - 32.9) / 32.9 < 0.01
    assert rows["tsn"]["params_m"] == pytest.approx(23.86, abs=0.01)
    assert rows["tsm"]["paper_gmacs"] == 32.9 and rows["tsm"]["paper_params_m"] == 23.9


def test_tim_adds_three_taps_per_input_element(rows):
    expected = sum(3 * c * h * h for c, h, _, _ in BLOCKS) * FRAMES
    assert macs("tim", rows) - macs("tsn", rows) == expected  # 0.135 G


def test_sme_part_costs_a_full_resolution_c_by_c_conv_in_four_blocks(rows):
    first = [BLOCKS[i] for i in (0, 3, 7, 13)]
    expected = sum(c * c * h * h for _, _, c, h in first) * FRAMES
    assert expected == pytest.approx(6.58e9, rel=0.001)
    assert macs("cmr cme=none (TIM+SME)", rows) - macs("tim", rows) == expected


def test_cme_cost_paper_versus_released(rows):
    cme_paper = macs("cmr sme=none (TIM+CME)", rows) - macs("tim", rows)
    # three C x C/8 projections of the pooled vector per frame, plus the (T x T) products
    pooled = sum(3 * c * c // 8 + 2 * FRAMES * c // 8 for c, _, _, _ in BLOCKS) * FRAMES
    assert cme_paper == pooled
    # released: the two reduce convs at full resolution (~6.2 G at r = 8, spec A.1.7)
    released = macs("cmr variant=released", rows) - macs("cmr", rows)
    full_resolution = sum(2 * c * c * h * h // 8 for c, h, _, _ in BLOCKS) * FRAMES
    assert released == full_resolution - sum(2 * c * c // 8 for c, _, _, _ in BLOCKS) * FRAMES
    assert full_resolution / 1e9 == pytest.approx(6.19, abs=0.01)


def test_cmr_costs_add_up(rows):
    parts = (macs("tim", rows) + (macs("cmr sme=none (TIM+CME)", rows) - macs("tim", rows))
             + (macs("cmr cme=none (TIM+SME)", rows) - macs("tim", rows)))
    assert macs("cmr", rows) == parts
    assert rows["cmr"]["paper_gmacs"] == 33 and rows["cmr r=1"]["paper_gmacs"] == 55


def test_method_costs_are_plausible(rows):
    tsn = rows["tsn"]["gmacs"]
    assert 0 < rows["stm"]["gmacs"] - tsn < 0.5  # STM: 33.3 vs 32.9
    assert 1 < rows["tea"]["gmacs"] - tsn < 3  # TEA: 35 vs 33 (Res2Net widths)
    assert rows["teinet"]["params_m"] == pytest.approx(29.88, abs=0.01)


def test_cli_json_and_text(capsys):
    assert main(["--depth", "18", "--frames", "4", "--size", "32", "--width", "0.25", "--small-input",
                 "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    labels = [row["label"] for row in rows]
    assert "stm" not in labels and "cmr" in labels  # STM and TEA need bottlenecks
    assert all(row["paper_gmacs"] is None for row in rows)  # not the papers' setting
    text = format_table(rows)
    assert "cmr variant=released r=4" in text and "GMACs" in text
