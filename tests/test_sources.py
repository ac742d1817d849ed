import csv

import pytest

from l2s import config
from l2s.config import ConfigError, LanguageSource
from l2s.data import alignment, preprocess
from l2s.data import grid as grid_corpus
from l2s.data.alignment import Span
from l2s.data.sources import list_items, read_lrs_transcript
from tests.helpers import talking_video, write_params


def _touch(path, text=None):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"\0")
    if text is not None:
        path.with_suffix(".txt").write_text(text + "\n", encoding="utf-8")


def test_folder_with_txt_transcripts_and_speaker_folders(tmp_path):
    _touch(tmp_path / "anna/one.mp4", "hola mundo")
    _touch(tmp_path / "anna/two.MOV")
    _touch(tmp_path / "ben/sub/three.mkv", "tres")
    _touch(tmp_path / "loose.mp4")
    _touch(tmp_path / ".hidden/x.mp4")
    (tmp_path / "notes.txt").write_text("not a video")
    items = list_items(LanguageSource(source="folder"), tmp_path)
    assert [(i.utt_id, i.speaker, i.text) for i in items] == [
        ("anna/one", "anna", "hola mundo"),
        ("anna/two", "anna", None),
        ("ben/sub/three", "ben", "tres"),
        ("loose", "speaker", None),
    ]
    single = list_items(LanguageSource(source="folder", speaker="single"), tmp_path)
    assert {i.speaker for i in single} == {"speaker"}


def test_folder_with_a_transcripts_csv(tmp_path):
    _touch(tmp_path / "a.mp4")
    _touch(tmp_path / "b.mp4", "from the txt")
    (tmp_path / "transcripts.csv").write_text(
        "path,text,speaker\na.mp4,primero,maria\nb.mp4,segundo,juan\n", encoding="utf-8"
    )
    items = {i.utt_id: i for i in list_items(LanguageSource(source="folder"), tmp_path)}
    assert (items["a"].text, items["a"].speaker) == ("primero", "maria")
    assert items["b"].text == "segundo"  # the CSV wins over a .txt
    assert list_items(LanguageSource(source="folder", transcripts="txt"), tmp_path)[1].text == "from the txt"


def test_clear_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        list_items(LanguageSource(source="folder"), tmp_path / "nope")
    with pytest.raises(FileNotFoundError, match="no videos found"):
        list_items(LanguageSource(source="folder"), tmp_path)
    with pytest.raises(FileNotFoundError, match="run dvc repro corpus"):
        list_items(LanguageSource(source="synthetic"), tmp_path)
    (tmp_path / "transcripts.csv").write_text("file,words\nx.mp4,hi\n")
    _touch(tmp_path / "x.mp4")
    with pytest.raises(ValueError, match="needs columns 'path' and 'text'"):
        list_items(LanguageSource(source="folder"), tmp_path)


# --------------------------------------------------------------------------- manifest


def test_synthetic_manifest_is_read_by_the_generic_reader(tmp_path):
    # the corpus generator's columns (no language column), timings in .align.json
    _touch(tmp_path / "s1/s1_0001.mp4")
    alignment.write(tmp_path / "s1/s1_0001.mp4", [Span("bin", 0.2, 0.5), Span("blue", 0.5, 0.8)], [])
    (tmp_path / "manifest.csv").write_text(
        "utt_id,speaker,path,text,seconds,fps,kind\ns1/s1_0001,s1,s1/s1_0001.mp4,bin blue,3.0,25.0,normal\n",
        encoding="utf-8",
    )
    [item] = list_items(LanguageSource(source="synthetic"), tmp_path)
    assert (item.utt_id, item.path, item.speaker, item.text) == (
        "s1/s1_0001",
        tmp_path / "s1/s1_0001.mp4",
        "s1",
        "bin blue",
    )
    assert item.words == (Span("bin", 0.2, 0.5), Span("blue", 0.5, 0.8)) and item.split is None


