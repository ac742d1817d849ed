import shutil

from l2s import cli
from tests.helpers import REPO, write_params


def test_params_command_validates(workdir, capsys):
    assert cli.main(["params"]) == 0
    assert "params OK" in capsys.readouterr().out
    write_params(workdir, preprocess={"fsp": 25})
    assert cli.main(["params"]) == 2


def test_unknown_language_is_a_clear_error(workdir, caplog):
    assert cli.main(["preprocess", "xx"]) == 2
    assert "languages: unknown ['xx']; params.yaml has: en, es, zh" in caplog.text


def test_unknown_evaluation_is_a_clear_error(workdir, caplog):
    assert cli.main(["wer", "multi-fr"]) == 2
    assert "evaluations: unknown ['multi-fr']; params.yaml has: multi-en, multi-es, multi-zh" in caplog.text


def test_params_goes_before_or_after_the_subcommand(workdir, capsys):
    other = workdir / "other"
    other.mkdir()
    write_params(other, languages={"en": {"source": "synthetic"}})
    for argv in (
        ["--params", str(other / "params.yaml"), "params"],
        ["params", "--params", str(other / "params.yaml")],
    ):
        assert cli.main(argv) == 0
        assert "languages en\n" in capsys.readouterr().out
    assert cli.main(["params"]) == 0  # without it: the repository's
    assert "languages en, es, zh" in capsys.readouterr().out


def test_report_without_results_names_the_stage_to_run(workdir, caplog):
    # the report notebook runs, finds no test metrics, and the error says which stage makes them
    (workdir / "notebooks").mkdir()
    shutil.copy(REPO / "notebooks" / "06_report.ipynb", workdir / "notebooks")
    assert cli.main(["report"]) == 2
    assert "dvc repro test@multi-en" in caplog.text


def test_l2s_speak_has_the_real_signature():
    import inspect

    import l2s
    from l2s.vcagan import speak

    assert l2s.speak is speak.speak
    params = inspect.signature(l2s.speak).parameters
    assert list(params)[:5] == ["video", "model", "output", "mux", "face_index"]
    assert {"device", "language", "vocoder", "precision"} <= set(params)
