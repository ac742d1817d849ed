"""`l2s bench` prints one table with every figure the README quotes (demo preset only:
the paper preset's training steps take minutes on a CPU)."""

import re

from l2s import cli


def test_bench_prints_the_whole_table(workdir, capsys):
    assert cli.main(["bench", "--clips", "4", "--presets", "demo"]) == 0
    table = capsys.readouterr().out
    expected = [
        r"corpus generation\s+[\d.]+ s/clip",
        r"face mesh alone \(tracking\)\s+[\d.]+ ms/frame",
        r"preprocessing, one core\s+\d+ frames/s .* = [\d.]+x face mesh alone",
        r"loader \(memory-mapped\)\s+\d+ clips/s",
        r"fp32 convolution peak\s+\d+ GFLOP/s",
        r"demo \(fp32\) training step\s+[\d.]+ s .* = \d+ GFLOP/s",
        r"demo \(bf16\) generator, 3 s clip\s+[\d.]+ s",
        r"l2s speak, demo \(\w+\), 3 s clip\s+RTF [\d.]+\s+[\d.]+ s = decode [\d.]+, crop [\d.]+, generate [\d.]+, "
        r"vocode [\d.]+ s; [\d.]+x faster than real time",
    ]
    for row in expected:
        assert re.search(row, table), f"no row matching {row!r} in:\n{table}"
    assert "paper" not in table