def test_manifest_language_filter_paths_and_splits(tmp_path):
    outside = tmp_path / "elsewhere/four.mp4"
    folder = tmp_path / "corpus"
    for video in ("a/one.mp4", "b/two.mp4", "c/three.mp4", "d/five.mp4"):
        _touch(folder / video)
    _touch(outside)
    (folder / "manifest.csv").write_text(
        "path,transcript,speaker,language,split\n"
        "a/one.mp4,Hello there,anna,en,train\n"
        "b/two.mp4,Hola,ben,es,test\n"  # another language: skipped
        "c/three.mp4,,carl,,Test\n"  # empty language: this one; no transcript
        f"{outside},four words,dora,EN,\n"  # absolute, outside the manifest's folder
        f"{folder / 'd/five.mp4'},five,eve,en,trainval\n",  # absolute, inside it
        encoding="utf-8",
    )
    items = {i.utt_id: i for i in list_items(LanguageSource(source="manifest", language="en"), folder)}
    outside_id = next(u for u in items if u.endswith("elsewhere/four"))
    assert sorted(items) == sorted(["a/one", "c/three", "d/five", outside_id])
    assert (items["a/one"].text, items["a/one"].speaker, items["a/one"].split) == ("Hello there", "anna", "train")
    assert (items["c/three"].text, items["c/three"].split) == (None, "test")
    assert items[outside_id].path == outside and items[outside_id].split is None
    assert items["d/five"].split == "trainval"
    spanish = list_items(LanguageSource(source="manifest", language="es"), folder)
    assert [(i.utt_id, i.text) for i in spanish] == [("b/two", "Hola"), ("c/three", None)]


def test_manifest_named_as_a_file_with_text_and_utt_id_columns(tmp_path):
    _touch(tmp_path / "v/x.mov")
    table = tmp_path / "lists/mine.csv"
    table.parent.mkdir()
    table.write_text("utt_id,path,text,speaker\nclip-7,../v/x.mov,hi,p1\n", encoding="utf-8")
    [item] = list_items(LanguageSource(source="manifest", language="en"), table)
    assert (item.utt_id, item.path.resolve(), item.text) == ("clip-7", (tmp_path / "v/x.mov").resolve(), "hi")


@pytest.mark.parametrize(
    "rows, error, message",
    [
        (
            "file,text,speaker\na.mp4,hi,p\n",
            ValueError,
            r"manifest.csv: missing column path; it has: file, text, speaker",
        ),
        ("path,speaker\na.mp4,p\n", ValueError, "missing column transcript or text; it has: path, speaker"),
        ("path,text,speaker\na.mp4,hi,p\nnot/there.mp4,x,p\n", FileNotFoundError, r"row 3: .*not/there.mp4"),
        ("path,text,speaker,split\na.mp4,hi,p,dev\n", ValueError, r"row 2: split 'dev' is not one of train, val"),
        ("path,text,speaker\na.mp4,hi,\n", ValueError, "row 2: the speaker cell is empty"),
        ("path,text,speaker\na.mp4,hi,p\na.mp4,again,p\n", ValueError, "utt_id 'a' is also row 2"),
    ],
)
def test_manifest_errors_name_the_file_and_row(tmp_path, rows, error, message):
    _touch(tmp_path / "a.mp4")
    (tmp_path / "manifest.csv").write_text(rows, encoding="utf-8")
    with pytest.raises(error, match=message):
        list_items(LanguageSource(source="manifest", language="en"), tmp_path)


def test_manifest_folder_without_a_manifest(tmp_path):
    with pytest.raises(FileNotFoundError, match="holds no manifest.csv; set languages.<lang>.path to your manifest"):
        list_items(LanguageSource(source="manifest"), tmp_path)
    with pytest.raises(FileNotFoundError, match="does not exist .set languages.<lang>.path to your manifest CSV"):
        list_items(LanguageSource(source="manifest"), tmp_path / "none.csv")


# --------------------------------------------------------------------------- GRID


def _grid_align(path, words):
    """A GRID .align of `words` (0.3 s each) between silences, an `sp` after the first."""
    lines, t = ["0 12500 sil"], 12500
    for k, word in enumerate(words):
        lines.append(f"{t} {t + 7500} {word}")
        t += 7500
        if k == 0:
            lines.append(f"{t} {t + 2500} sp")
            t += 2500
    lines.append(f"{t} 75000 sil")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_grid_align_words_in_seconds_without_silences(tmp_path):
    path = tmp_path / "bbaf2n.align"
    path.write_text("0 23750 sil\n23750 29500 bin\n29500 34000 blue\n34000 35500 sp\n35500 41000 at\n41000 74500 sil\n")
    words = grid_corpus.read_align(path)
    assert [w.label for w in words] == ["bin", "blue", "at"]
    assert [t for w in words for t in (w.start, w.end)] == pytest.approx([0.95, 1.18, 1.18, 1.36, 1.42, 1.64])
    path.write_text("0 23750 sil\n23750 bin\n")
    with pytest.raises(ValueError, match=r"bbaf2n.align, line 2: expected 'start end word'"):
        grid_corpus.read_align(path)


