"""Where a language's raw videos come from: one list of `RawItem`s per source kind.

Every source ends as the same list, so preprocessing does not care whether the videos
were made by the embedded corpus generator, recorded by a user or come from a published
corpus. A source only reads: it never writes into the raw folder.

    synthetic  the embedded corpus (its manifest.csv, read like any manifest)
    folder     your own videos in speaker sub-folders, transcripts beside them
    grid       the GRID corpus as distributed (s1/ ... s34/, .align transcripts)
    lrs        LRS2 (main/, pretrain/, list files) or LRS3 (pretrain/, trainval/, test/)
    lrw        LRW (<WORD>/{train,val,test}/<WORD>_nnnnn.mp4, a .txt beside each)
    tcd_timit  TCD-TIMIT ({volunteers,lipspeakers}/<speaker>/Clips/<camera>/<sentence>.mp4)
    manifest   a CSV with a row per video (path, transcript, speaker, language[, split])

Transcripts and tables are read in the encodings they come in (`read_text`): UTF-8 with
or without a BOM, UTF-16 and UTF-32 with a BOM, else Windows-1252 / Latin-1. A video
whose transcript is none of these is rejected alone (RawItem.problem); a table that is
none of these stops the language with a message naming it.
"""

from __future__ import annotations

import codecs
import csv
import io
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

from l2s.config import LRW_SECONDS, LanguageSource
from l2s.data import alignment, grid
from l2s.data.alignment import Span
from l2s.data.splits import FIXED_SPLITS

log = logging.getLogger(__name__)

VIDEO_SUFFIXES = {".mp4", ".mov", ".avi", ".mkv", ".webm", ".mpg", ".mpeg", ".m4v", ".flv"}
MANIFEST = "manifest.csv"  # written by the corpus generator; read by the manifest source too
TRANSCRIPTS_CSV = "transcripts.csv"


@dataclass(frozen=True)
class RawItem:
    """One raw video and what is known about it."""

    utt_id: str  # unique within the language: the path below the raw folder, without suffix
    path: Path
    speaker: str
    text: str | None = None
    # word timings when known (the synthetic corpus, GRID, LRS): lets a cut clip keep
    # exactly the words it contains
    words: tuple[Span, ...] = field(default=())
    # the split the corpus itself gives the video (train, val, test, or trainval: train or
    # val, divided by preprocess.split.val_fraction); None: preprocess.split decides
    split: str | None = None
    # phoneme timings when known (the synthetic corpus: espeak-ng's own events)
    phones: tuple[Span, ...] = field(default=())
    # why the video cannot be used although it is listed (its transcript cannot be read):
    # preprocessing rejects this one video with this message
    problem: str | None = None


def list_items(src: LanguageSource, raw_dir: Path) -> list[RawItem]:
    """The raw items of a language, sorted by id."""
    if not raw_dir.exists():
        raise FileNotFoundError(f"raw data {raw_dir} does not exist ({_WHERE_HINTS[src.source]})")
    if src.source != "manifest" and not raw_dir.is_dir():
        raise NotADirectoryError(f"raw data {raw_dir} is a file; languages.<lang>.path must name a folder")
    items = _ADAPTERS[src.source](src, raw_dir)
    if not items:
        raise FileNotFoundError(f"no videos found in {raw_dir} (looked for {', '.join(sorted(VIDEO_SUFFIXES))})")
    return sorted(items, key=lambda i: i.utt_id)


def _alignment(video: Path) -> dict[str, tuple[Span, ...]]:
    """The RawItem fields of the <video>.align.json beside a video ({} if none)."""
    found = alignment.read(video)
    return {"words": tuple(found.get("words", ())), "phones": tuple(found.get("phonemes", ()))}


def _is_video(path: Path, below: Path) -> bool:
    hidden = any(part.startswith(".") for part in path.relative_to(below).parts)
    return path.suffix.lower() in VIDEO_SUFFIXES and not hidden and path.is_file()


def video_files(folder: Path) -> list[Path]:
    """The videos below `folder`, at any depth (hidden folders skipped), sorted."""
    return [p for p in sorted(folder.rglob("*")) if _is_video(p, folder)]


