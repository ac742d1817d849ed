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


def _drawn(text: str):
    """The pixels of `text` drawn as a figure title with the current fonts."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    fig = plt.figure(figsize=(2, 0.6), dpi=60)
    fig.text(0.05, 0.3, text, fontsize=20)
    fig.canvas.draw()
    pixels = np.asarray(fig.canvas.buffer_rgba())[..., 0].copy()
    plt.close(fig)
    return pixels


def test_figures_draw_hanzi_with_a_font_that_has_them(recwarn):
    """Titles of the zh test clips: without a CJK font in the chain, matplotlib draws every
    Hanzi as the same box (and warns per glyph); with the chain, two characters differ."""
    import matplotlib.pyplot as plt

    from l2s.notebook import use_fonts

    plt.rcParams["font.family"] = ["DejaVu Sans"]
    assert (_drawn("语") == _drawn("言")).all()  # both the box: the check can fail
    chain = use_fonts(["放蓝在一 语言", "set blue"])
    assert chain[0] == "DejaVu Sans" and any("CJK" in name for name in chain), chain
    recwarn.clear()
    assert (_drawn("语") != _drawn("言")).any()
    assert not [w for w in recwarn if "missing from font" in str(w.message)]


def test_characters_without_any_font_are_named_once(caplog, monkeypatch):
    from matplotlib import font_manager

    from l2s.notebook import use_fonts

    dejavu_only = [f for f in font_manager.fontManager.ttflist if f.name.startswith("DejaVu")]
    monkeypatch.setattr(font_manager.fontManager, "ttflist", dejavu_only)  # a machine without CJK fonts
    monkeypatch.setattr(font_manager, "findSystemFonts", lambda: [])
    assert use_fonts(["语言 set"]) == ["DejaVu Sans"]
    assert "no installed font has 2 of the characters to draw (言语...)" in caplog.text
    assert "apt-get install fonts-noto-cjk" in caplog.text