@pytest.fixture
def grid(tmp_path):
    """A GRID tree with every supported layout: .mpg in sN/ with sN/align/, a converted
    .mp4 beside its .mpg, sN/video/ with the .align beside the video, alignments/sN/ at
    the top, and one video without an .align."""
    root = tmp_path / "GRID"
    _touch(root / "s1/bbaf2n.mpg")
    _touch(root / "s1/bbaf2n.mp4")  # the same video converted: one item
    _grid_align(root / "s1/align/bbaf2n.align", ["bin", "blue", "at", "f", "two", "now"])
    _touch(root / "s2/video/bbaf3s.mpg")
    _grid_align(root / "s2/video/bbaf3s.align", ["bin", "blue"])
    _touch(root / "s4/video/mpg_6000/lgaz8p.mpg")
    _grid_align(root / "alignments/s4/lgaz8p.align", ["lay", "green"])
    _touch(root / "s29/sbim1a.mp4")  # no .align anywhere
    _touch(root / "s3/pwij3s.mpg")
    _grid_align(root / "s3/pwij3s.align", ["place", "white"])
    return root


def test_grid_layouts_and_transcripts(grid, caplog):
    items = {i.utt_id: i for i in list_items(LanguageSource(source="grid", subject="overlap"), grid)}
    assert sorted(items) == ["s1/bbaf2n", "s2/bbaf3s", "s29/sbim1a", "s3/pwij3s", "s4/lgaz8p"]
    assert items["s1/bbaf2n"].path == grid / "s1/bbaf2n.mp4"
    assert items["s1/bbaf2n"].text == "bin blue at f two now" and items["s1/bbaf2n"].speaker == "s1"
    assert items["s1/bbaf2n"].words[1] == Span("blue", pytest.approx(0.9), pytest.approx(1.2))  # after the sp
    assert items["s2/bbaf3s"].text == "bin blue"
    assert items["s4/lgaz8p"].text == "lay green" and items["s4/lgaz8p"].path.parent.name == "mpg_6000"
    assert items["s3/pwij3s"].text == "place white"
    assert (items["s29/sbim1a"].text, items["s29/sbim1a"].words) == (None, ())
    assert "1 of 5 videos have no .align file" in caplog.text
    assert all(i.split is None for i in items.values())  # overlap: preprocess.split decides


def test_grid_subject_lists_only_its_speakers(grid):
    four = list_items(LanguageSource(source="grid", subject="four"), grid)
    assert {i.speaker for i in four} == {"s1", "s2", "s4", "s29"}
    assert [i.utt_id for i in list_items(LanguageSource(source="grid", subject="s3"), grid)] == ["s3/pwij3s"]
    with pytest.raises(FileNotFoundError, match=r"subject 's5' needs the speaker folders s5, but s5 is not in"):
        list_items(LanguageSource(source="grid", subject="s5"), grid)
    with pytest.raises(ConfigError, match="'five' is not a GRID subject setting"):
        list_items(LanguageSource(source="grid", subject="five"), grid)
    with pytest.raises(FileNotFoundError, match="holds no GRID speaker folders"):
        list_items(LanguageSource(source="grid", subject="overlap"), grid / "s1/align")


def test_grid_unseen_fixes_the_split_by_speaker(tmp_path):
    train_speaker = next(s for s in grid_corpus.SPEAKERS if s not in grid_corpus.UNSEEN_VAL + grid_corpus.UNSEEN_TEST)
    for spk in (train_speaker, *grid_corpus.UNSEEN_VAL, *grid_corpus.UNSEEN_TEST):
        _touch(tmp_path / spk / "u1.mpg")
    items = list_items(LanguageSource(source="grid", subject="unseen"), tmp_path)
    splits = {i.speaker: i.split for i in items}
    assert splits == {
        train_speaker: "train",
        **{s: "val" for s in grid_corpus.UNSEEN_VAL},
        **{s: "test" for s in grid_corpus.UNSEEN_TEST},
    }


