import pytest

from l2s.config import ConfigError, SplitConfig
from l2s.data.splits import make_splits

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


def test_fixed_clips_keep_their_split_and_the_rest_follow_the_mode():
    cfg = SplitConfig(mode="overlap", val_fraction=0.2, test_fraction=0.2)
    fixed = {c: "test" for c, s in CLIPS.items() if s == "s1"}
    fixed |= {c: "train" for c, s in CLIPS.items() if s == "s2"}
    fixed["s3/u000"] = "val"
    fixed["elsewhere/u1"] = "test"  # not a clip of the data: ignored
    out = make_splits(CLIPS, cfg, fixed=fixed)
    assert sorted(sum(out.values(), [])) == sorted(CLIPS)  # still a partition
    free = make_splits({c: s for c, s in CLIPS.items() if c not in fixed}, cfg)
    for split, ids in out.items():
        pinned = [c for c, s in fixed.items() if s == split and c in CLIPS]
        assert ids == sorted(free[split] + pinned)
    assert make_splits(CLIPS, cfg, fixed={}) == make_splits(CLIPS, cfg)


def test_trainval_clips_are_divided_per_speaker_and_never_tested():
    fixed = {c: "trainval" for c in CLIPS}
    out = make_splits(CLIPS, SplitConfig(val_fraction=0.2, test_fraction=0.3), fixed=fixed)
    assert out["test"] == []
    for s in range(1, 7):
        assert sum(CLIPS[c] == f"s{s}" for c in out["val"]) == 10  # 20 % of each speaker's 50
    assert sorted(out["train"] + out["val"]) == sorted(CLIPS)


def test_a_corpus_that_fixes_every_clip_needs_no_mode_settings():
    fixed = {c: "test" if CLIPS[c] == "s6" else "train" for c in CLIPS}
    # neither mode could run on these clips alone, and neither has to
    for cfg, speakers in ((SplitConfig(mode="unseen", unseen_speakers=6), None), (SplitConfig(mode="speaker"), None)):
        out = make_splits(CLIPS, cfg, speakers, fixed=fixed)
        assert _speakers(out["test"]) == {"s6"} and out["val"] == []
    with pytest.raises(ValueError, match="split 'dev' is not one of train, val, test, trainval"):
        make_splits(CLIPS, SplitConfig(), fixed={"s1/u000": "dev"})
