"""Tests of rnncourse.text (corpus, vocabulary, batches, model, sampling, bits per char)."""

from __future__ import annotations

import hashlib
import math

import pytest
import torch
from torch import nn

from rnncourse import text
from rnncourse.download import DownloadError
from rnncourse.forward import ScratchRNN
from rnncourse.validation import ShapeError


def test_pydoc_corpus_is_deterministic_and_truncates():
    corpus = text.pydoc_corpus()
    assert corpus == text.pydoc_corpus() and len(corpus) > 100_000
    from pydoc_data.topics import topics

    first = sorted(topics)[0]
    assert corpus.startswith(topics[first])
    assert text.pydoc_corpus(max_chars=50) == corpus[:50]
    with pytest.raises((TypeError, ValueError), match="max_chars"):
        text.pydoc_corpus(max_chars=0)


def test_vocab_round_trip_and_unknown():
    vocab = text.CharVocab.from_text("hello", unknown="?")
    assert vocab.chars == "ehlo?" and len(vocab) == 5
    assert vocab.encode("hex").tolist() == [1, 0, 4]
    assert vocab.decode(vocab.encode("hello")) == "hello"
    assert vocab.decode([1, 0]) == "he"
    assert vocab.encode("").dtype == torch.long and vocab.encode("").shape == (0,)
    strict = text.CharVocab.from_text("ab")
    with pytest.raises(KeyError, match="'c' at position 1"):
        strict.encode("ac")
    assert "unknown" in repr(strict)


@pytest.mark.parametrize("call, error, message", [
    (lambda: text.CharVocab(["a", "a"]), ValueError, "distinct"),
    (lambda: text.CharVocab(["ab"]), ValueError, "single characters"),
    (lambda: text.CharVocab([]), ValueError, "at least one"),
    (lambda: text.CharVocab(["a"], unknown="??"), ValueError, "one character"),
    (lambda: text.CharVocab.from_text(""), ValueError, "non-empty"),
    (lambda: text.CharVocab.from_text("ab").encode(3), TypeError, "str"),
    (lambda: text.CharVocab.from_text("ab").decode([2]), ValueError, r"\[0, 2\)"),
    (lambda: text.CharVocab.from_text("ab").decode(torch.zeros(2, 2, dtype=torch.long)),
     ShapeError, "1-D"),
])
def test_vocab_errors(call, error, message):
    with pytest.raises(error, match=message):
        call()


def test_split_text_is_contiguous():
    train, val = text.split_text("abcdefghij", 0.2)
    assert (train, val) == ("abcdefgh", "ij")
    with pytest.raises(ValueError, match="validation_fraction"):
        text.split_text("abcdef", 1.5)
    with pytest.raises(ValueError, match="too short"):
        text.split_text("abc", 0.1)
    with pytest.raises(TypeError, match="str"):
        text.split_text(["a"], 0.1)


def test_batchify_and_stream_chunks_read_the_stream_in_order():
    ids = torch.arange(23)
    streams = text.batchify(ids, 3)                               # (7, 3)
    assert streams.shape == (7, 3) and streams[:, 1].tolist() == list(range(7, 14))
    pairs = list(text.stream_chunks(streams, 4))
    assert [p[0].shape[0] for p in pairs] == [4, 2]                # 6 inputs have a next char
    inputs = torch.cat([p[0] for p in pairs])
    targets = torch.cat([p[1] for p in pairs])
    assert torch.equal(targets, streams[1:]) and torch.equal(inputs, streams[:-1])
    with pytest.raises(ShapeError, match="torch.long"):
        text.batchify(torch.arange(10.0), 2)
    with pytest.raises(ValueError, match="too few"):
        text.batchify(torch.arange(3), 2)
    with pytest.raises(ShapeError, match="steps, batch"):
        next(text.stream_chunks(torch.arange(5), 2))


def test_random_windows_are_next_char_pairs_and_seeded():
    ids = torch.arange(100)
    x, y = text.random_windows(ids, 8, 5, torch.Generator().manual_seed(0))
    assert x.shape == y.shape == (8, 5)
    assert torch.equal(y, x + 1)                                   # ids[start + t + 1]
    x2, _ = text.random_windows(ids, 8, 5, torch.Generator().manual_seed(0))
    assert torch.equal(x, x2)
    with pytest.raises(ValueError, match="too few"):
        text.random_windows(torch.arange(5), 5, 2)


def test_char_lm_shapes_and_errors():
    lm = text.CharLM(5, ScratchRNN(5, 8))
    logits, h = lm(torch.zeros(3, 2, dtype=torch.long))
    assert logits.shape == (3, 2, 5) and h.shape == (1, 2, 8)
    logits_lstm, (h, c) = text.CharLM(5, nn.LSTM(5, 4))(torch.zeros(3, 2, dtype=torch.long))
    assert logits_lstm.shape == (3, 2, 5) and c.shape == (1, 2, 4)
    with pytest.raises(ValueError, match="input_size"):
        text.CharLM(5, nn.RNN(4, 8))
    with pytest.raises(ValueError, match="time-major"):
        text.CharLM(5, nn.RNN(5, 8, batch_first=True))
    with pytest.raises(ShapeError, match=r"\(T, batch\) torch.long"):
        lm(torch.zeros(3, 2))


