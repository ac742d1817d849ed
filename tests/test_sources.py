import pytest

from l2s.config import LanguageSource
from l2s.sources import list_items


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