# --------------------------------------------------------------------------- LRS2 / LRS3

LRS3_TXT = "Text:  SO WE DON'T\nConf:  4\nRef:  TED/talk\n"
TIMED_TXT = (
    "Text:  BUT WHY NOT\nConf:  3\n\nWORD START END ASDSCORE\nBUT 0.10 0.30 2.5\nWHY 0.30 0.52 3.1\nNOT 0.60 0.90 1.0\n"
)


def _lrs_video(root, rel, txt=None):
    _touch(root / rel)
    if txt is not None:
        (root / rel).with_suffix(".txt").write_text(txt, encoding="utf-8")


def test_lrs_transcript_text_and_word_timings(tmp_path):
    path = tmp_path / "00001.txt"
    path.write_text(TIMED_TXT, encoding="utf-8")
    assert read_lrs_transcript(path) == (
        "but why not",
        (Span("but", 0.1, 0.3), Span("why", 0.3, 0.52), Span("not", 0.6, 0.9)),
    )
    path.write_text(LRS3_TXT, encoding="utf-8")
    assert read_lrs_transcript(path) == ("so we don't", ())
    path.write_text("Conf:  4\n")
    with pytest.raises(ValueError, match=r"00001.txt: no 'Text:' line"):
        read_lrs_transcript(path)
    path.write_text("Text:  HI\n\nWORD START END ASDSCORE\nHI 0.1\n")
    with pytest.raises(ValueError, match=r"00001.txt, line 4: expected 'word start end score'"):
        read_lrs_transcript(path)


def test_lrs3_folders_give_the_splits(tmp_path):
    _lrs_video(tmp_path, "pretrain/aaa/00001.mp4", TIMED_TXT)
    _lrs_video(tmp_path, "trainval/aaa/00002.mp4", LRS3_TXT)
    _lrs_video(tmp_path, "trainval/bbb/00003.mp4", LRS3_TXT)
    _lrs_video(tmp_path, "trainval/bbb/00004.mp4")  # no transcript
    _lrs_video(tmp_path, "test/ccc/00005.mp4", LRS3_TXT)
    (tmp_path / "val.txt").write_text("bbb/00003\n")
    items = {i.utt_id: i for i in list_items(LanguageSource(source="lrs"), tmp_path)}
    assert {u: (i.speaker, i.split) for u, i in items.items()} == {
        "pretrain/aaa/00001": ("aaa", "train"),
        "trainval/aaa/00002": ("aaa", "trainval"),
        "trainval/bbb/00003": ("bbb", "val"),
        "trainval/bbb/00004": ("bbb", "trainval"),
        "test/ccc/00005": ("ccc", "test"),
    }
    assert items["pretrain/aaa/00001"].text == "but why not" and len(items["pretrain/aaa/00001"].words) == 3
    assert items["trainval/aaa/00002"].text == "so we don't" and items["trainval/bbb/00004"].text is None
    no_pretrain = list_items(LanguageSource(source="lrs", pretrain=False), tmp_path)
    assert len(no_pretrain) == 4 and not any(i.utt_id.startswith("pretrain/") for i in no_pretrain)


def test_lrs2_lists_give_the_splits(tmp_path, caplog):
    _lrs_video(tmp_path, "main/5535/00001.mp4", "Text:  ONE\nConf:  4\n")
    _lrs_video(tmp_path, "main/5535/00002.mp4", "Text:  TWO\nConf:  4\n")
    _lrs_video(tmp_path, "main/6330/00001.mp4", "Text:  THREE\nConf:  4\n")
    _lrs_video(tmp_path, "main/6330/00004.mp4", "Text:  FOUR\nConf:  4\n")  # in no list
    _lrs_video(tmp_path, "pretrain/5535/00001.mp4", TIMED_TXT)  # same <id>/<utt> as a main/ video
    (tmp_path / "train.txt").write_text("5535/00001\n")
    (tmp_path / "val.txt").write_text("5535/00002\n")
    (tmp_path / "test.txt").write_text("6330/00001 NF\n9999/00009 MV\n")  # 9999: not downloaded
    (tmp_path / "pretrain.txt").write_text("5535/00001\n")
    items = {i.utt_id: i for i in list_items(LanguageSource(source="lrs"), tmp_path)}
    assert {u: (i.speaker, i.split, i.text) for u, i in items.items()} == {
        "main/5535/00001": ("5535", "train", "one"),
        "main/5535/00002": ("5535", "val", "two"),
        "main/6330/00001": ("6330", "test", "three"),
        "main/6330/00004": ("6330", None, "four"),
        "pretrain/5535/00001": ("5535", "train", "but why not"),
    }
    assert "1 videos named in train.txt/val.txt/test.txt are not there (e.g. 9999/00009)" in caplog.text
    with pytest.raises(FileNotFoundError, match="holds none of the LRS folders main/, pretrain/, trainval/, test/"):
        list_items(LanguageSource(source="lrs"), tmp_path / "main")