# --------------------------------------------------------------------------- text files

# byte-order marks, longest first: UTF-32 LE's starts with UTF-16 LE's
_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32-le"),
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)
_TEXT_CONTROLS = set("\t\n\r\f\v")


class UnreadableText(ValueError):
    """A text file in none of the encodings `read_text` knows; the message names it."""


def read_text(path: Path) -> str:
    """The text of a transcript or table as people save them: UTF-8 (with or without a
    BOM), UTF-16 or UTF-32 with a BOM, else Windows-1252 (which reads Latin-1 text the
    same, bar a few printable characters where Latin-1 has control codes), with a warning
    naming the file since that is a guess. Raises UnreadableText, naming the file, for
    bytes that are none of these: text in another encoding, or not text at all."""
    data = path.read_bytes()
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            try:
                text = data[len(bom) :].decode(encoding)
            except UnicodeDecodeError as e:
                raise UnreadableText(
                    f"{path}: starts with a {encoding.upper()} byte-order mark but is not {encoding.upper()} "
                    f"({e.reason} at byte {e.start + len(bom)}); save it again as UTF-8"
                ) from None
            return _checked(text, path)
    try:
        return _checked(data.decode("utf-8"), path)
    except UnicodeDecodeError as e:
        where = f"byte {e.start} (0x{data[e.start]:02x})"
    try:
        text = _checked(data.decode("cp1252"), path)
    except UnicodeDecodeError:
        raise UnreadableText(
            f"{path}: not UTF-8 ({where}), and not UTF-16 with a byte-order mark or Windows-1252 / Latin-1 "
            "text either; save it again as UTF-8"
        ) from None
    log.warning("%s is not UTF-8 (%s); read it as Windows-1252 / Latin-1: %r", path, where, text[:60])
    return text


def _checked(text: str, path: Path) -> str:
    """`text` unless it holds control characters no text file has (NUL bytes: UTF-16
    without a byte-order mark, or a binary file)."""
    bad = next((c for c in text if (c < " " or "\x7f" <= c < "\xa0") and c not in _TEXT_CONTROLS), None)
    if bad is not None:
        guess = " (NUL bytes: UTF-16 without a byte-order mark?)" if bad == "\0" else ""
        raise UnreadableText(
            f"{path}: holds the control character {bad!r} at character {text.index(bad)}{guess}, so it is not "
            "text in UTF-8, UTF-16 with a byte-order mark or Windows-1252 / Latin-1; save it again as UTF-8"
        )
    return text


def read_csv(path: Path) -> tuple[list[str], list[dict[str, str]]]:
    """Header and rows of a CSV table in any encoding `read_text` reads."""
    reader = csv.DictReader(io.StringIO(read_text(path), newline=""))
    return list(reader.fieldnames or []), list(reader)


# --------------------------------------------------------------------------- folder


def _folder(src: LanguageSource, raw_dir: Path) -> list[RawItem]:
    csv_texts: dict[str, dict[str, str]] = {}
    table = raw_dir / TRANSCRIPTS_CSV
    if src.transcripts in ("auto", "csv") and table.exists():
        columns, rows = read_csv(table)
        if "path" not in columns or "text" not in columns:
            raise ValueError(f"{table}: needs columns 'path' and 'text' (and optionally 'speaker')")
        for row in rows:
            csv_texts[Path(row["path"]).as_posix()] = row
    elif src.transcripts == "csv":
        raise FileNotFoundError(f"languages: transcripts 'csv' but {table} does not exist")

    items = []
    for path in video_files(raw_dir):
        rel = path.relative_to(raw_dir)
        row = csv_texts.get(rel.as_posix(), {})
        text = (row.get("text") or "").strip() or None  # an empty cell: no transcript there
        txt = path.with_suffix(".txt")
        problem = None
        if text is None and src.transcripts in ("auto", "txt") and txt.exists():
            try:
                text = read_text(txt).strip() or None  # an empty transcript: a clip without text
            except UnreadableText as e:
                problem = str(e)
        if src.speaker == "single":
            speaker = "speaker"
        else:
            speaker = row.get("speaker") or (rel.parts[0] if len(rel.parts) > 1 else "speaker")
        items.append(RawItem(rel.with_suffix("").as_posix(), path, speaker, text, problem=problem, **_alignment(path)))
    return items


