"""`l2s bench` prints one table with every figure the README quotes (demo preset only:
the paper preset's training steps take minutes on a CPU), and its figures add up."""

import re

import pytest

from l2s import cli

NUMBER = r"([\d.]+)"


def _row(table: str, pattern: str) -> tuple[float, ...]:
    match = re.search(pattern, table)
    assert match, f"no row matching {pattern!r} in:\n{table}"
    return tuple(float(g) for g in match.groups())


def test_bench_prints_the_whole_table_and_its_figures_agree(workdir, capsys):
    assert cli.main(["bench", "--clips", "4", "--presets", "demo"]) == 0
    table = capsys.readouterr().out
    assert "paper" not in table

    per_clip, speech, face, encode = _row(
        table, rf"corpus generation\s+{NUMBER} s/clip\s+speech {NUMBER} \+ face {NUMBER} \+ encode {NUMBER} s"
    )
    assert 0 < per_clip < 30 and min(speech, face, encode) > 0
    mesh_ms, mesh_fps = _row(table, rf"face mesh alone \(tracking\)\s+{NUMBER} ms/frame\s+{NUMBER} frames/s")
    assert 0.1 < mesh_ms < 200 and mesh_fps == pytest.approx(1000 / mesh_ms, rel=0.02)
    pre_fps, pre_ms, ratio = _row(
        table, rf"preprocessing, one core\s+{NUMBER} frames/s\s+{NUMBER} ms/frame = {NUMBER}x face mesh alone"
    )
    # preprocessing runs face mesh on every frame and more besides: never faster than it
    assert pre_ms == pytest.approx(1000 / pre_fps, rel=0.02) and ratio == pytest.approx(pre_ms / mesh_ms, rel=0.02)
    assert ratio > 0.8  # > 1 on a quiet machine; timing noise under load, not a bug, can dip it a little
    (loader,) = _row(table, rf"loader \(memory-mapped\)\s+{NUMBER} clips/s")
    assert loader > 10
    (peak,) = _row(table, rf"fp32 convolution peak\s+{NUMBER} GFLOP/s")
    assert peak > 1

    step, gflop, rate = _row(
        table, rf"demo \(fp32\) training step\s+{NUMBER} s\s+batch \d+ x 40, {NUMBER} GFLOP .* = {NUMBER} GFLOP/s"
    )
    assert rate == pytest.approx(gflop / step, rel=0.05, abs=1) and rate <= peak * 1.5
    for precision in ("fp32", "bf16"):
        seconds, rtf = _row(
            table, rf"demo \({precision}\) generator, 3 s clip\s+{NUMBER} s\s+real-time factor {NUMBER}"
        )
        assert rtf == pytest.approx(seconds / 3.0, abs=0.002)
    (griffin_lim,) = _row(table, rf"Griffin-Lim, 60 iterations\s+{NUMBER} s")
    assert 0 < griffin_lim < 10
    for preset in ("small", "full"):
        seconds, rtf = _row(table, rf"vocoder {preset}, 3 s clip\s+{NUMBER} s\s+real-time factor {NUMBER}")
        assert rtf == pytest.approx(seconds / 3.0, abs=0.0002)
        step, gflop = _row(table, rf"vocoder {preset} training step\s+{NUMBER} s\s+batch 16 x 0.32 s, {NUMBER} GFLOP")
        assert step > 0 and gflop > 0
    # the small preset is the CPU one: it vocodes faster than Griffin-Lim
    assert _row(table, rf"vocoder small, 3 s clip\s+{NUMBER} s")[0] < griffin_lim

    vocode = {}
    for vocoder in ("Griffin-Lim", "neural small"):
        rtf, total, *parts, faster = _row(
            table,
            rf"l2s speak, demo \(\w+\), {vocoder}, 3 s clip\s+RTF {NUMBER}\s+{NUMBER} s = decode {NUMBER}, "
            rf"crop {NUMBER}, generate {NUMBER}, vocode {NUMBER} s; {NUMBER}x faster than real time",
        )
        assert sum(parts) == pytest.approx(total, abs=0.005) and rtf == pytest.approx(total / 3.0, abs=0.002)
        assert faster == pytest.approx(3.0 / total, rel=0.05, abs=0.05)  # printed with one decimal
        vocode[vocoder] = parts[-1]

        # cold: a fresh `l2s speak` process, its start-up (imports, checkpoint, exit) and the same parts
        wall, start, *parts = _row(
            table,
            rf"l2s speak cold, demo \(\w+\), {vocoder}, 3 s clip\s+{NUMBER} s\s+a fresh process, median of 3: start-up "
            rf"and exit {NUMBER} \+ decode {NUMBER} \+ crop {NUMBER} \+ generate {NUMBER} \+ vocode {NUMBER} s",
        )
        # (not `wall > total`: a cold process against a warm call is a race under load)
        assert start + sum(parts) == pytest.approx(wall, abs=0.005) and start > 0
    assert vocode["neural small"] < vocode["Griffin-Lim"]


def test_bench_memory_rows_give_peak_memory_and_real_time_factor(workdir, capsys):
    """`--only memory`: a fresh `l2s speak` on a looped talking-face video of each length,
    its peak memory and real-time factor; a frame size that is not WxH is refused."""
    code = cli.main(["bench", "--only", "memory", "--clips", "4", "--presets", "demo", "--seconds", "4", "6"])
    assert code == 0
    table = capsys.readouterr().out
    for seconds in (4, 6):
        peak, wall, rtf, speech = _row(
            table,
            rf"l2s speak memory, demo, 360x288, {seconds} s\s+{NUMBER} MiB peak\s+{NUMBER} s wall, RTF {NUMBER} "
            rf"\(a fresh process\); {NUMBER} s of speech",
        )
        assert 100 < peak < 4000 and rtf == pytest.approx(wall / seconds, abs=0.003)
        assert speech == pytest.approx(seconds, abs=0.2)
    with pytest.raises(SystemExit):
        cli.main(["bench", "--only", "memory", "--sizes", "1080p"])
