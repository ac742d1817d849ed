"""Each evaluation stage stops with the missing path and the stage that makes it; the
evaluations of params.yaml are checked on load."""

import pytest

from l2s import config
from l2s.config import ConfigError
from l2s.evaluation import report, wer
from l2s.evaluation import test as evaluate
from tests.helpers import write_params


def test_test_stage_names_the_missing_checkpoint(workdir):
    with pytest.raises(FileNotFoundError, match=r"models/multi/best.pt.*dvc repro train@multi"):
        evaluate.run("multi-en")


def test_test_stage_names_the_missing_data(workdir):
    (workdir / "models/multi").mkdir(parents=True)
    (workdir / "models/multi/best.pt").write_bytes(b"")
    with pytest.raises(FileNotFoundError, match=r"data/processed/en.*dvc repro preprocess@en"):
        evaluate.run("multi-en")


def test_wer_stage_names_the_missing_test_outputs(workdir):
    with pytest.raises(FileNotFoundError, match=r"outputs/multi/es.*dvc repro test@multi-es"):
        wer.run("multi-es")


def test_report_names_the_missing_metrics(workdir):
    with pytest.raises(FileNotFoundError, match=r"reports/metrics/test/multi/en.json.*dvc repro test@multi-en"):
        report.results(config.load())


def test_unknown_evaluation(workdir):
    with pytest.raises(ConfigError, match="unknown evaluation 'multi-fr'.*multi-en"):
        evaluate.run("multi-fr")


def test_every_model_language_pair_must_be_evaluated(workdir):
    path = write_params(
        workdir, models={"m": {"languages": ["en", "es"]}}, evaluations={"m-en": {"model": "m", "lang": "en"}}
    )
    with pytest.raises(ConfigError, match=r"evaluations: .*add:\n  m-es: \{model: m, lang: es\}"):
        config.load(path)


def test_cross_lingual_pairs_and_their_names(workdir):
    cross = {"m-en": {"model": "m", "lang": "en"}, "m-zh": {"model": "m", "lang": "zh"}}
    params = config.load(write_params(workdir, models={"m": {"languages": ["en"]}}, evaluations=cross))
    assert list(params.evaluations) == ["m-en", "m-zh"]
    with pytest.raises(ConfigError, match="evaluations.zh: name it m-zh"):
        config.load(
            write_params(
                workdir, base=workdir / "params.yaml", evaluations={**cross, "zh": {"model": "m", "lang": "zh"}}
            )
        )
    with pytest.raises(ConfigError, match="evaluations.x-en.model: unknown model 'x'"):
        config.load(
            write_params(
                workdir, base=workdir / "params.yaml", evaluations={**cross, "x-en": {"model": "x", "lang": "en"}}
            )
        )


def test_a_model_may_not_be_called_asr(workdir):
    with pytest.raises(ConfigError, match="models.asr: the name is taken"):
        config.load(write_params(workdir, models={"asr": {"languages": ["en"]}}))
