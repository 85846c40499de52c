"""Sentence pairs: the strict reader, grouping and the split by source sentence; the shared BPE;
`kqv data eng-fra` against a local server."""

import pytest
from local_http import serve
from test_mnist import closed_port_url
from typer.testing import CliRunner

import kqv_cli.main  # noqa: F401  (registers the commands)
from conftest import SHARED_DATA
from engine.data import eng_fra
from engine.data.bpe import BOS_ID, EOS_ID, PAD_ID, BPEVocab, pad_batch
from engine.data.pairs import group_by_source, load_pairs, read_pairs, split_groups
from engine.errors import KqvError
from kqv_cli.cli import app

ENG_FRA = SHARED_DATA / "eng-fra" / "eng-fra.txt"
needs_eng_fra = pytest.mark.skipif(not ENG_FRA.is_file(), reason=f"eng-fra pairs not found at {ENG_FRA}")
runner = CliRunner()

SMALL = "".join(f"I have {n} cats.\tJ'ai {n} chats.\n" for n in range(40)) + "Run!\tCours !\nRun!\tCourez !\n"


def write(tmp_path, data, name="pairs.txt"):
    path = tmp_path / name
    path.write_bytes(data if isinstance(data, bytes) else data.encode("utf-8"))
    return path


@pytest.mark.parametrize("data, message", [
    ("Go.\tVa !\nno tab here\n", "line 2 has no tab"),
    ("Go.\tVa !\n\tVa !\n", "line 2 has an empty source side"),
    ("Go.\t  \nHi.\tSalut !\n", "line 1 has an empty target side"),
    (b"Go.\tVa !\nHi.\tSalut \xe9 !\n", "line 2 is not valid UTF-8"),
    ("Go.\tVa !\n", "holds 1 pair;"),
    ("", "holds 0 pairs"),
])
def test_bad_pairs_files_are_one_line_naming_the_line(tmp_path, data, message):
    with pytest.raises(KqvError, match=message):
        read_pairs(write(tmp_path, data))


def test_missing_file_and_folder(tmp_path):
    with pytest.raises(KqvError, match="no pairs file"):
        read_pairs(tmp_path / "nope.txt")
    with pytest.raises(KqvError, match="it is a folder"):
        read_pairs(tmp_path)


def test_reader_strips_bom_crlf_and_extra_columns(tmp_path):
    path = write(tmp_path, b"\xef\xbb\xbfGo.\tVa !\tCC-BY 2.0 (France)\r\n\r\nHi. \t Salut !\r\n")
    assert read_pairs(path) == [("Go.", "Va !"), ("Hi.", "Salut !")]


def test_groups_keep_every_translation_once():
    pairs = [("Run!", "Cours !"), ("Go.", "Va !"), ("Run!", "Courez !"), ("Run!", "Cours !")]
    groups = group_by_source(pairs)
    assert groups == [("Run!", ["Cours !", "Courez !"]), ("Go.", ["Va !"])]


def test_split_is_by_source_sentence_and_fixed(tmp_path):
    splits = load_pairs(write(tmp_path, SMALL))
    sources = [{s for s, _ in getattr(splits, name)} for name in ("train", "val", "test")]
    assert sources[0].isdisjoint(sources[1]) and sources[0].isdisjoint(sources[2])
    assert sources[1].isdisjoint(sources[2])
    assert sum(map(len, sources)) == 41 and len(splits.test) == 2 and len(splits.val) == 2
    run = dict(splits.train + splits.val + splits.test)["Run!"]
    assert run == ["Cours !", "Courez !"]  # both are references wherever "Run!" went
    again = load_pairs(write(tmp_path, SMALL, "again.txt"))
    assert again.test == splits.test and again.train == splits.train
    assert len(splits.pairs("train")) == sum(len(t) for _, t in splits.train)


def test_two_sources_give_one_to_train_one_to_test():
    train, val, test = split_groups([("a", ["x"]), ("b", ["y"])])
    assert len(train) == 1 and len(test) == 1 and val == []
    with pytest.raises(KqvError, match="1 distinct source sentence;"):
        split_groups([("a", ["x", "y"])])