# --------------------------------------------------------------------------- manifest

MANIFEST_REQUIRED = ("path", "speaker")
MANIFEST_TEXT_COLUMNS = ("transcript", "text")  # either name holds the transcript


def _synthetic(src: LanguageSource, raw_dir: Path) -> list[RawItem]:
    manifest = raw_dir / MANIFEST
    if not manifest.exists():
        raise FileNotFoundError(
            f"{manifest} is missing: the synthetic corpus is incomplete; run dvc repro corpus@<lang>"
        )
    # the generator's manifest has no language column: every row is this language
    return read_manifest(manifest, language=None)


def _manifest(src: LanguageSource, path: Path) -> list[RawItem]:
    if path.is_dir():
        if not (path / MANIFEST).exists():
            raise FileNotFoundError(
                f"{path} holds no {MANIFEST}; set languages.<lang>.path to your manifest CSV file, "
                f"or name it {MANIFEST}"
            )
        path = path / MANIFEST
    return read_manifest(path, language=src.language)


def read_manifest(manifest: Path, language: str | None) -> list[RawItem]:
    """The videos a manifest CSV lists, one row each.

    Columns: path (relative to the CSV's folder, or absolute), transcript or text,
    speaker; optional language (rows of another language are skipped; an empty cell,
    or no such column, means this language; `language` None reads every row), split
    (train, val, test, trainval; empty: preprocess.split decides) and utt_id (default:
    the path without its suffix). Word timings come from a <video>.align.json beside
    a video when there is one.
    """
    header, table = read_csv(manifest)
    columns = [c.strip().lower() for c in header]
    rows = [{column: row.get(name) for column, name in zip(columns, header)} for row in table]
    text_column = _manifest_text_column(manifest, columns)
    items, seen, missing = [], {}, []
    for number, row in enumerate(rows, start=2):  # as a spreadsheet numbers them: the header is row 1
        if language is not None and not _same_language(row.get("language"), language):
            continue
        where = f"{manifest}, row {number}"
        item = _manifest_item(row, text_column, manifest.parent, where)
        if item.utt_id in seen:
            raise ValueError(
                f"{where}: utt_id {item.utt_id!r} is also row {seen[item.utt_id]}; every video needs its own id "
                "(add a unique utt_id column)"
            )
        seen[item.utt_id] = number
        if not item.path.is_file():
            missing.append(f"row {number}: {item.path}")
            continue
        items.append(replace(item, **_alignment(item.path)))
    if missing:
        shown = "; ".join(missing[:5]) + (f"; ... ({len(missing)} in all)" if len(missing) > 5 else "")
        raise FileNotFoundError(
            f"{manifest}: {len(missing)} videos in the path column do not exist ({shown}). Relative paths are "
            f"read from {manifest.parent}; fix those paths or remove the rows"
        )
    return items


def _manifest_text_column(manifest: Path, columns: list[str]) -> str:
    absent = [c for c in MANIFEST_REQUIRED if c not in columns]
    text_column = next((c for c in MANIFEST_TEXT_COLUMNS if c in columns), None)
    if text_column is None:
        absent.append(" or ".join(MANIFEST_TEXT_COLUMNS))
    if absent:
        raise ValueError(
            f"{manifest}: missing column {', '.join(absent)}; it has: {', '.join(columns) or 'no header'}. "
            "A manifest needs path, transcript (or text) and speaker; language, split and utt_id are optional"
        )
    return text_column


def _same_language(cell: str | None, language: str) -> bool:
    cell = (cell or "").strip()
    return not cell or cell.casefold() == language.casefold()


