"""Text corpora for language modelling, the PTB way: each line's words then ``<eos>``, one token stream.

Three sources, all ending in the same ``TextSplits`` (lines of words per split):

- ``ptb:DIR``: an already tokenised corpus in the standard PTB / WikiText layout (``train.txt``,
  ``ptb.train.txt``, ``wiki.train.tokens``, ...). Lines are split on whitespace and kept as they are, blank
  lines included (they become a lone ``<eos>``, as in the usual PTB / WikiText loaders).
- ``text:DIR``: raw plain-text splits (``train``, ``valid``/``val``/``validation``/``dev``, ``test``, any
  extension). Lines go through ``normalise_line``; lines left with no word are dropped.
- ``fortunes`` (or ``fortunes:DIR``): Debian's fortune cookies, normalised the same way and split
  deterministically by a hash of each fortune's text (see ``fortune_splits``).

The vocabulary is built from the whole training split (so a proxy and the final model share it), capped by
frequency; every other word reads as ``<unk>``.
"""

from __future__ import annotations

import hashlib
import re
from collections import Counter
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Sequence

import torch

from ..errors import BadInputError, DatasetMissingError

UNK = "<unk>"
EOS = "<eos>"
SPLITS = ("train", "valid", "test")
FORTUNES_DIR = Path("/usr/share/games/fortunes")
FORTUNES_PACKAGE = "fortunes"
#: Per cent of fortunes (by hash) that go to validation and to test; the rest is training text.
FORTUNE_VALID_PERCENT = 5
FORTUNE_TEST_PERCENT = 5

Lines = list[list[str]]


@dataclass(frozen=True)
class TextSplits:
    """Tokenised lines of each split, before any vocabulary is applied."""

    train: Lines
    valid: Lines
    test: Lines

    def head(self, train_lines: int, eval_lines: int) -> "TextSplits":
        """The proxy: the first lines of each split (authors: 4,000 training, 300 validation and test)."""
        return TextSplits(self.train[:train_lines], self.valid[:eval_lines], self.test[:eval_lines])


@dataclass(frozen=True)
class Corpus:
    """Token-id streams of the three splits and the vocabulary that maps ids back to words."""

    train: torch.Tensor
    valid: torch.Tensor
    test: torch.Tensor
    vocab: tuple[str, ...]

    @property
    def vocab_size(self) -> int:
        return len(self.vocab)


# ----- tokenising -----
_OVERSTRIKE = re.compile(r".\x08")
_TOKEN = re.compile(r"[a-z]+(?:'[a-z]+)*|[0-9]+(?:[.,:][0-9]+)*")


def normalise_line(line: str) -> list[str]:
    """PTB-like words of a raw line: lower case, letters with inner apostrophes, numbers as ``N``, no
    punctuation; terminal overstriking (``_\\bX``) is undone first."""
    text = _OVERSTRIKE.sub("", line).lower()
    return ["N" if tok[0].isdigit() else tok for tok in _TOKEN.findall(text)]


def _normalised(lines: Sequence[str]) -> Lines:
    return [words for words in map(normalise_line, lines) if words]


# ----- sources -----
def _find_split(root: Path, split: str, names: Sequence[str]) -> Path:
    for name in names:
        path = root / name
        if path.is_file():
            return path
    raise DatasetMissingError(f"{root} has no {split} split; expected one of: {', '.join(names)}")


def _read_lines(path: Path) -> list[str]:
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError as exc:
        raise DatasetMissingError(f"cannot read {path}: {exc.strerror}") from None
    return text.splitlines()


def _require_dir(root: Path, what: str) -> None:
    if not root.is_dir():
        raise DatasetMissingError(f"{what} directory {root} does not exist; point the dataset at a folder with the splits")


def ptb_splits(root: Path) -> TextSplits:
    """A tokenised PTB / WikiText folder; blank lines are kept (a lone ``<eos>``)."""
    root = Path(root)
    _require_dir(root, "PTB")
    splits = []
    for split in SPLITS:
        names = [f"{split}.txt", f"ptb.{split}.txt", f"wiki.{split}.tokens", f"{split}.tokens"]
        lines = [line.split() for line in _read_lines(_find_split(root, split, names))]
        splits.append(lines)
    return _checked(TextSplits(*splits), root)


_TEXT_NAMES = {"train": ("train",), "valid": ("valid", "val", "validation", "dev"), "test": ("test",)}


def _text_file(root: Path, split: str) -> Path:
    stems = _TEXT_NAMES[split]
    found = sorted(p for p in root.iterdir() if p.is_file() and p.name.split(".")[0] in stems)
    if not found:
        raise DatasetMissingError(
            f"{root} has no {split} split; expected a file named {'/'.join(stems)} (any extension, e.g. {stems[0]}.txt)"
        )
    return found[0]


def plain_text_splits(root: Path) -> TextSplits:
    """A folder of raw text splits, normalised like the fortunes."""
    root = Path(root)
    _require_dir(root, "text")
    splits = [_normalised(_read_lines(_text_file(root, split))) for split in SPLITS]
    return _checked(TextSplits(*splits), root)


def _fortune_files(root: Path) -> list[Path]:
    """The cookie files: regular files without the ``.dat`` index or ``.u8`` link suffixes."""
    return sorted(
        p for p in root.iterdir() if p.is_file() and not p.is_symlink() and p.suffix not in (".dat", ".u8")
    )


