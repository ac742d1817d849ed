from l2s import cli
from tests.helpers import write_params


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
