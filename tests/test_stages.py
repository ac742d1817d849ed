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
    with pytest.raises(FileNotFoundError, match=r"reports/records/test/multi/en.json.*dvc repro test@multi-en"):
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


def test_report_shows_each_figure_with_its_interval(workdir):
    from l2s import paths

    ends = {"low": 0.5, "high": 0.7}
    for lang in ("en", "es", "zh"):
        scores = {"stoi": 0.6, "estoi": 0.4, "pesq_nb": 1.2, "pesq_wb": 1.1}
        lips = {"per": 0.2, "wer": 0.3, "cer": 0.25, "ci95": {"per": {"low": 0.15, "high": 0.25}}}
        test = {"clips": 48, **scores, "ceiling": scores, "ci95": {"stoi": ends}, "lip_reading": lips}
        paths.write_metrics("test", f"multi/{lang}", test)
        rates = {"wer": 0.6, "cer": 0.4}
        paths.write_metrics("wer", f"multi/{lang}", {"clips": 48, **rates, "ceiling": rates, "ci95": {"cer": ends}})
    table = report.interval_table(report.results(config.load()))
    en, zh = table.loc[("multi", "en")], table.loc[("multi", "zh")]
    assert en["STOI"] == "0.600 [0.500, 0.700]" and en["ESTOI"] == "0.400"  # no interval recorded: none shown
    assert (en["unit"], en["generated speech"]) == ("WER", "0.600")
    assert (zh["unit"], zh["generated speech"]) == ("CER", "0.400 [0.500, 0.700]")
    assert en["lip reading PER"] == "0.200 [0.150, 0.250]" and zh["lip reading"] == "0.250"


def test_report_sets_the_two_recognisers_and_the_naturalness_side_by_side(workdir):
    from l2s import paths

    def ends(low, high):
        return {"low": low, "high": high}

    for lang, (first, second, low, high) in {"en": (0.3, 0.32, -0.01, 0.05), "zh": (0.4, 0.5, 0.05, 0.15)}.items():
        natural = {"dnsmos_ovrl": 2.0, "dnsmos_sig": 2.5, "dnsmos_bak": 3.0}
        recorded = {k: v + 1 for k, v in natural.items()}
        test = {"clips": 48, "stoi": 0.6, **natural, "ceiling": {"stoi": 0.8, **recorded}, "recorded": recorded}
        paths.write_metrics("test", f"multi/{lang}", test)
        rates = {"wer": first, "cer": first}
        diff = {"difference": second - first, **ends(low, high)}
        other = {"wer": second, "cer": second, "ceiling": {"wer": 0.1, "cer": 0.05}, "ci95": {"cer": ends(0.4, 0.6)}}
        other["minus_first"] = {"wer": diff, "cer": diff}
        wer = {"clips": 48, **rates, "ceiling": rates, "ci95": {"cer": ends(0.3, 0.5), "wer": ends(0.2, 0.4)}}
        paths.write_metrics("wer", f"multi/{lang}", wer | {"second": other | {"ci95": {"wer": ends(0.25, 0.4)}}})
    params = config.load(
        write_params(
            workdir,
            evaluations={"multi-en": {"model": "multi", "lang": "en"}, "multi-zh": {"model": "multi", "lang": "zh"}},
            models={"multi": {"languages": ["en", "zh"]}},
        )
    )
    results = report.results(params)
    table = report.recogniser_table(results)
    en, zh = table.loc[("multi", "en")], table.loc[("multi", "zh")]
    assert en["verdict"] == "agree" and zh["verdict"] == "second: higher error"
    assert zh["unit"] == "CER" and zh["second minus first"] == "+0.100 [+0.050, +0.150]"
    assert en["first recogniser"] == "0.300 [0.200, 0.400]" and en["second recogniser: floor"] == 0.1
    note = report.recogniser_note(table)
    assert "disagree on 1 of 2" in note and "multi / zh" in note and "multi / en" not in note
    natural = report.naturalness_table(results)
    assert list(natural.loc[("multi", "en"), "OVRL"]) == [3.0, 3.0, 2.0]  # recorded, ceiling, generated
    assert ("DNSMOS OVRL", "recorded") in report.summary_table(results)