def _manifest_item(row: dict[str, str], text_column: str, folder: Path, where: str) -> RawItem:
    """A row as a RawItem, checked; words are read later, for the rows that are kept."""
    written = (row.get("path") or "").strip()
    speaker = (row.get("speaker") or "").strip()
    if not written:
        raise ValueError(f"{where}: the path cell is empty")
    if not speaker:
        raise ValueError(f"{where}: the speaker cell is empty; every video needs one (splits keep speakers apart)")
    split = (row.get("split") or "").strip().lower() or None
    if split not in (None, *FIXED_SPLITS):
        raise ValueError(f"{where}: split {split!r} is not one of {', '.join(FIXED_SPLITS)} (or empty)")
    path = Path(written)
    video = path if path.is_absolute() else folder / path
    utt_id = (row.get("utt_id") or "").strip() or _utt_id(path, folder)
    text = (row.get(text_column) or "").strip() or None
    return RawItem(utt_id, video, speaker, text, split=split)


def _utt_id(path: Path, folder: Path) -> str:
    """The path below the manifest's folder without its suffix (an absolute path outside
    it: the whole path, without its root)."""
    if path.is_absolute():
        try:
            path = path.relative_to(folder)
        except ValueError:
            path = Path(*path.parts[1:])
    return path.with_suffix("").as_posix()


# --------------------------------------------------------------------------- GRID


def _grid(src: LanguageSource, root: Path) -> list[RawItem]:
    items, untranscribed = [], 0
    for speaker in _grid_speakers(src.subject, root):
        split = grid.unseen_split(speaker) if src.subject == "unseen" else None
        for video in _grid_videos(root / speaker):
            align = _grid_align_file(root, speaker, video)
            words = grid.read_align(align) if align else ()
            text = " ".join(w.label for w in words) if align else None
            untranscribed += align is None
            items.append(RawItem(f"{speaker}/{video.stem}", video, speaker, text, words, split))
    if untranscribed:
        log.warning(
            "GRID %s: %d of %d videos have no .align file (looked in sN/align/, beside the video and in "
            "alignments/sN/); they are listed without a transcript",
            root,
            untranscribed,
            len(items),
        )
    return items


def _grid_speakers(subject: str, root: Path) -> list[str]:
    """The speaker folders a subject setting reads: only the ones it uses, so that a
    one-speaker setting never lists (or preprocesses) the other 30 000 videos."""
    if subject in ("overlap", "unseen"):
        found = [d.name for d in root.iterdir() if d.is_dir() and grid.SPEAKER_FOLDER.fullmatch(d.name)]
        if not found:
            raise FileNotFoundError(
                f"{root} holds no GRID speaker folders (s1 ... s34); languages.<lang>.path must name the "
                "folder that holds them"
            )
        if subject == "unseen":
            _warn_missing_held_out(root, found)
        return sorted(found, key=lambda s: int(s[1:]))
    wanted = list(grid.FOUR) if subject == "four" else [subject]
    absent = [s for s in wanted if not (root / s).is_dir()]
    if absent:
        raise FileNotFoundError(
            f"GRID subject {subject!r} needs the speaker folders {', '.join(wanted)}, but {', '.join(absent)} "
            f"{'is' if len(absent) == 1 else 'are'} not in {root}"
        )
    return wanted


def _warn_missing_held_out(root: Path, found: list[str]) -> None:
    for split, held in (("val", grid.UNSEEN_VAL), ("test", grid.UNSEEN_TEST)):
        absent = [s for s in held if s not in found]
        if absent:
            log.warning("GRID unseen: %s speakers %s are not in %s; that split is smaller", split, absent, root)


def _grid_videos(speaker_dir: Path) -> list[Path]:
    """A speaker's videos, directly in sN/ or anywhere under sN/video/; where one id is
    there twice (the original .mpg and a converted copy), the .mp4 is used."""
    candidates = [p for p in speaker_dir.iterdir() if _is_video(p, speaker_dir)]
    video_dir = speaker_dir / "video"
    if video_dir.is_dir():
        candidates += [p for p in video_dir.rglob("*") if _is_video(p, video_dir)]
    by_id: dict[str, Path] = {}
    for video in sorted(candidates, key=lambda p: (p.suffix.lower() != ".mp4", str(p))):
        by_id.setdefault(video.stem, video)
    if len(by_id) < len(candidates):
        log.warning(
            "GRID %s: %d videos have the id of another one (an .mpg and its converted copy?); using the .mp4",
            speaker_dir,
            len(candidates) - len(by_id),
        )
    return [by_id[k] for k in sorted(by_id)]