def test_bits_per_char_and_unigram():
    logits = torch.zeros(4, 3, 8)                                  # uniform over 8 symbols
    assert text.bits_per_char(logits, torch.zeros(4, 3, dtype=torch.long)) == pytest.approx(3)
    with pytest.raises(ShapeError, match="leading shape"):
        text.bits_per_char(logits, torch.zeros(4, dtype=torch.long))
    train = torch.tensor([0, 0, 0, 1])
    # add-one counts 4, 2, 1: p(0) = 4/7, p(1) = 2/7, p(2) = 1/7
    got = text.unigram_bits_per_char(train, torch.tensor([0, 2]), 3)
    assert got == pytest.approx(-(math.log2(4 / 7) + math.log2(1 / 7)) / 2)
    with pytest.raises(ValueError, match="vocab_size"):
        text.unigram_bits_per_char(train, torch.tensor([5]), 3)
    with pytest.raises(ValueError, match="smoothing"):
        text.unigram_bits_per_char(train, train, 3, smoothing=0)


def test_a_few_steps_of_training_beat_the_unigram_and_sampling_is_seeded():
    torch.manual_seed(0)
    corpus = "abcabcabcabd" * 60
    vocab = text.CharVocab.from_text(corpus)
    ids = vocab.encode(corpus)
    lm = text.CharLM(len(vocab), nn.RNN(len(vocab), 16))
    opt = torch.optim.Adam(lm.parameters(), lr=0.03)
    streams = text.batchify(ids[:600], 4)
    for _ in range(4):
        state = None
        for x, y in text.stream_chunks(streams, 10):
            logits, state = lm(x, None if state is None else state.detach())
            loss = nn.functional.cross_entropy(logits.reshape(-1, len(vocab)), y.reshape(-1))
            opt.zero_grad()
            loss.backward()
            opt.step()
    model_bpc = text.evaluate_bits_per_char(lm, ids[600:], batch=2, k=7)
    assert model_bpc < text.unigram_bits_per_char(ids[:600], ids[600:], len(vocab)) - 0.5
    assert lm.training                                             # evaluation restores mode
    one = text.sample(lm, vocab, "ab", 30, 0.5, torch.Generator().manual_seed(1))
    two = text.sample(lm, vocab, "ab", 30, 0.5, torch.Generator().manual_seed(1))
    assert one == two and len(one) == 30 and set(one) <= set(vocab.chars)
    with pytest.raises(ValueError, match="temperature"):
        text.sample(lm, vocab, "ab", 5, temperature=0)
    with pytest.raises(ValueError, match="prompt"):
        text.sample(lm, vocab, "", 5)


# --- chapter 8 additions: split_stream, python_source_corpus, classic_corpus --------------------


def test_split_stream_is_by_position():
    train, valid, test = text.split_stream("abcdefghijklmnopqrst")
    assert (train, valid, test) == ("abcdefghijklmnopqr", "s", "t")
    corpus = text.pydoc_corpus()
    a, b, c = text.split_stream(corpus)
    assert a + b + c == corpus and abs(len(b) / len(corpus) - 0.05) < 1e-4
    assert text.split_stream("x" * 100, (0.8, 0.1, 0.1))[1] == "x" * 10
    with pytest.raises(ValueError, match="summing to 1"):
        text.split_stream("x" * 100, (0.9, 0.1, 0.1))
    with pytest.raises(ValueError, match="too short"):
        text.split_stream("abc")
    with pytest.raises(TypeError, match="str"):
        text.split_stream(b"abc")


def test_python_source_corpus_is_code_and_deterministic():
    code = text.python_source_corpus(max_chars=20_000)
    assert code == text.python_source_corpus(max_chars=20_000) and len(code) == 20_000
    assert code.startswith("# file: json/__init__.py\n") and "def " in code
    with pytest.raises(ValueError, match="not a standard-library package"):
        text.python_source_corpus(packages=("no_such_package_xyz",))


SONNET = b"Shall I compare thee to a summer's day?\n" * 500


@pytest.fixture
def corpus_server(serve):
    return serve({"/sonnets.txt": SONNET, "/corrupt.txt": SONNET[:-1] + b"?", "/cut.txt": SONNET},
                 cut={"/cut.txt"})


def test_classic_corpus_downloads_checks_and_caches(corpus_server, tmp_path):
    sha = hashlib.sha256(SONNET).hexdigest()
    got = text.classic_corpus(f"{corpus_server}/sonnets.txt", sha, directory=tmp_path)
    assert got == SONNET.decode() and (tmp_path / "sonnets.txt").exists()
    assert text.classic_corpus(f"{corpus_server}/sonnets.txt", sha, directory=tmp_path) == got
    with pytest.raises(DownloadError, match="checksum mismatch"):
        text.classic_corpus(f"{corpus_server}/corrupt.txt", sha, directory=tmp_path)
    with pytest.raises(DownloadError, match="cut short"):
        text.classic_corpus(f"{corpus_server}/cut.txt", sha, directory=tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["sonnets.txt"]   # nothing half-written
    with pytest.raises(ValueError, match="sha256"):
        text.classic_corpus(f"{corpus_server}/sonnets.txt", "abc", directory=tmp_path)
    with pytest.raises(DownloadError, match="optional"):
        text.classic_corpus("http://127.0.0.1:9/none.txt", sha, directory=tmp_path, timeout=2)
