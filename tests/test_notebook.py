import pytest

from l2s.config import ConfigError
from l2s.notebook import check_param


def test_a_missing_or_misspelt_notebook_parameter_stops_the_run():
    # papermill -p lagn en leaves `lang` at its default None and only warns
    with pytest.raises(ConfigError, match="parameter 'lang' was not given"):
        check_param(None, "lang", ["en", "es"])
    with pytest.raises(ConfigError, match="lang='fr' is not in params.yaml; one of: en, es"):
        check_param("fr", "lang", ["en", "es"])
    assert check_param("es", "lang", ["en", "es"]) == "es"