def _grid_align_file(root: Path, speaker: str, video: Path) -> Path | None:
    """The .align of a video: sN/align/<id>.align, beside the video (or in sN/ when the
    video is under sN/video/), or alignments/sN/<id>.align at the corpus's top."""
    name = f"{video.stem}.align"
    for candidate in (
        root / speaker / "align" / name,
        video.with_suffix(".align"),
        root / speaker / name,
        root / "alignments" / speaker / name,
    ):
        if candidate.is_file():
            return candidate
    return None


# --------------------------------------------------------------------------- LRS2 / LRS3

# the split each LRS folder gives its videos; main/ (LRS2) takes it from the list files
LRS_FOLDERS = {"main": None, "pretrain": "train", "trainval": "trainval", "test": "test"}
# top-level list files (`<id>/<utt>` per line, maybe more columns): the split of the
# videos in main/ (LRS2) or trainval/ (LRS3, val.txt) they name
LRS_LISTS = {"train.txt": "train", "val.txt": "val", "test.txt": "test"}
LRS_LISTED_FOLDERS = ("main", "trainval")
LRS_WORDS_HEADER = ["WORD", "START", "END"]


def _lrs(src: LanguageSource, root: Path) -> list[RawItem]:
    """LRS2 and LRS3 as distributed. The speaker is the `<id>` folder: in LRS that is a
    programme (LRS2) or a TED talk / YouTube video (LRS3), not a known person."""
    folders = [f for f in LRS_FOLDERS if (root / f).is_dir()]
    if not folders:
        raise FileNotFoundError(
            f"{root} holds none of the LRS folders {', '.join(f + '/' for f in LRS_FOLDERS)}; "
            "languages.<lang>.path must name the folder that holds them"
        )
    if not src.pretrain:
        folders = [f for f in folders if f != "pretrain"]
    listed = _lrs_lists(root)
    items, found, untranscribed = [], set(), 0
    for folder in folders:
        for video in sorted((root / folder).glob("*/*")):
            if not _is_video(video, root / folder):
                continue
            key = f"{video.parent.name}/{video.stem}"
            found.add(key)
            split = LRS_FOLDERS[folder]
            if folder in LRS_LISTED_FOLDERS:
                split = listed.get(key, split)
            txt = video.with_suffix(".txt")
            text, words = read_lrs_transcript(txt) if txt.is_file() else (None, ())
            untranscribed += text is None
            items.append(RawItem(f"{folder}/{key}", video, video.parent.name, text, words, split))
    _warn_lrs_gaps(root, listed, found, untranscribed, len(items))
    return items


def _lrs_lists(root: Path) -> dict[str, str]:
    """`<id>/<utt>` -> split, from the top-level list files that exist."""
    listed = {}
    for name, split in LRS_LISTS.items():
        path = root / name
        if path.is_file():
            for line in read_text(path).splitlines():
                if line.strip():
                    listed[line.split()[0]] = split  # LRS2's test.txt adds a column (NF / MV)
    return listed


def _warn_lrs_gaps(root: Path, listed: dict[str, str], found: set[str], untranscribed: int, total: int) -> None:
    absent = [key for key in listed if key not in found]
    if absent:
        log.warning(
            "LRS %s: %d videos named in %s are not there (e.g. %s); only the videos present are used",
            root,
            len(absent),
            "/".join(LRS_LISTS),
            absent[0],
        )
    if untranscribed:
        log.warning("LRS %s: %d of %d videos have no .txt transcript; listed without one", root, untranscribed, total)


