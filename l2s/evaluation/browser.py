"""The report as a reader's browser shows it: a headless Chromium opens reports/report.html,
reports what a reader would notice (error output, images that do not decode, players
without sound, text drawn in boxes for want of a font) and takes the screenshot the
repository shows.

Chromium is Debian's `chromium-headless-shell` (or any Chromium: $L2S_CHROMIUM), driven
by playwright without its own browser download; `make setup` installs both.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path

BROWSERS = ("chromium-headless-shell", "chromium", "chromium-browser")
INSTALL = "sudo apt-get install -y chromium-headless-shell fonts-noto-cjk fonts-noto-core (or: make setup)"

# Runs in the page once every image and player has had its chance to load. A character
# without a glyph in any font is drawn as the same box (.notdef) whatever the character,
# so two different CJK characters of equal measured width *and* equal pixels would be
# boxes; a font that has them draws them differently.
_SURVEY = """async () => {
  const STDERR = '.jp-RenderedText[data-mime-type="application/vnd.jupyter.stderr"], ' +
                 '.jp-OutputArea-output.jp-mod-error, .output_stderr, .output_error';
  await Promise.all([...document.images].map(i => i.decode().catch(() => null)));
  await Promise.all([...document.querySelectorAll('audio')].map(a => a.readyState >= 1 ? null :
      new Promise(ok => { a.addEventListener('loadedmetadata', ok); a.addEventListener('error', ok);
                          setTimeout(ok, 5000); a.load(); })));
  const glyphs = (text) => {
    const c = document.createElement('canvas'); c.width = 64; c.height = 64;
    const g = c.getContext('2d'); g.font = '48px ' + getComputedStyle(document.body).fontFamily;
    g.fillText(text, 4, 52); return c.toDataURL();
  };
  return {
    images: [...document.images].map(i => ({src: i.src.slice(0, 60), ok: i.complete && i.naturalWidth > 0})),
    audio: [...document.querySelectorAll('audio')].map(a => ({ok: a.readyState >= 1 && a.duration > 0,
                                                              title: a.title || ''})),
    error_blocks: [...document.querySelectorAll(STDERR)].map(e => e.innerText.slice(0, 200)),
    sections: [...document.querySelectorAll('h2')].map(h => h.innerText.replace('¶', '').trim()),
    hanzi_distinct: glyphs('语') !== glyphs('言'),
    text: document.body.innerText,
  };
}"""


@dataclass
class Page:
    """What a reader meets in the page."""

    console: list[str] = field(default_factory=list)  # the browser's error and warning messages
    failed_requests: list[str] = field(default_factory=list)
    images: list[dict] = field(default_factory=list)
    audio: list[dict] = field(default_factory=list)
    error_blocks: list[str] = field(default_factory=list)  # stderr or error output cells
    sections: list[str] = field(default_factory=list)  # the h2 headings
    hanzi_distinct: bool = False  # two Hanzi drawn as two glyphs, not two boxes
    text: str = ""

    def problems(self) -> list[str]:
        """What a reader would report, one line each (empty: the page reads well)."""
        out = [f"console: {m}" for m in self.console] + [f"request failed: {r}" for r in self.failed_requests]
        out += [f"image does not decode: {i['src']}" for i in self.images if not i["ok"]]
        out += [f"audio does not load: player {a['title']!r}" for a in self.audio if not a["ok"]]
        out += [f"error output in the page: {e!r}" for e in self.error_blocks]
        return out


def chromium() -> str:
    """The Chromium executable to drive, or an error that says how to install one."""
    for name in filter(None, (os.environ.get("L2S_CHROMIUM"), *BROWSERS)):
        path = shutil.which(name) or (name if Path(name).is_file() else None)
        if path:
            return path
    raise FileNotFoundError(f"no headless Chromium found ({', '.join(BROWSERS)} or $L2S_CHROMIUM); install: {INSTALL}")


def open_page(html: str | Path, screenshot: str | Path | None = None, width: int = 1200) -> Page:
    """Open `html` in headless Chromium as a reader would (no network: the page must carry
    everything), survey it and, with `screenshot`, save the whole page as an image (.png,
    or .jpg: a fraction of the size for a long page)."""
    from playwright.sync_api import sync_playwright

    page_info = Page()
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium(), args=["--no-sandbox"])
        try:
            page = browser.new_page(viewport={"width": width, "height": 900})
            page.on(
                "console",
                lambda m: page_info.console.append(f"{m.type}: {m.text}") if m.type in ("error", "warning") else None,
            )
            page.on("requestfailed", lambda r: page_info.failed_requests.append(r.url[:120]))
            page.goto(Path(html).resolve().as_uri(), wait_until="load")
            survey = page.evaluate(_SURVEY)
            for key, value in survey.items():
                setattr(page_info, key, value)
            if screenshot is not None:
                path = Path(screenshot)
                path.parent.mkdir(parents=True, exist_ok=True)
                extra = {"type": "jpeg", "quality": 70} if path.suffix.lower() in (".jpg", ".jpeg") else {}
                page.screenshot(path=str(path), full_page=True, **extra)
        finally:
            browser.close()
    return page_info