# --------------------------------------------------------------------------- end to end


def _processed(workdir):
    out = workdir / "data/processed/xx"
    with open(out / "clips.csv", encoding="utf-8") as f:
        clips = {r["utt_id"]: r for r in csv.DictReader(f)}
    splits = {s: (out / "splits" / f"{s}.txt").read_text().split() for s in ("train", "val", "test")}
    return clips, splits


def _preprocess(workdir, source):
    params = config.load(write_params(workdir, languages={"xx": {"voice": "en", **source}}, preprocess={"workers": 1}))
    return preprocess.run("xx", params)


def test_grid_unseen_end_to_end(workdir, tmp_path, face_frame):
    root = tmp_path / "GRID"
    train_speaker = next(s for s in grid_corpus.SPEAKERS if s not in grid_corpus.UNSEEN_VAL + grid_corpus.UNSEEN_TEST)
    speakers = {train_speaker: "train", grid_corpus.UNSEEN_VAL[0]: "val", grid_corpus.UNSEEN_TEST[0]: "test"}
    for spk in speakers:
        talking_video(root / spk / "video/bbaf2n.mp4", face_frame)
        _grid_align(root / "alignments" / spk / "bbaf2n.align", ["bin", "blue", spk])
    before = {p: p.read_bytes() for p in root.rglob("*") if p.is_file()}
    metrics = _preprocess(workdir, {"source": "grid", "path": str(root), "subject": "unseen"})
    assert {p: p.read_bytes() for p in root.rglob("*") if p.is_file()} == before  # raw data untouched
    clips, splits = _processed(workdir)
    assert metrics["clips"] == 3 and metrics["rejected"] == 0
    for spk, split in speakers.items():
        assert clips[f"{spk}/bbaf2n"]["text"] == f"bin blue {spk}"
        assert splits[split] == [f"{spk}/bbaf2n"]


def test_manifest_end_to_end(workdir, tmp_path, face_frame):
    root = tmp_path / "videos"
    for name in ("anna/one.mp4", "ben/two.mp4", "carl/three.mp4"):
        talking_video(root / name, face_frame)
    manifest = root / "list.csv"
    manifest.write_text(
        "path,transcript,speaker,language,split\n"
        "anna/one.mp4,hello there,anna,xx,test\n"
        f"{root / 'ben/two.mp4'},good morning,ben,xx,\n"
        "carl/three.mp4,hola,carl,es,train\n",
        encoding="utf-8",
    )
    metrics = _preprocess(workdir, {"source": "manifest", "path": str(manifest)})
    clips, splits = _processed(workdir)
    assert metrics["videos"] == 2 and sorted(clips) == ["anna/one", "ben/two"]  # carl is Spanish
    assert clips["anna/one"]["text"] == "hello there" and clips["ben/two"]["speaker"] == "ben"
    assert splits["test"] == ["anna/one"]
    # ben has one clip and no fixed split: overlap gives 10 % of 1 clip to val and test, rounded to none
    assert splits["train"] == ["ben/two"]


# --------------------------------------------------------------------------- encodings

SPOKEN = "Wir müssen früh los, señor\r\n"
ENCODED = {
    "utf-8": SPOKEN.encode(),
    "utf-8 with a BOM": SPOKEN.encode("utf-8-sig"),
    "utf-16 with a BOM": SPOKEN.encode("utf-16"),
    "utf-16 big-endian with a BOM": b"\xfe\xff" + SPOKEN.encode("utf-16-be"),
    "latin-1": SPOKEN.encode("latin-1"),
    "windows-1252": ("„" + SPOKEN.strip() + "“").encode("cp1252"),  # its quotes are not Latin-1
}


