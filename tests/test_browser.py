"""The report's browser check sees what a reader would: it must fail on a page with broken
parts, or its pass on the real report (tests/test_pipeline.py) would mean nothing."""

import base64
import io

import numpy as np
import soundfile as sf

from l2s.evaluation import browser


def _wav_uri() -> str:
    buf = io.BytesIO()
    sf.write(buf, np.zeros(1600, np.float32), 16000, format="WAV")
    return "data:audio/wav;base64," + base64.b64encode(buf.getvalue()).decode()


def _png_uri() -> str:
    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", (4, 4), "red").save(buf, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode()


def test_a_sound_page_has_no_problems(tmp_path):
    page = tmp_path / "ok.html"
    page.write_text(
        f'<html><body><h2>Language zh</h2><p>搬绿在甲三请</p><img src="{_png_uri()}">'
        f'<audio controls title="recorded" src="{_wav_uri()}"></audio></body></html>',
        encoding="utf-8",
    )
    shot = tmp_path / "ok.jpg"
    seen = browser.open_page(page, screenshot=shot)
    assert seen.problems() == []
    assert seen.sections == ["Language zh"] and "搬绿在甲三请" in seen.text
    assert seen.hanzi_distinct  # a CJK font draws them (make setup installs fonts-noto-cjk)
    assert len(seen.images) == 1 and len(seen.audio) == 1
    assert shot.read_bytes()[:2] == b"\xff\xd8"  # a JPEG


def test_broken_parts_are_each_reported(tmp_path):
    page = tmp_path / "bad.html"
    page.write_text(
        '<html><body><img src="data:image/png;base64,bm90IGFuIGltYWdl">'
        '<audio controls title="generated" src="missing.wav"></audio>'
        '<div class="jp-OutputArea-output" data-mime-type="application/vnd.jupyter.stderr">'
        '<pre class="jp-RenderedText" data-mime-type="application/vnd.jupyter.stderr">'
        "UserWarning: Glyph 25918 missing from font(s) DejaVu Sans.</pre></div>"
        '<script src="https://cdn.example.invalid/lib.js"></script></body></html>',
        encoding="utf-8",
    )
    problems = "\n".join(browser.open_page(page).problems())
    assert "image does not decode" in problems
    assert "audio does not load: player 'generated'" in problems
    assert "error output in the page: 'UserWarning: Glyph 25918" in problems
    assert "request failed: https://cdn.example.invalid/lib.js" in problems
