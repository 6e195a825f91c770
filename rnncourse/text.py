r"""Character-level text: a corpus, a vocabulary, batches, sampling and bits per character.

Chapter 3 trains its first language model with these tools; chapter 8 (language models)
reuses them. The pieces:

- :func:`pydoc_corpus`: the help texts of ``pydoc_data.topics`` (Python's standard library,
  ~465,000 characters of English documentation), joined in a fixed order; works offline.
- :class:`CharVocab`: characters to integer ids and back, with an optional unknown symbol.
- :func:`split_text`: a contiguous train / validation split (no shuffling: text is a stream).
- :func:`split_stream`: a contiguous train / validation / test split (90 / 5 / 5 by default).
- :func:`python_source_corpus`: the standard library's own Python sources (a corpus of code).
- :func:`classic_corpus`: an optional public-domain corpus for online learners, downloaded once
  with :func:`rnncourse.download.fetch` (SHA-256 checked, cached, atomic).
- :func:`batchify` and :func:`stream_chunks`: one long stream as ``batch`` parallel streams,
  read in consecutive chunks for truncated BPTT (the state carries from chunk to chunk).
- :func:`random_windows`: random ``(input, next-character target)`` windows.
- :class:`CharLM`: one-hot input, any recurrent layer, a linear head to next-character logits.
- :func:`sample`: generate text with a temperature and a ``torch.Generator``.
- :func:`bits_per_char`, :func:`unigram_bits_per_char`, :func:`evaluate_bits_per_char`:
  the cross-entropy in bits per character, of a model and of the character-frequency baseline.

A model that assigns probability :math:`p(c_t \mid c_{<t})` to each next character has

.. math::

    \text{bits per character} = -\frac{1}{N} \sum_{t=1}^{N} \log_2 p(c_t \mid c_{<t}),

the average number of bits an ideal coder driven by the model would spend per character.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

import torch
from torch import nn

from .validation import ShapeError, check_positive_int

__all__ = ["pydoc_corpus", "python_source_corpus", "classic_corpus", "split_stream",
           "CharVocab", "split_text", "batchify", "stream_chunks",
           "random_windows", "CharLM", "sample", "bits_per_char", "unigram_bits_per_char",
           "evaluate_bits_per_char"]


def pydoc_corpus(max_chars: int | None = None) -> str:
    """The standard library's ``pydoc_data.topics`` help texts as one deterministic string.

    The topics are joined in sorted order of their keys, separated by a blank line. The
    contents change with the Python version, so never hard-code lengths or counts.

    Args:
        max_chars: keep only the first ``max_chars`` characters (``None``: all of them).

    Example::

        >>> text = pydoc_corpus(max_chars=22)
        >>> len(text)
        22
    """
    from pydoc_data.topics import topics

    text = "\n\n".join(topics[key] for key in sorted(topics))
    if max_chars is not None:
        text = text[:check_positive_int(max_chars, "max_chars")]
    return text


class CharVocab:
    """A vocabulary of characters: ``encode`` text to ids, ``decode`` ids to text.

    Args:
        chars: the characters, each once; their ids are their positions.
        unknown: a character that stands for every character not in ``chars`` (it is added
            at the end if missing), or ``None`` to make :meth:`encode` refuse such text.

    Example::

        >>> vocab = CharVocab.from_text("hello", unknown="?")
        >>> vocab.chars
        'ehlo?'
        >>> vocab.encode("hex").tolist()
        [1, 0, 4]
        >>> vocab.decode([1, 0, 2, 2, 3])
        'hello'
    """

    def __init__(self, chars: Iterable[str], unknown: str | None = None) -> None:
        chars = list(chars)
        for c in chars:
            if not isinstance(c, str) or len(c) != 1:
                raise ValueError(f"chars must be single characters, got {c!r}")
        if len(set(chars)) != len(chars):
            duplicates = sorted({c for c in chars if chars.count(c) > 1})
            raise ValueError(f"chars must be distinct, got duplicates {duplicates}")
        if unknown is not None:
            if not isinstance(unknown, str) or len(unknown) != 1:
                raise ValueError(f"unknown must be one character or None, got {unknown!r}")
            if unknown not in chars:
                chars.append(unknown)
        if not chars:
            raise ValueError("a vocabulary needs at least one character")
        self.chars = "".join(chars)
        self.unknown = unknown
        self.index = {c: i for i, c in enumerate(chars)}

    @classmethod
    def from_text(cls, text: str, unknown: str | None = None) -> CharVocab:
        """The sorted set of characters of ``text`` (plus ``unknown`` if given)."""
        if not isinstance(text, str) or not text:
            raise ValueError(f"text must be a non-empty str, got {type(text).__name__} "
                             f"{text!r:.40}")
        return cls(sorted(set(text)), unknown)

    def __len__(self) -> int:
        return len(self.chars)

    def __repr__(self) -> str:
        return f"CharVocab({len(self)} chars, unknown={self.unknown!r})"

    def encode(self, text: str) -> torch.Tensor:
        """``text`` as a ``torch.long`` tensor of ids, shape ``(len(text),)``.

        Characters outside the vocabulary become the unknown id, or raise ``KeyError`` naming
        the first one and its position when the vocabulary has no unknown symbol.
        """
        if not isinstance(text, str):
            raise TypeError(f"text must be a str, got {type(text).__name__}")
        index = self.index
        if self.unknown is None:
            for position, c in enumerate(text):
                if c not in index:
                    raise KeyError(f"character {c!r} at position {position} is not in the "
                                   f"vocabulary of {len(self)} characters; build the "
                                   "vocabulary with unknown='...' to map such characters")
            ids = [index[c] for c in text]
        else:
            fallback = index[self.unknown]
            ids = [index.get(c, fallback) for c in text]
        return torch.tensor(ids, dtype=torch.long)

    def decode(self, ids: torch.Tensor | Sequence[int]) -> str:
        """The text of a 1-D sequence of ids (a tensor or a list of ints)."""
        values = ids.tolist() if isinstance(ids, torch.Tensor) else list(ids)
        if isinstance(ids, torch.Tensor) and ids.dim() != 1:
            raise ShapeError(f"ids must be 1-D, got shape {tuple(ids.shape)}")
        for i in values:
            if not isinstance(i, int) or not 0 <= i < len(self):
                raise ValueError(f"ids must be integers in [0, {len(self)}), got {i!r}")
        return "".join(self.chars[i] for i in values)


def split_text(text: str, validation_fraction: float = 0.1) -> tuple[str, str]:
    """Split ``text`` into ``(train, validation)``: the last ``validation_fraction`` is held out.

    Contiguous, not shuffled: neighbouring characters are strongly dependent, so a random
    split would leak the validation text into training.
    """
    if not isinstance(text, str):
        raise TypeError(f"text must be a str, got {type(text).__name__}")
    if not isinstance(validation_fraction, (int, float)) or not 0 < validation_fraction < 1:
        raise ValueError(f"validation_fraction must be in (0, 1), got {validation_fraction!r}")
    cut = int(round(len(text) * (1 - validation_fraction)))
    if cut < 2 or len(text) - cut < 2:
        raise ValueError(f"text of {len(text)} characters is too short to split with "
                         f"validation_fraction={validation_fraction}")
    return text[:cut], text[cut:]


def split_stream(text: str, fractions: tuple[float, float, float] = (0.9, 0.05, 0.05)
                 ) -> tuple[str, str, str]:
    """Split ``text`` by position into ``(train, validation, test)``, in that order.

    The cuts are at ``round(len(text) * fractions[0])`` and at
    ``round(len(text) * (fractions[0] + fractions[1]))``; nothing is shuffled, so no held-out
    character's neighbourhood leaks into training (only the text before it does, as in use).

    Example::

        >>> split_stream("abcdefghijklmnopqrst")
        ('abcdefghijklmnopqr', 's', 't')
    """
    if not isinstance(text, str):
        raise TypeError(f"text must be a str, got {type(text).__name__}")
    if (not isinstance(fractions, (tuple, list)) or len(fractions) != 3
            or not all(isinstance(f, (int, float)) and f > 0 for f in fractions)
            or not math.isclose(sum(fractions), 1.0)):
        raise ValueError(f"fractions must be three positive numbers summing to 1, got "
                         f"{fractions!r}")
    a = int(round(len(text) * fractions[0]))
    b = int(round(len(text) * (fractions[0] + fractions[1])))
    if a < 2 or b - a < 1 or len(text) - b < 1:
        raise ValueError(f"text of {len(text)} characters is too short to split as {fractions}")
    return text[:a], text[a:b], text[b:]


def python_source_corpus(max_chars: int | None = 300_000, packages: Sequence[str] = (
        "json", "email", "http", "logging", "unittest", "xml", "urllib", "importlib")) -> str:
    """Python code: the ``.py`` files of some standard-library packages, in sorted path order.

    Works offline (the files ship with Python). Each file is preceded by a ``# file: name``
    line; the content changes with the Python version, so never hard-code lengths.

    Args:
        max_chars: keep only the first ``max_chars`` characters (``None``: all of them).
        packages: standard-library package names whose sources are read.
    """
    import importlib.util
    from pathlib import Path

    parts = []
    for name in packages:
        spec = importlib.util.find_spec(name)
        if spec is None or not spec.submodule_search_locations:
            raise ValueError(f"{name!r} is not a standard-library package")
        root = Path(next(iter(spec.submodule_search_locations)))
        for path in sorted(root.rglob("*.py")):
            if "test" in path.relative_to(root).parts[:-1]:
                continue
            parts.append(f"# file: {name}/{path.relative_to(root).as_posix()}\n"
                         + path.read_text(encoding="utf-8", errors="replace"))
    text = "\n".join(parts)
    if max_chars is not None:
        text = text[:check_positive_int(max_chars, "max_chars")]
    return text


def classic_corpus(url: str, sha256: str, filename: str | None = None, directory: Any = None,
                   timeout: float = 30.0) -> str:
    """An optional public-domain corpus for online learners (the course never needs it).

    Downloaded once with :func:`rnncourse.download.fetch`: checked against ``sha256`` (the
    SHA-256 of the file, which you take from a copy you trust), written atomically, cached
    (``$RNNCOURSE_CACHE``) and read from the cache afterwards; a corrupted or cut-short
    download raises :class:`rnncourse.download.DownloadError` and leaves nothing behind, and
    without a network the error says that this data is optional. Returns the text (UTF-8).

    Example (Karpathy's "tiny Shakespeare", ~1.1 MB)::

        shakespeare = classic_corpus(
            "https://raw.githubusercontent.com/karpathy/char-rnn/master/data/"
            "tinyshakespeare/input.txt", sha256="<the file's SHA-256>")
    """
    from .download import fetch

    path = fetch(url, sha256, filename=filename, directory=directory, timeout=timeout)
    return path.read_text(encoding="utf-8")


def _check_ids(ids: Any, name: str = "ids") -> torch.Tensor:
    if not isinstance(ids, torch.Tensor) or ids.dim() != 1 or ids.dtype != torch.long:
        raise ShapeError(f"{name} must be a 1-D torch.long tensor (e.g. CharVocab.encode's "
                         f"output), got {type(ids).__name__} "
                         f"{tuple(getattr(ids, 'shape', ()))} {getattr(ids, 'dtype', '')}")
    return ids


def batchify(ids: torch.Tensor, batch: int) -> torch.Tensor:
    """Cut one stream of ids into ``batch`` parallel streams, time-major ``(steps, batch)``.

    Column ``b`` holds the ``b``-th consecutive piece of the stream; the tail that does not
    fill a row is dropped. Reading the result row by row reads every piece in order, which is
    what truncated BPTT with a carried state needs.

    Example::

        >>> batchify(torch.arange(7), 2).tolist()
        [[0, 3], [1, 4], [2, 5]]
    """
    ids = _check_ids(ids)
    batch = check_positive_int(batch, "batch")
    steps = len(ids) // batch
    if steps < 2:
        raise ValueError(f"{len(ids)} ids are too few for {batch} streams of at least 2 steps")
    return ids[: steps * batch].reshape(batch, steps).T


def stream_chunks(streams: torch.Tensor, k: int) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """Consecutive ``(input, target)`` chunks of ``k`` steps from ``(steps, batch)`` streams.

    The target is the next character: ``target[t] = streams[start + t + 1]``. Yields tensors
    of shape ``(k, batch)`` (the last chunk may be shorter), in order, so that the state at
    the end of one chunk is the right start for the next.
    """
    if not isinstance(streams, torch.Tensor) or streams.dim() != 2:
        raise ShapeError(f"streams must be a (steps, batch) tensor (see batchify), got "
                         f"{type(streams).__name__} {tuple(getattr(streams, 'shape', ()))}")
    k = check_positive_int(k, "k")
    for start in range(0, streams.shape[0] - 1, k):
        end = min(start + k, streams.shape[0] - 1)
        yield streams[start:end], streams[start + 1:end + 1]


def random_windows(ids: torch.Tensor, seq_len: int, batch: int,
                   generator: torch.Generator | None = None
                   ) -> tuple[torch.Tensor, torch.Tensor]:
    """``batch`` random windows of the stream: inputs and next-character targets.

    Returns two ``(seq_len, batch)`` tensors (time-major) with
    ``targets[t, b] = ids[start_b + t + 1]`` and ``inputs[t, b] = ids[start_b + t]``; the
    starts are drawn uniformly from ``generator`` (the global generator when ``None``).
    """
    ids = _check_ids(ids)
    seq_len = check_positive_int(seq_len, "seq_len")
    batch = check_positive_int(batch, "batch")
    if len(ids) < seq_len + 1:
        raise ValueError(f"{len(ids)} ids are too few for windows of seq_len={seq_len} "
                         "(need seq_len + 1)")
    starts = torch.randint(0, len(ids) - seq_len, (batch,), generator=generator)
    offsets = torch.arange(seq_len + 1)
    windows = ids[(starts[None, :] + offsets[:, None]).to(ids.device)]  # (seq_len + 1, batch)
    return windows[:-1], windows[1:]


class CharLM(nn.Module):
    """A character language model: one-hot characters → a recurrent layer → next-char logits.

    Args:
        vocab_size: number of characters ``V``.
        rnn: a recurrent layer with ``input_size == V``, time-major, with ``nn.RNN``'s call
            convention ``rnn(x, state) -> (output, state)`` (``nn.RNN``, ``nn.LSTM``,
            ``nn.GRU`` or the course's from-scratch layers).

    Shape:
        - ids ``(T, batch)`` of ``torch.long``; state as the layer's (``None``: zeros)
        - returns ``(logits, state)``: ``(T, batch, V)`` and the layer's final state

    Example::

        >>> from rnncourse.forward import ScratchRNN
        >>> lm = CharLM(5, ScratchRNN(5, 8))
        >>> logits, h = lm(torch.zeros(3, 2, dtype=torch.long))
        >>> tuple(logits.shape), tuple(h.shape)
        ((3, 2, 5), (1, 2, 8))
    """

    def __init__(self, vocab_size: int, rnn: nn.Module) -> None:
        super().__init__()
        self.vocab_size = check_positive_int(vocab_size, "vocab_size")
        if getattr(rnn, "input_size", vocab_size) != vocab_size:
            raise ValueError(f"rnn.input_size must equal vocab_size={vocab_size} (one-hot "
                             f"inputs), got {rnn.input_size}")
        if getattr(rnn, "batch_first", False):
            raise ValueError("rnn must be time-major (batch_first=False)")
        self.rnn = rnn
        directions = 2 if getattr(rnn, "bidirectional", False) else 1
        self.head = nn.Linear(directions * rnn.hidden_size, vocab_size)

    def forward(self, ids: torch.Tensor, state: Any = None) -> tuple[torch.Tensor, Any]:
        if not isinstance(ids, torch.Tensor) or ids.dim() != 2 or ids.dtype != torch.long:
            raise ShapeError(f"ids must be a (T, batch) torch.long tensor, got "
                             f"{type(ids).__name__} {tuple(getattr(ids, 'shape', ()))} "
                             f"{getattr(ids, 'dtype', '')}")
        weight = self.head.weight
        x = nn.functional.one_hot(ids, self.vocab_size).to(weight.dtype)   # (T, batch, V)
        output, state = self.rnn(x, state)                                  # (T, batch, H)
        return self.head(output), state                                     # (T, batch, V)


def bits_per_char(logits: torch.Tensor, targets: torch.Tensor) -> float:
    """Mean cross-entropy of ``logits`` ``(..., V)`` for integer ``targets`` ``(...)``, in bits."""
    if not isinstance(logits, torch.Tensor) or not isinstance(targets, torch.Tensor) \
            or logits.shape[:-1] != targets.shape:
        raise ShapeError(f"logits must be (..., V) and targets (...) with the same leading "
                         f"shape, got {tuple(getattr(logits, 'shape', ()))} and "
                         f"{tuple(getattr(targets, 'shape', ()))}")
    nats = nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]).float(),
                                       targets.reshape(-1))
    return nats.item() / math.log(2)


def unigram_bits_per_char(train_ids: torch.Tensor, eval_ids: torch.Tensor, vocab_size: int,
                          smoothing: float = 1.0) -> float:
    r"""Bits per character of the character-frequency (unigram) model on ``eval_ids``.

    :math:`p(c) = (n_c + \alpha) / (N + \alpha V)` from the counts :math:`n_c` of the training
    ids (add-:math:`\alpha` smoothing keeps unseen characters finite); the context is ignored.
    This is the baseline a language model must beat to have learned anything about order.
    """
    train_ids, eval_ids = _check_ids(train_ids, "train_ids"), _check_ids(eval_ids, "eval_ids")
    vocab_size = check_positive_int(vocab_size, "vocab_size")
    if not isinstance(smoothing, (int, float)) or smoothing <= 0:
        raise ValueError(f"smoothing must be > 0, got {smoothing!r}")
    if int(max(train_ids.max(), eval_ids.max())) >= vocab_size:
        raise ValueError(f"ids must be < vocab_size={vocab_size}")
    counts = torch.bincount(train_ids, minlength=vocab_size).double() + smoothing
    log2_p = torch.log2(counts / counts.sum())
    return -log2_p[eval_ids].mean().item()


@torch.no_grad()
def evaluate_bits_per_char(model: nn.Module, ids: torch.Tensor, batch: int = 16,
                           k: int = 200) -> float:
    """Bits per character of ``model`` on the stream ``ids``, read with a carried state.

    The stream is cut into ``batch`` parallel streams (:func:`batchify`) and read in chunks
    of ``k`` steps, the state carried across chunks, so every character but the first of
    each stream is predicted from its whole past within its stream.
    """
    streams = batchify(ids, batch).to(next(model.parameters()).device)
    was_training = model.training
    model.eval()
    state, nats, count = None, 0.0, 0
    for inputs, targets in stream_chunks(streams, k):
        logits, state = model(inputs, state)
        nats += nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]).float(),
                                            targets.reshape(-1), reduction="sum").item()
        count += targets.numel()
    model.train(was_training)
    return nats / count / math.log(2)


@torch.no_grad()
def sample(model: nn.Module, vocab: CharVocab, prompt: str, length: int,
           temperature: float = 1.0, generator: torch.Generator | None = None) -> str:
    r"""Generate ``length`` characters after ``prompt`` from a model like :class:`CharLM`.

    The prompt is read to build the state; then each next character is drawn from
    :math:`\operatorname{softmax}(z / \tau)` of the last logits :math:`z` (temperature
    :math:`\tau`: small → nearly the most likely character, 1 → the model's distribution,
    large → closer to uniform), fed back in, and so on. Draws come from ``generator``
    (the global generator when ``None``). Returns the generated text without the prompt.
    """
    length = check_positive_int(length, "length")
    if not isinstance(temperature, (int, float)) or not temperature > 0:
        raise ValueError(f"temperature must be > 0, got {temperature!r}")
    if not isinstance(prompt, str) or not prompt:
        raise ValueError("prompt must be a non-empty str (the state is built from it)")
    device = next(model.parameters()).device
    was_training = model.training
    model.eval()
    ids = vocab.encode(prompt).to(device)[:, None]                  # (len(prompt), 1)
    logits, state = model(ids, None)
    out = []
    for _ in range(length):
        probs = torch.softmax(logits[-1, 0].double() / temperature, dim=-1).cpu()   # (V,)
        nxt = int(torch.multinomial(probs, 1, generator=generator))
        out.append(nxt)
        logits, state = model(torch.tensor([[nxt]], device=device), state)
    model.train(was_training)
    return vocab.decode(out)