@needs_eng_fra
def test_the_shared_pairs_split_with_1000_test_sentences():
    splits = load_pairs(ENG_FRA)
    assert splits.n_pairs == 76_037
    assert len(splits.train) + len(splits.val) + len(splits.test) == 49_197
    assert len(splits.test) == 1000 and len(splits.val) == 1000


def test_bpe_shared_vocabulary_round_trips_through_json(tmp_path):
    texts = [side for line in SMALL.splitlines() for side in line.split("\t")] * 5
    vocab = BPEVocab.train(texts, vocab_size=300)
    assert vocab.size <= 300 and vocab.pieces([PAD_ID, BOS_ID, EOS_ID]) == ["<pad>", "<s>", "</s>"]
    for text in ("J'ai 7 chats.", "Ça a été écrit.", "Run!"):  # unseen accents: bytes cover them
        assert vocab.decode(vocab.encode(text)) == text
    again = BPEVocab.from_json(vocab.to_json())
    assert again.encode("I have 3 cats.") == vocab.encode("I have 3 cats.")
    assert "".join(vocab.pieces(vocab.encode("I have"))) == "I▁have"
    with pytest.raises(KqvError, match="cannot read"):
        BPEVocab.from_json("{not json")
    with pytest.raises(KqvError, match="vocab-size"):
        BPEVocab.train(texts, vocab_size=100)


def test_pad_batch():
    batch = pad_batch([[5, 6, 7], [8]])
    assert batch.tolist() == [[5, 6, 7], [8, PAD_ID, PAD_ID]]


# -- kqv data eng-fra ------------------------------------------------------------------------

TUTORIAL = SMALL.encode("utf-8")


@pytest.fixture
def tutorial_mirror(monkeypatch):
    monkeypatch.setattr(eng_fra, "EXPECTED_PAIRS", 42)
    with serve({"data.zip": eng_fra.zip_of(TUTORIAL), "wrong.zip": eng_fra.zip_of(b"Go.\tVa !\n" * 3),
                "notzip.zip": b"<html>not found</html>"}) as server:
        monkeypatch.setattr(eng_fra, "ENG_FRA_URLS", [server.url + "cut/data.zip", server.url + "data.zip"])
        yield server


def test_data_eng_fra_downloads_into_the_cache_then_finds_it(tutorial_mirror):
    result = runner.invoke(app, ["data", "eng-fra"])
    assert result.exit_code == 0, result.output
    cached = eng_fra.eng_fra_cache_path()
    assert cached.read_bytes() == TUTORIAL and "downloaded and checked" in result.output
    assert sorted(p.name for p in cached.parent.iterdir()) == ["eng-fra.txt"]  # no zip, no .part left
    requests = len(tutorial_mirror.requests)
    result = runner.invoke(app, ["data", "eng-fra"])
    assert "already there" in result.output and len(tutorial_mirror.requests) == requests
    assert eng_fra.find_eng_fra() == cached


def test_kqv_data_dir_is_looked_at_before_the_cache(tmp_path, monkeypatch):
    (tmp_path / "d" / "eng-fra").mkdir(parents=True)
    write(tmp_path / "d" / "eng-fra", SMALL, "eng-fra.txt")
    monkeypatch.setenv("KQV_DATA_DIR", str(tmp_path / "d"))
    assert eng_fra.fetch_eng_fra() == tmp_path / "d" / "eng-fra" / "eng-fra.txt"


@pytest.mark.parametrize("name, message", [("wrong.zip", "holds 3 pairs"),
                                           ("notzip.zip", "not a readable zip")])
def test_a_wrong_archive_is_refused_and_nothing_kept(tutorial_mirror, monkeypatch, tmp_path, name, message):
    monkeypatch.setattr(eng_fra, "ENG_FRA_URLS", [tutorial_mirror.url + name])
    result = runner.invoke(app, ["data", "eng-fra", "--dir", str(tmp_path / "d")])
    assert result.exit_code == 2 and message in result.output
    assert len(result.output.strip().splitlines()) == 1
    assert list((tmp_path / "d").iterdir()) == []


def test_offline_is_one_line_with_the_way_out(monkeypatch):
    monkeypatch.setattr(eng_fra, "ENG_FRA_URLS", [closed_port_url()])
    result = runner.invoke(app, ["data", "eng-fra"])
    assert result.exit_code == 2 and "--pairs FILE" in result.output
    assert len(result.output.strip().splitlines()) == 1