def read_lrs_transcript(path: Path) -> tuple[str, tuple[Span, ...]]:
    """Text and word timings of an LRS .txt: a `Text:  WORDS` line (lower-cased here, as
    GRID and the embedded corpus write theirs), `Conf:` / `Ref:` lines, and optionally a
    `WORD START END ASDSCORE` header followed by `word start end score` (seconds)."""
    text, words, in_words = None, [], False
    for number, line in enumerate(read_text(path).splitlines(), start=1):
        parts = line.split()
        if line.startswith("Text:"):
            text = line.removeprefix("Text:").strip().lower()
        elif parts[:3] == LRS_WORDS_HEADER:
            in_words = True
        elif in_words and parts:
            try:
                words.append(Span(parts[0].lower(), float(parts[1]), float(parts[2])))
            except (IndexError, ValueError):
                raise ValueError(
                    f"{path}, line {number}: expected 'word start end score' (seconds) after the "
                    f"WORD START END header, got {line!r}"
                ) from None
    if text is None:
        raise ValueError(f"{path}: no 'Text:' line; an LRS transcript starts with 'Text:  THE WORDS SPOKEN'")
    return text, tuple(words)


# --------------------------------------------------------------------------- LRW

LRW_SPLITS = ("train", "val", "test")  # its folders, which are also the seed's splits
LRW_SPEAKER = "unknown"  # LRW names no speakers: its clips are cut from BBC programmes
LRW_FILE = re.compile(r"(?P<word>[A-Z']+)_(?P<number>\d+)")


def _lrw(src: LanguageSource, root: Path) -> list[RawItem]:
    """LRW as distributed: a folder per word, its train/, val/ and test/ clips inside. A clip
    is 29 frames (1.16 s) of a programme with the word in the middle; the .txt beside it
    gives the word and its duration, from which its span is placed around the centre."""
    words = sorted(d for d in root.iterdir() if d.is_dir() and re.fullmatch(r"[A-Z']+", d.name))
    if not words:
        raise FileNotFoundError(
            f"{root} holds no LRW word folders (ABOUT/, ABSOLUTELY/, ...); languages.<lang>.path must name the "
            "folder that holds them (lipread_mp4/ in the distribution)"
        )
    items, untranscribed = [], 0
    for word_dir in words:
        for split in LRW_SPLITS:
            for video in sorted((word_dir / split).glob("*")):
                if not _is_video(video, word_dir) or not LRW_FILE.fullmatch(video.stem):
                    continue
                txt = video.with_suffix(".txt")
                problem, text, spans = None, None, ()
                if txt.is_file():
                    try:
                        text, spans = read_lrw_transcript(txt)
                    except (ValueError, UnreadableText) as e:
                        problem = str(e)
                else:
                    text = word_dir.name.lower()  # the folder names the word; its timing is unknown
                    untranscribed += 1
                items.append(
                    RawItem(
                        f"{word_dir.name}/{split}/{video.stem}", video, LRW_SPEAKER, text, spans, split, problem=problem
                    )
                )
    if untranscribed:
        log.warning(
            "LRW %s: %d of %d clips have no .txt beside them; their word is the folder's, without its timing",
            root,
            untranscribed,
            len(items),
        )
    return items


def read_lrw_transcript(path: Path) -> tuple[str, tuple[Span, ...]]:
    """The word of an LRW .txt (`Text: WORD`, lower-cased) and its span: `Duration: 0.31
    seconds` long, centred in the 1.16 s clip, as LRW cuts them."""
    text, duration = None, None
    for line in read_text(path).splitlines():
        if line.startswith("Text:"):
            text = line.removeprefix("Text:").strip().lower()
        elif line.startswith("Duration:"):
            value = line.removeprefix("Duration:").split()
            try:
                duration = float(value[0])
            except (IndexError, ValueError):
                raise ValueError(f"{path}: expected 'Duration: <seconds> seconds', got {line!r}") from None
    if not text:
        raise ValueError(f"{path}: no 'Text:' line; an LRW transcript starts with 'Text: WORD'")
    if duration is None:
        return text, ()
    middle = LRW_SECONDS["clip_seconds"] / 2
    half = min(duration, LRW_SECONDS["clip_seconds"]) / 2
    return text, (Span(text, round(middle - half, 4), round(middle + half, 4)),)


# --------------------------------------------------------------------------- TCD-TIMIT