@pytest.mark.parametrize("encoding", list(ENCODED))
def test_txt_transcripts_in_the_encodings_people_save(tmp_path, encoding):
    _touch(tmp_path / "a.mp4")
    (tmp_path / "a.txt").write_bytes(ENCODED[encoding])
    item = list_items(LanguageSource(source="folder"), tmp_path)[0]
    quoted = encoding == "windows-1252"
    assert (item.text, item.problem) == ("„" * quoted + SPOKEN.strip() + "“" * quoted, None)


def test_latin1_bytes_that_stopped_a_language(tmp_path, caplog):
    _touch(tmp_path / "a.mp4")
    (tmp_path / "a.txt").write_bytes(b"\xe9t\xe9")
    assert list_items(LanguageSource(source="folder"), tmp_path)[0].text == "été"
    assert f"{tmp_path / 'a.txt'} is not UTF-8 (byte 0 (0xe9)); read it as Windows-1252" in caplog.text


@pytest.mark.parametrize(
    "data, words",
    [
        ("été".encode("utf-16-le"), "NUL bytes: UTF-16 without a byte-order mark?"),
        (b"\x81\x8d\x90 bytes undefined in Windows-1252", "not UTF-8 (byte 0 (0x81))"),
        (b"\xff\xfe\x00\xd8", "starts with a UTF-16-LE byte-order mark but is not UTF-16-LE"),
        (bytes(range(256)), "not UTF-8"),
    ],
)
def test_an_undecodable_transcript_rejects_its_video_only(tmp_path, data, words):
    _touch(tmp_path / "a.mp4")
    (tmp_path / "a.txt").write_bytes(data)
    _touch(tmp_path / "b.mp4", "fine")
    a, b = list_items(LanguageSource(source="folder"), tmp_path)
    assert a.text is None and a.problem.startswith(f"{tmp_path / 'a.txt'}: ") and words in a.problem
    assert (b.text, b.problem) == ("fine", None)


def test_an_empty_transcript_is_a_video_without_text(tmp_path):
    for name, data in (("a", b""), ("b", b"  \n"), ("c", "\n".encode("utf-8-sig"))):
        _touch(tmp_path / f"{name}.mp4")
        (tmp_path / f"{name}.txt").write_bytes(data)
    items = list_items(LanguageSource(source="folder"), tmp_path)
    assert [(i.text, i.problem) for i in items] == [(None, None)] * 3


@pytest.mark.parametrize("encoding", ["utf-16", "cp1252", "utf-8-sig"])
def test_transcripts_csv_and_manifest_in_other_encodings(tmp_path, encoding):
    _touch(tmp_path / "a.mp4")
    _touch(tmp_path / "b.mp4", "from the txt")
    table = "path,text,speaker\r\na.mp4,café crème,zoë\r\nb.mp4,,zoë\r\n"
    (tmp_path / "transcripts.csv").write_bytes(table.encode(encoding))
    items = list_items(LanguageSource(source="folder"), tmp_path)
    assert [(i.text, i.speaker) for i in items] == [("café crème", "zoë"), ("from the txt", "zoë")]

    manifest = "Path,Transcript,Speaker\r\na.mp4,café crème,zoë\r\n"
    (tmp_path / "list.csv").write_bytes(manifest.encode(encoding))
    [item] = list_items(LanguageSource(source="manifest", language="xx"), tmp_path / "list.csv")
    assert (item.text, item.speaker) == ("café crème", "zoë")


def test_an_undecodable_table_is_named(tmp_path):
    _touch(tmp_path / "a.mp4")
    (tmp_path / "transcripts.csv").write_bytes("path,text\na.mp4,été\n".encode("utf-16-le"))
    with pytest.raises(ValueError, match=f"{tmp_path / 'transcripts.csv'}: holds the control character"):
        list_items(LanguageSource(source="folder"), tmp_path)
    (tmp_path / "list.csv").write_bytes(b"path,transcript,speaker\na.mp4,\x81\x8d,x\n")
    with pytest.raises(ValueError, match=f"{tmp_path / 'list.csv'}: not UTF-8"):
        list_items(LanguageSource(source="manifest", language="xx"), tmp_path / "list.csv")
