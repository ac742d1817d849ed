"""`dvc plots show` pages that draw without a network: `python -m l2s.evaluation.plots_page`.

DVC writes dvc_plots/index.html with script tags that load Vega, Vega-Lite and
vega-embed from a CDN; offline (this project's machines, a cluster node) the page stays
blank. `make setup` runs this module: it fetches the three libraries, at the versions
DVC's page names, from npm (`npm pack`, nothing installed), writes a page template that
carries them inline, and points this checkout's DVC at it (`plots.html_template` in
.dvc/config.local, which git ignores). `dvc plots show` and `dvc plots diff` then write
pages that draw anywhere; a checkout without it keeps DVC's own page.
"""

from __future__ import annotations

import argparse
import logging
import subprocess
import sys
import tempfile
from pathlib import Path

from l2s.data.real_footage import fetch_member

log = logging.getLogger(__name__)

# the versions of dvc_render's VegaRenderer.SCRIPTS (the specs DVC writes are made for them)
LIBRARIES = (
    ("vega@5.20.2", "package/build/vega.min.js"),
    ("vega-lite@5.2.0", "package/build/vega-lite.min.js"),
    ("vega-embed@6.18.2", "package/build/vega-embed.min.js"),
)

# DVC fills {refresh_tag} and {plot_divs}; without {scripts} it adds no CDN tags
_PAGE = """<!DOCTYPE html>
<html>
<head>
    {refresh_tag}
    <meta charset="utf-8">
    <title>DVC Plot</title>
%s
    <style>
        table { border-spacing: 15px; }
    </style>
</head>
<body>
    {plot_divs}
</body>
</html>
"""


def default_path() -> Path:
    """.cache/dvc-plots/page.html in the checkout this package runs from (git-ignored)."""
    return Path(__file__).resolve().parents[2] / ".cache" / "dvc-plots" / "page.html"


def build(target: Path) -> Path:
    """The page template with the libraries inline, at `target`."""
    scripts = []
    with tempfile.TemporaryDirectory(prefix="l2s-vega-") as tmp:
        for spec, member in LIBRARIES:
            js = Path(tmp) / Path(member).name
            fetch_member("npm", spec, member, js)
            # a literal </script> inside the code would end the tag early
            code = js.read_text(encoding="utf-8").replace("</script", "<\\/script")
            scripts.append(f"    <script>/* {spec} */\n{code}\n    </script>")
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(_PAGE % "\n".join(scripts), encoding="utf-8")
    return target


def configure(template: Path, repo: Path) -> None:
    """Make `template` the page of `dvc plots` in the DVC repository at `repo`, for this
    checkout alone."""
    subprocess.run(
        [sys.executable, "-m", "dvc", "config", "--local", "plots.html_template", str(template.resolve())],
        cwd=repo,
        check=True,
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m l2s.evaluation.plots_page", description=__doc__.splitlines()[0])
    parser.add_argument(
        "--out", type=Path, default=None, help="the template's path (default: .cache/dvc-plots/page.html)"
    )
    parser.add_argument("--repo", type=Path, default=Path.cwd(), help="the DVC repository to configure (default: here)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    try:
        template = build(args.out or default_path())
        configure(template, args.repo)
    except (RuntimeError, OSError, subprocess.CalledProcessError) as e:
        log.error("%s", e)
        return 1
    log.info("dvc plots show: pages drawn without a network, from %s", template)
    return 0


if __name__ == "__main__":
    sys.exit(main())