TCD_GROUPS = ("volunteers", "lipspeakers")
# TIMIT's prompt list, `text (sentence id)` per line and `;` comments, at the corpus's top
TCD_PROMPTS = ("PROMPTS.TXT", "prompts.txt", "PROMPTS.txt")
TIMIT_PROMPT = re.compile(r"(?P<text>.*\S)\s*\((?P<id>[a-z]{2}\d+)\)\s*")


def _tcd_timit(src: LanguageSource, root: Path) -> list[RawItem]:
    """TCD-TIMIT as distributed: volunteers/<id>/Clips/<camera>/<sentence>.mp4 and the same
    under lipspeakers/. A sentence's words come from a <sentence>.txt beside the video, else
    from TIMIT's prompt list (PROMPTS.TXT, `text (sa1)` lines) at the corpus's top; the
    corpus's own files give no transcripts. No split is given: preprocess.split decides."""
    groups = TCD_GROUPS if src.group == "all" else (src.group,)
    present = [g for g in groups if (root / g).is_dir()]
    if not present:
        raise FileNotFoundError(
            f"{root} holds none of the TCD-TIMIT folders {', '.join(g + '/' for g in groups)}; "
            "languages.<lang>.path must name the folder that holds them"
        )
    prompts = _timit_prompts(root)
    items, untranscribed = [], 0
    for group in present:
        for speaker_dir in sorted(d for d in (root / group).iterdir() if d.is_dir()):
            clips = speaker_dir / "Clips" / src.camera
            for video in sorted(clips.glob("*")) if clips.is_dir() else ():
                if not _is_video(video, clips):
                    continue
                sentence = video.stem.lower()
                txt = video.with_suffix(".txt")
                problem, text = None, prompts.get(sentence)
                if txt.is_file():
                    try:
                        text = read_text(txt).strip() or None
                    except UnreadableText as e:
                        problem = str(e)
                untranscribed += text is None and problem is None
                utt_id = f"{group}/{speaker_dir.name}/{src.camera}/{video.stem}"
                items.append(RawItem(utt_id, video, speaker_dir.name, text, problem=problem))
    if untranscribed:
        log.warning(
            "TCD-TIMIT %s: %d of %d videos have no transcript (no <sentence>.txt beside them, and no line of "
            "TIMIT's prompt list %s at the top names their sentence); listed without one",
            root,
            untranscribed,
            len(items),
            TCD_PROMPTS[0],
        )
    return items


def _timit_prompts(root: Path) -> dict[str, str]:
    """Sentence id (sa1, si1399, sx39) -> its text, lower-cased, from TIMIT's prompt list."""
    path = next((root / name for name in TCD_PROMPTS if (root / name).is_file()), None)
    if path is None:
        return {}
    prompts = {}
    for number, line in enumerate(read_text(path).splitlines(), start=1):
        if not line.strip() or line.lstrip().startswith(";"):
            continue
        match = TIMIT_PROMPT.fullmatch(line)
        if not match:
            raise ValueError(f"{path}, line {number}: expected TIMIT's 'sentence text (sx39)', got {line!r}")
        prompts[match["id"]] = match["text"].lower()
    return prompts


# --------------------------------------------------------------------------- dispatch

_ADAPTERS: dict[str, Callable[[LanguageSource, Path], list[RawItem]]] = {
    "synthetic": _synthetic,
    "folder": _folder,
    "grid": _grid,
    "lrs": _lrs,
    "lrw": _lrw,
    "tcd_timit": _tcd_timit,
    "manifest": _manifest,
}
# what to do when a source's path does not exist
_WHERE_HINTS = {
    "synthetic": "run its corpus stage: dvc repro corpus@<lang>",
    "folder": "put your videos there",
    "grid": "set languages.<lang>.path to the folder holding s1/ ... s34/",
    "lrs": "set languages.<lang>.path to the folder holding LRS2's main/ or LRS3's trainval/ and test/",
    "lrw": "set languages.<lang>.path to the folder holding LRW's word folders (lipread_mp4/)",
    "tcd_timit": "set languages.<lang>.path to the folder holding TCD-TIMIT's volunteers/ and lipspeakers/",
    "manifest": "set languages.<lang>.path to your manifest CSV, or a folder holding manifest.csv",
}
