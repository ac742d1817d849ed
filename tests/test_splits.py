import pytest

from l2s.config import ConfigError, SplitConfig
from l2s.splits import make_splits

CLIPS = {f"s{s}/u{u:03d}": f"s{s}" for s in range(1, 7) for u in range(50)}


def _speakers(ids):
    return {CLIPS[i] for i in ids}


def test_overlap_spreads_every_speaker_over_every_split():
    out = make_splits(CLIPS, SplitConfig(mode="overlap", val_fraction=0.1, test_fraction=0.2))
    assert sorted(sum(out.values(), [])) == sorted(CLIPS)  # a partition
    assert len(out["test"]) == 6 * 10 and len(out["val"]) == 6 * 5
    for split in out.values():
        assert _speakers(split) == {f"s{s}" for s in range(1, 7)}


def test_unseen_never_leaks_a_test_speaker():
    out = make_splits(CLIPS, SplitConfig(mode="unseen", unseen_speakers=2, val_fraction=0.1))
    test_spk = _speakers(out["test"])
    assert len(test_spk) == 2
    assert not test_spk & (_speakers(out["train"]) | _speakers(out["val"]))
    assert sorted(sum(out.values(), [])) == sorted(CLIPS)


def test_unseen_with_named_speakers():
    out = make_splits(CLIPS, SplitConfig(mode="unseen"), speakers=["s3"])
    assert _speakers(out["test"]) == {"s3"}
    with pytest.raises(ConfigError, match="not in the data"):
        make_splits(CLIPS, SplitConfig(mode="unseen"), speakers=["s9"])
    with pytest.raises(ConfigError, match="leaves no training speaker"):
        make_splits(CLIPS, SplitConfig(mode="unseen", unseen_speakers=6))


def test_speaker_specific_uses_only_that_speaker():
    out = make_splits(CLIPS, SplitConfig(mode="speaker"), speakers=["s2"])
    assert all(_speakers(s) == {"s2"} for s in out.values())
    assert sum(map(len, out.values())) == 50
    with pytest.raises(ConfigError, match="needs languages.<lang>.speakers"):
        make_splits(CLIPS, SplitConfig(mode="speaker"))


def test_deterministic_and_independent_of_order():
    cfg = SplitConfig(seed=3)
    a = make_splits(CLIPS, cfg)
    b = make_splits(dict(reversed(list(CLIPS.items()))), cfg)
    assert a == b
    assert make_splits(CLIPS, SplitConfig(seed=4)) != a
