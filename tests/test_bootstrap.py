import numpy as np
import pytest

from l2s.evaluation import bootstrap


def test_an_error_rate_interval_holds_the_rate_and_narrows_with_more_clips():
    rng = np.random.default_rng(0)
    widths = []
    for clips in (40, 400):
        counts = rng.integers(5, 30, clips)
        errors = rng.binomial(counts, 0.3)
        rate = bootstrap.rate_interval(errors, counts, ["en"] * clips, draws=500)
        assert rate.value == pytest.approx(errors.sum() / counts.sum())
        assert rate.low < rate.value < rate.high and rate.low < 0.3 < rate.high
        widths.append(rate.high - rate.low)
    assert widths[1] < widths[0] / 2  # ten times the clips: about a third of the width


def test_languages_are_resampled_apart_and_averaged():
    # every en clip 0.5, every zh clip 0.1: each draw keeps both languages' clip counts
    errors, counts, strata = [5] * 3 + [1] * 30, [10] * 33, ["en"] * 3 + ["zh"] * 30
    rate = bootstrap.rate_interval(errors, counts, strata, draws=200)
    assert (rate.value, rate.low, rate.high) == pytest.approx((0.3, 0.3, 0.3))


def test_a_paired_difference_sees_what_unpaired_spread_hides():
    rng = np.random.default_rng(1)
    counts = np.full(50, 20)
    hard = rng.integers(0, 15, 50)  # clips differ a lot in how hard they are
    better, worse = hard, hard + 1  # one run makes one edit more on every clip
    diff = bootstrap.paired_difference(worse, better, counts, ["en"] * 50, draws=300)
    assert (diff.value, diff.low, diff.high) == pytest.approx((0.05, 0.05, 0.05))
    assert diff.excludes_zero()
    alone = bootstrap.rate_interval(better, counts, ["en"] * 50, draws=300)
    assert alone.high - alone.low > 0.05  # each run's own interval is wider than the difference
    same = bootstrap.paired_difference(hard, hard, counts, ["en"] * 50, draws=50)
    assert not same.excludes_zero() and f"{same:+.2f}" == "+0.00 [+0.00, +0.00]"


def test_no_clips_is_an_error():
    with pytest.raises(ValueError, match="at least one clip"):
        bootstrap.rate_interval([], [], [])
