import dataclasses

import pytest

from l2s import config
from l2s.config import ConfigError
from tests.helpers import REPO, write_params


def test_repository_params_load():
    p = config.load(REPO / "params.yaml")
    assert set(p.languages) == {"en", "es", "zh"}
    assert p.preprocess.clip_frames == 75
    assert p.preprocess.samples_per_frame == 4 * p.preprocess.mel.hop
    assert (p.preprocess.crop.size, p.preprocess.crop.region, p.preprocess.mel.n_mels) == (88, "mouth", 80)
    assert p.preprocess.faces == "speaking"


@pytest.mark.parametrize(
    "sections, message",
    [
        ({"preprocess": {"fsp": 25}}, "preprocess.fsp: unknown key; allowed keys of preprocess: fps, fps_policy"),
        (
            {"preprocess": {"fps_policy": "keep"}},
            "preprocess.fps_policy: 'keep' is not allowed; choose one of: resample, drop",
        ),
        (
            {"preprocess": {"faces": "loudest"}},
            "preprocess.faces: 'loudest' is not allowed; choose one of: reject, largest, speaking",
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
        ({"corpus": {"motion": {"yaw": -2.0}}}, "corpus.motion.yaw: must be between 0 and 30, got -2.0"),
        ({"corpus": {"motion": {"roll": 90}}}, "corpus.motion.roll: must be between 0 and 45, got 90"),
        ({"corpus": {"motion": {"head": "yes"}}}, "corpus.motion.head: expected true or false"),
        ({"corpus": {"motion": {"blink": True}}}, "corpus.motion.blink: unknown key; allowed keys of corpus.motion"),
        ({"corpus": {"motion": {"blink_seconds": 0}}}, "corpus.motion.blink_seconds: must be between 0.04 and 1"),
        ({"corpus": {"motion": {"periods": [8.0, 1.0]}}}, "corpus.motion.periods: must be [fastest, slowest]"),
        ({"corpus": {"motion": {"crf": [30, 60]}}}, "corpus.motion.crf: must be [best, worst] with 0 <= best"),
        ({"corpus": {"motion": {"crf": [18.5, 30]}}}, "corpus.motion.crf[0]: expected an integer"),
        ({"corpus": {"motion": {"gain": 1.5}}}, "corpus.motion.gain: must be between 0 and 0.9, got 1.5"),
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
        # the model's sizes are checked on load, not after torchrun has started
        ({"train": {"preset": "papr"}}, "train.preset: unknown model preset 'papr'; choose one of: paper, demo"),
        ({"train": {"model": {"scale_chanels": [1]}}}, "train.model.scale_chanels: unknown model size knob"),
        ({"train": {"model": {"kernel": 4}}}, "model.kernel and model.stem_kernel: odd sizes needed"),
        ({"train": {"model": {"n_mels": 40}}}, "train.model.n_mels: set by the audio features (preprocess.mel)"),
        (
            {"models": {"m": {"languages": ["en"], "train": {"preset": "huge"}}}},
            "models.m.train.preset: unknown model preset 'huge'",
        ),
        # VCA-GAN's decoder makes 4 mel frames per video frame
        ({"preprocess": {"fps": 20.0}}, "mel.hop must be mel.sample_rate / fps / 4 = 200 samples"),
        ({"preprocess": {"mel": {"n_mels": 72}}}, "preprocess.mel.n_mels: VCA-GAN needs a multiple of 16"),
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
        "en_g4": {"source": "grid", "path": "/corpora/grid", "subject": "four"},
        "g1": {"source": "grid", "path": "/corpora/grid", "subject": "s34", "voice": "en-gb"},
        "lrs3": {"source": "lrs", "path": "/corpora/lrs3", "pretrain": False, "voice": "en"},
        "xx": {"source": "manifest", "path": "/corpora/all.csv", "voice": "none"},
        "yy": {"source": "manifest", "path": "/corpora/all.csv", "language": "yy-YY", "voice": "none"},
    }
    p = config.load(write_params(tmp_path, languages=languages))
    assert p.source("g1").subject == "s34" and p.source("lrs3").pretrain is False
    # a manifest's rows are picked by the language's key unless params name another value
    assert (p.source("xx").language, p.source("yy").language) == ("xx", "yy-YY")
    # the phonemizer's voice: given, the key's part before "_", or none at all
    assert [p.phoneme_voice(k) for k in ("g1", "en_g4", "xx")] == ["en-gb", "en", None]


def test_unknown_voice_names_the_closest(tmp_path):
    languages = {"de": {"source": "folder", "voice": "germn"}}
    with pytest.raises(
        config.ConfigError, match=r"languages\.de\.voice: espeak-ng has no voice 'germn'; closest: .*german"
    ):
        config.load(write_params(tmp_path, languages=languages))
    # a key that is no voice needs one
    with pytest.raises(config.ConfigError, match=r"languages\.qq\.voice: .*set the voice"):
        config.load(write_params(tmp_path, languages={"qq": {"source": "folder"}}))


def test_code_defaults_are_the_shipped_params():
    """A section left out of params.yaml, or a dataclass made in code, behaves as the
    repository's params.yaml says."""
    shipped = config.load(REPO / "params.yaml")
    for section in ("preprocess", "train", "test", "asr"):
        assert getattr(shipped, section) == type(getattr(shipped, section))(), section
    corpus = dataclasses.replace(shipped.corpus, languages={})
    assert corpus == config.CorpusConfig()


def test_other_mel_settings_build_a_model_that_fits_them():
    """A 512-point FFT at 20 fps (hop 200) passes params and trains: the model's mel and
    linear sizes follow the audio features."""
    import torch

    from l2s.data.features import magnitude, prepare
    from l2s.vcagan import losses
    from l2s.vcagan.model import Generator, normalise_frames
    from l2s.vcagan.presets import model_config

    cfg = config.parse(
        config.PreprocessConfig,
        {"fps": 20.0, "mel": {"n_fft": 512, "win": 512, "hop": 200, "n_mels": 64}},
        "preprocess",
    )
    model_cfg = model_config("demo", mel=cfg.mel)
    assert (model_cfg.n_mels, model_cfg.n_linear) == (64, 257)
    gen = Generator(model_cfg)
    frames = torch.randint(0, 255, (2, 8, 112, 112), dtype=torch.uint8)
    out = gen(normalise_frames(frames), torch.tensor([8, 6]))
    wave = torch.randn(2, 8 * cfg.samples_per_frame).numpy()
    linear = torch.stack([magnitude(prepare(w, cfg.mel), cfg.mel) for w in wave])
    mel = torch.zeros(2, 64, 32)
    assert out.mels[-1].shape == (2, 1, 64, 32) and linear.shape == out.linear[:, 0].shape
    assert torch.isfinite(losses.reconstruction(out, mel, linear, torch.tensor([8, 6])))
