"""The motion-cost reading: a nuisance that drives the errors is found, the others cost ~0."""

from __future__ import annotations

import numpy as np

from l2s.evaluation.motion_cost import PARTS, merge_runs, part_costs


def _rows(n: int = 300, seed: int = 0) -> list[dict]:
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(n):
        nuisance = {k: float(rng.uniform(0, 1)) for part in PARTS.values() for k in part}
        nuisance["crf"] = float(rng.integers(18, 31))
        # only compression (crf above 18) and the head's yaw cost phonemes, plus noise
        per = 0.1 + 0.02 * (nuisance["crf"] - 18) + 0.1 * nuisance["yaw"] + rng.normal(0, 0.02)
        lang = "en" if i % 2 else "zh"
        per += 0.05 if lang == "zh" else 0.0  # a language constant is not motion
        rows.append({"lang": lang, "clip_id": str(i), "edits": per * 40, "phonemes": 40, **nuisance})
    return rows


def test_the_part_that_drives_the_errors_is_found():
    costs = part_costs(_rows(), draws=200)
    assert abs(costs["compression"]["cost"] - 0.12) < 0.02  # mean crf 24: 6 x 0.02
    assert abs(costs["head turn"]["cost"] - 0.05) < 0.02  # mean yaw 0.5 x 0.1
    for part in ("drift and zoom", "blinks", "lighting"):
        c = costs[part]
        assert abs(c["cost"]) < 0.02 and c["low"] < 0 < c["high"], (part, c)
    assert costs["compression"]["low"] > 0.08
    assert costs["all clips"]["clips"] == 300


def test_runs_of_the_same_clips_are_merged():
    rows = _rows(10)
    merged = merge_runs([rows, rows])
    assert len(merged) == 10
    assert merged[0]["edits"] == 2 * rows[0]["edits"] and merged[0]["phonemes"] == 80


def test_switch_off_table_gives_each_part_its_paired_gain():
    from l2s.evaluation.motion_cost import switch_off_table

    rows = [
        {"lang": "en", "off": "nothing", "lip_per": 0.30},
        {"lang": "zh", "off": "nothing", "lip_per": 0.20},
        {"lang": "en", "off": "lighting", "lip_per": 0.20},
        {"lang": "zh", "off": "lighting", "lip_per": 0.10},
    ]
    table = switch_off_table(rows).splitlines()
    assert table[2] == "| nothing | 0.300 | 0.200 | 0.250 | +0.000 |"
    assert table[3] == "| lighting | 0.200 | 0.100 | 0.150 | +0.100 |"
