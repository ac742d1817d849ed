import pytest

from l2s import config
from l2s.config import ConfigError
from tests.helpers import REPO, write_params


def test_repository_params_load():
    p = config.load(REPO / "params.yaml")
    assert set(p.languages) == {"en", "es", "zh"}
    assert p.preprocess.clip_frames == 75
    assert p.preprocess.mels_per_frame == 4
    assert p.preprocess.crop.size == 112 and p.preprocess.mel.n_mels == 80


@pytest.mark.parametrize(
    "sections, message",
    [
        ({"preprocess": {"fsp": 25}}, "preprocess.fsp: unknown key; allowed keys of preprocess: fps, fps_policy"),
        (
            {"preprocess": {"fps_policy": "keep"}},
            "preprocess.fps_policy: 'keep' is not allowed; choose one of: resample, drop",
        ),
        (
            {"preprocess": {"crop": {"size": 112, "region": "lips"}}},
            "preprocess.crop.region: 'lips' is not allowed; choose one of: face, mouth",
        ),
        ({"preprocess": {"crop": {"gray": "false"}}}, "preprocess.crop.gray: expected true or false"),
        ({"preprocess": {"workers": 1.5}}, "preprocess.workers: expected an integer"),
        (
            {"preprocess": {"split": {"val_fraction": 0.6, "test_fraction": 0.5}}},
            "val_fraction + test_fraction must be below 1",
        ),
        ({"corpus": {"speakers": 0}}, "corpus.speakers: must be positive"),
        (
            {"languages": {"fr": {"source": "synthetic"}}},
            "languages.fr: source is 'synthetic' but corpus.languages has no entry 'fr'",
        ),
        (
            {"languages": {"fr": {"source": "youtube"}}},
            "languages.fr.source: 'youtube' is not allowed; choose one of: synthetic, folder",
        ),
        (
            {"languages": {"g": {"source": "grid", "subject": "five"}}},
            "languages.g.subject: 'five' is not a GRID subject setting; choose one of: four (s1, s2, s4, s29), overlap",
        ),
        ({"languages": {"g": {"source": "grid", "subject": "s21"}}}, "not s21: GRID has no video of s21"),
        ({"languages": {"g": {"source": "grid"}}}, "languages.g.subject: GRID needs a subject setting"),
        ({"languages": {"xx": {"source": "folder", "subject": "s1"}}}, "languages.xx.subject: only for source grid"),
        (
            {"languages": {"xx": {"source": "manifest", "pretrain": False}}},
            "languages.xx.pretrain: only for source lrs",
        ),
        ({"preprocess": {"mel": {"fmax": 9000.0}}}, "fmax <= sample_rate/2"),
        ({"preprocess": {"smooth_window": 4}}, "preprocess.smooth_window must be a positive odd number"),
        ({"models": {"m": {"languages": ["en"], "train": {"stpes": 3}}}}, "models.m.train.stpes: unknown key"),
        ({"train": {"precision": "fp8"}}, "train.precision: 'fp8' is not allowed; choose one of: auto, fp32, bf16"),
        ({"train": {"nproc": "many"}}, "train.nproc: 'auto' or a positive number of processes"),
        ({"colour": {}}, "colour: unknown key; allowed keys of params.yaml: languages, corpus, preprocess, train"),
    ],
)
def test_bad_values_name_the_key(tmp_path, sections, message):
    path = write_params(tmp_path, **sections)
    with pytest.raises(ConfigError) as err:
        config.load(path)
    assert message in str(err.value)


def test_unknown_language_lookup_names_the_known_ones():
    p = config.load(REPO / "params.yaml")
    with pytest.raises(ConfigError, match="unknown language 'xx'; params.yaml languages: en, es, zh"):
        p.source("xx")


def test_fingerprint_follows_values():
    a = config.PreprocessConfig()
    b = config.PreprocessConfig(clip_seconds=2.0)
    assert config.fingerprint(a) == config.fingerprint(config.PreprocessConfig())
    assert config.fingerprint(a) != config.fingerprint(b)


def test_a_folder_language_cannot_share_its_folder_with_the_corpus(tmp_path):
    path = write_params(tmp_path, languages={"en": {"source": "folder"}})
    with pytest.raises(ConfigError, match="would generate a synthetic corpus into the same folder"):
        config.load(path)


def test_a_model_naming_an_unknown_language_fails_when_trained(tmp_path):
    params = config.load(write_params(tmp_path, models={"m": {"languages": ["fr"]}}))
    with pytest.raises(ConfigError, match=r"models.m.languages: \['fr'\] not in languages"):
        params.train_config("m")


def test_real_corpus_sources_load(tmp_path):
    languages = {
        "g4": {"source": "grid", "path": "/corpora/grid", "subject": "four"},
        "g1": {"source": "grid", "path": "/corpora/grid", "subject": "s34"},
        "lrs3": {"source": "lrs", "path": "/corpora/lrs3", "pretrain": False},
        "xx": {"source": "manifest", "path": "/corpora/all.csv"},
        "yy": {"source": "manifest", "path": "/corpora/all.csv", "language": "yy-YY"},
    }
    p = config.load(write_params(tmp_path, languages=languages))
    assert p.source("g1").subject == "s34" and p.source("lrs3").pretrain is False
    # a manifest's rows are picked by the language's key unless params name another value
    assert (p.source("xx").language, p.source("yy").language) == ("xx", "yy-YY")