def _fortunes(path: Path) -> list[str]:
    """One file's cookies (they are separated by lines holding a single ``%``)."""
    text = path.read_text(encoding="utf-8", errors="replace")
    return [f.strip("\n") for f in re.split(r"^%\s*$", text, flags=re.MULTILINE) if f.strip()]


def fortune_splits(root: Path = FORTUNES_DIR) -> TextSplits:
    """Debian's fortunes as train / valid / test, the same on every machine with the same package.

    Each fortune's SHA-1 digest decides its split (digest mod 100 below 5: validation, below 10: test, else
    training; identical cookies in several files therefore land in the same split) and its place: fortunes
    are ordered by digest, so the first lines of a split (the proxy) sample every file rather than the
    alphabetically first. A fortune's lines stay together and in order.
    """
    root = Path(root)
    if not root.is_dir() or not _fortune_files(root):
        raise DatasetMissingError(
            f"no fortunes found in {root}; install Debian's '{FORTUNES_PACKAGE}' package "
            f"(apt-get install {FORTUNES_PACKAGE}, or `make datasets`)"
        )
    cookies: dict[bytes, str] = {}
    for path in _fortune_files(root):
        for cookie in _fortunes(path):
            cookies.setdefault(hashlib.sha1(cookie.encode()).digest(), cookie)
    buckets: dict[str, Lines] = {split: [] for split in SPLITS}
    for digest in sorted(cookies):
        bucket = int.from_bytes(digest[:8], "big") % 100
        split = (
            "valid"
            if bucket < FORTUNE_VALID_PERCENT
            else "test"
            if bucket < FORTUNE_VALID_PERCENT + FORTUNE_TEST_PERCENT
            else "train"
        )
        buckets[split].extend(_normalised(cookies[digest].splitlines()))
    return _checked(TextSplits(buckets["train"], buckets["valid"], buckets["test"]), root)


def _checked(splits: TextSplits, root: Path) -> TextSplits:
    for split in SPLITS:
        if not any(getattr(splits, split)):
            raise BadInputError(f"the {split} split of {root} holds no words; give it some text")
    return splits


def text_splits(name: str) -> TextSplits:
    """Resolve a dataset name (``fortunes``, ``fortunes:DIR``, ``ptb:DIR``, ``text:DIR``) to its splits."""
    kind, _, where = name.partition(":")
    if kind == "fortunes":
        return fortune_splits(Path(where) if where else FORTUNES_DIR)
    if kind in ("ptb", "text"):
        if not where:
            raise BadInputError(f"dataset {name!r} needs a folder: use {kind}:DIR")
        return ptb_splits(Path(where)) if kind == "ptb" else plain_text_splits(Path(where))
    raise BadInputError(f"unknown text dataset {name!r}; use fortunes, ptb:DIR or text:DIR")


# ----- vocabulary and ids -----
def build_vocab(lines: Lines, max_size: int) -> tuple[str, ...]:
    """``<unk>`` and ``<eos>`` first, then the most frequent words (ties alphabetical), at most ``max_size``."""
    if max_size < 2:
        raise BadInputError(f"vocabulary size must be at least 2 (for {UNK} and {EOS}), got {max_size}")
    counts = Counter(word for line in lines for word in line)
    for special in (UNK, EOS):
        counts.pop(special, None)
    ranked = sorted(counts, key=lambda w: (-counts[w], w))
    return (UNK, EOS, *ranked[: max_size - 2])


def encode(lines: Lines, vocab: Sequence[str]) -> torch.Tensor:
    """One stream of ids: every line's words then ``<eos>``; unknown words become ``<unk>``."""
    index = {word: i for i, word in enumerate(vocab)}
    unk, eos = index[UNK], index[EOS]
    ids = [i for line in lines for i in (*(index.get(w, unk) for w in line), eos)]
    return torch.tensor(ids, dtype=torch.long)


def corpus_from_splits(splits: TextSplits, vocab: Sequence[str]) -> Corpus:
    return Corpus(encode(splits.train, vocab), encode(splits.valid, vocab), encode(splits.test, vocab), tuple(vocab))


@lru_cache(maxsize=4)
def load_corpus(name: str, vocab_size: int, train_lines: int | None = None, eval_lines: int | None = None) -> Corpus:
    """A corpus by name, optionally cut to its first lines (the proxy). The vocabulary always comes from the
    whole training split, so the proxy network has the final network's embedding."""
    splits = text_splits(name)
    vocab = build_vocab(splits.train, vocab_size)
    if train_lines is not None or eval_lines is not None:
        splits = splits.head(train_lines or len(splits.train), eval_lines or max(len(splits.valid), len(splits.test)))
    return corpus_from_splits(splits, vocab)


# ----- batches -----
def batchify(stream: torch.Tensor, batch_size: int) -> torch.Tensor:
    """Cut a stream into ``batch_size`` parallel columns, shape (steps, batch), dropping the remainder."""
    steps = stream.numel() // batch_size
    if steps < 2:
        raise BadInputError(
            f"{stream.numel()} tokens are too few for batch size {batch_size}; use more text or a smaller batch"
        )
    return stream[: steps * batch_size].view(batch_size, steps).t().contiguous()


def bptt_slice(source: torch.Tensor, start: int, length: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Inputs and next-word targets of ``length`` steps from ``start`` (shorter at the end)."""
    length = min(length, source.size(0) - 1 - start)
    return source[start : start + length], source[start + 1 : start + 1 + length]
