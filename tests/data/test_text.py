"""The text pipeline on small corpora the tests write: layouts, vocabulary cap, <unk>, <eos>, proxy, fortunes."""

from pathlib import Path

import pytest
import torch

from shrinknas.data.text import (
    EOS,
    UNK,
    batchify,
    bptt_slice,
    build_vocab,
    fortune_splits,
    load_corpus,
    normalise_line,
    text_splits,
)
from shrinknas.errors import BadInputError, DatasetMissingError

TRAIN = " the cat sat on the mat \n the dog sat \n a cat ran <unk> \n"
VALID = " the cat flew \n"
TEST = " a dog sat on a zebra \n"


def write_splits(root: Path, names: dict[str, str]) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    for name, text in names.items():
        (root / name).write_text(text)
    return root


def words(corpus, ids) -> list[str]:
    return [corpus.vocab[i] for i in ids.tolist()]


def test_ptb_layout_gives_lines_with_eos_and_a_capped_vocabulary(tmp_path):
    root = write_splits(tmp_path / "ptb", {"ptb.train.txt": TRAIN, "ptb.valid.txt": VALID, "ptb.test.txt": TEST})
    corpus = load_corpus(f"ptb:{root}", 6)
    # <unk>, <eos>, then by frequency (ties alphabetical): the(3) cat(2) sat(2) a(1)...
    assert corpus.vocab == (UNK, EOS, "the", "cat", "sat", "a")
    assert words(corpus, corpus.train) == (
        "the cat sat <unk> the <unk> <eos> the <unk> sat <eos> a cat <unk> <unk> <eos>".split()
    )
    assert words(corpus, corpus.valid) == ["the", "cat", UNK, EOS]
    assert words(corpus, corpus.test) == ["a", UNK, "sat", UNK, "a", UNK, EOS]
    assert corpus.train.dtype == torch.long


@pytest.mark.parametrize(
    "names", [("train.txt", "valid.txt", "test.txt"), ("wiki.train.tokens", "wiki.valid.tokens", "wiki.test.tokens")]
)
def test_ptb_naming_variants(tmp_path, names):
    root = write_splits(tmp_path / "c", dict(zip(names, (TRAIN, VALID, TEST))))
    splits = text_splits(f"ptb:{root}")
    assert splits.train[0] == "the cat sat on the mat".split()
    assert splits.valid == [["the", "cat", "flew"]]


def test_text_folder_is_normalised(tmp_path):
    raw = {"train.txt": "Hello, World! It's 42 o'clock.\n\n...\nHELLO again", "val.txt": "Hello there", "test.md": "World"}
    splits = text_splits(f"text:{write_splits(tmp_path / 't', raw)}")
    assert splits.train == [["hello", "world", "it's", "N", "o'clock"], ["hello", "again"]]
    assert splits.valid == [["hello", "there"]] and splits.test == [["world"]]
    assert normalise_line("_\bB_\bo_\bl_\bd 3.14 x-ray") == ["bold", "N", "x", "ray"]


def test_vocabulary_counts_eos_and_unk_within_the_cap():
    vocab = build_vocab([["b", "a", "b", UNK], ["c"]], 3)
    assert vocab == (UNK, EOS, "b")


def test_proxy_takes_the_first_lines_but_keeps_the_full_vocabulary(tmp_path):
    train = "".join(f"w{i} common\n" for i in range(10))
    root = write_splits(tmp_path / "p", {"train.txt": train, "valid.txt": "w1\nw2\nw3\n", "test.txt": "w9\nw8\n"})
    full = load_corpus(f"ptb:{root}", 100)
    proxy = load_corpus(f"ptb:{root}", 100, 4, 2)
    assert proxy.vocab == full.vocab
    assert words(proxy, proxy.train) == "w0 common <eos> w1 common <eos> w2 common <eos> w3 common <eos>".split()
    assert words(proxy, proxy.valid) == ["w1", EOS, "w2", EOS]
    assert proxy.test.numel() == 4


def test_missing_and_empty_inputs_raise_errors_that_say_what_to_do(tmp_path):
    with pytest.raises(DatasetMissingError, match="does not exist"):
        text_splits(f"ptb:{tmp_path / 'nowhere'}")
    root = write_splits(tmp_path / "partial", {"train.txt": TRAIN, "valid.txt": VALID})
    with pytest.raises(DatasetMissingError, match="test"):
        text_splits(f"ptb:{root}")
    root = write_splits(tmp_path / "empty", {"train.txt": TRAIN, "valid.txt": "\n", "test.txt": TEST})
    with pytest.raises(BadInputError, match="valid"):
        text_splits(f"text:{root}")
    with pytest.raises(BadInputError):
        text_splits("ptb")
    with pytest.raises(BadInputError, match="unknown"):
        text_splits("shakespeare")


def test_missing_fortunes_names_the_debian_package(tmp_path):
    with pytest.raises(DatasetMissingError, match="'fortunes' package"):
        fortune_splits(tmp_path / "no-fortunes")
    with pytest.raises(DatasetMissingError, match="apt-get install fortunes"):
        text_splits(f"fortunes:{tmp_path}")  # a folder without cookie files


def test_fortunes_split_is_deterministic_and_loses_nothing(tmp_path):
    root = tmp_path / "fortunes"
    root.mkdir()
    names = [f"w{chr(97 + i % 26)}{chr(97 + i // 26)}" for i in range(300)]  # distinct letter-only words
    cookies = [f"Fortune number {i} says\n\t{name} twice" for i, name in enumerate(names)]
    (root / "alpha").write_text("\n%\n".join(cookies[:150]) + "\n%\n")
    (root / "beta").write_text("\n%\n".join(cookies[150:] + cookies[:5]) + "\n")  # duplicates count once
    (root / "alpha.dat").write_bytes(b"\x00\x01binary index")
    first, second = fortune_splits(root), fortune_splits(root)
    assert first == second
    lines = first.train + first.valid + first.test
    assert len(lines) == 2 * 300
    assert sorted(" ".join(line) for line in lines if line[0] != "fortune") == sorted(f"{n} twice" for n in names)
    assert 0 < len(first.valid) < 60 and 0 < len(first.test) < 60
    # a fortune's lines stay together and in order
    index = first.train.index(["fortune", "number", "N", "says"])
    assert first.train[index + 1][1] == "twice"


def test_batchify_and_bptt_slices():
    stream = torch.arange(11)
    batches = batchify(stream, 2)  # 5 steps x 2 columns, the last token dropped
    assert batches.tolist() == [[0, 5], [1, 6], [2, 7], [3, 8], [4, 9]]
    x, y = bptt_slice(batches, 3, 35)
    assert x.tolist() == [[3, 8]] and y.tolist() == [[4, 9]]
    with pytest.raises(BadInputError, match="too few"):
        batchify(torch.arange(3), 2)
