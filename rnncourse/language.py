r"""Language models of characters: n-grams, a recurrent model, one evaluation, and generation.

Chapter 8 compares models that all answer the same question, the probability of the next
character given the text so far, and scores them the same way (:func:`bits_per_char` of the
per-character log-probabilities that :func:`score` returns). The pieces:

- :func:`ngram_ids`: every substring of the training stream up to a length, as integer ids
  (vectorised with ``numpy.unique``), and :func:`lookup_ids` to find held-out substrings in them.
- :class:`AddK`: the add-:math:`k` n-gram model (the textbook contrast).
- :class:`KneserNey`: interpolated *modified* Kneser–Ney (Chen & Goodman 1999), all orders.
- :class:`EmbeddingLM` and :func:`train_lm`: a character LSTM trained by truncated BPTT over a
  long stream with a carried state, clipping and a warm-up + cosine schedule, for a fixed
  number of steps; :func:`rnn_log2_probs` scores a stretch of text with it.
- :func:`interpolate`: :math:`p = \lambda p_a + (1 - \lambda) p_b`, per character.
- :func:`dynamic_log2_probs`: dynamic evaluation (Krause et al. 2018);
  :func:`adaptive_ngram_log2_probs` gives the n-gram the same chance (the scored text is
  added to its counts).
- :func:`repeated_context`: which held-out characters continue a string seen in training.
- :func:`next_char_distribution`, :func:`greedy`, :func:`temperature_probs`, :func:`top_k_probs`,
  :func:`generate`: decoding.
- :func:`word_tokens`, :func:`learn_bpe`, :func:`apply_bpe`, :func:`tokenisation_table`: characters
  vs words vs subwords.

All models score position :math:`t` of a stream ``ids`` given ``ids[:t]``:

.. math::

    \text{bpc} = -\frac{1}{N}\sum_{t} \log_2 p(c_t \mid c_{<t}), \qquad
    \text{perplexity} = 2^{\text{bpc}}.
"""

from __future__ import annotations

import math
import re
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import nn

from .validation import check_positive_int

__all__ = ["ngram_ids", "lookup_ids", "AddK", "KneserNey", "bits_per_char", "perplexity",
           "score", "interpolate", "best_lambda", "repeated_context", "EmbeddingLM",
           "TrainResult", "train_lm", "rnn_log2_probs", "dynamic_log2_probs",
           "adaptive_ngram_log2_probs", "next_char_distribution", "greedy", "temperature_probs",
           "top_k_probs", "generate", "word_tokens", "learn_bpe", "apply_bpe",
           "tokenisation_table"]


def _as_ids(ids: Any, name: str = "ids") -> np.ndarray:
    if isinstance(ids, torch.Tensor):
        ids = ids.detach().cpu().numpy()
    if not isinstance(ids, np.ndarray) or ids.ndim != 1 or not np.issubdtype(ids.dtype,
                                                                             np.integer):
        raise TypeError(f"{name} must be a 1-D integer array or torch.long tensor, got "
                        f"{type(ids).__name__} {getattr(ids, 'shape', '')}")
    if len(ids) and ids.min() < 0:
        raise ValueError(f"{name} must be >= 0, got a minimum of {ids.min()}")
    return ids.astype(np.int64)


def _check_span(ids: np.ndarray, start: int, stop: int | None) -> tuple[int, int]:
    stop = len(ids) if stop is None else stop
    if not (isinstance(start, (int, np.integer)) and isinstance(stop, (int, np.integer))
            and 1 <= start < stop <= len(ids)):
        raise ValueError(f"need 1 <= start < stop <= len(ids) = {len(ids)}, got start={start}, "
                         f"stop={stop}")
    return int(start), int(stop)


# --- substrings as integer ids --------------------------------------------------------------

def ngram_ids(train: np.ndarray, max_len: int, vocab_size: int
              ) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Integer ids of every substring of ``train`` of length 1 … ``max_len``.

    ``ids[k][t]`` is the id of the length-``k`` string ending at position ``t`` (-1 for
    ``t < k - 1``); ``keys[k]`` is the sorted array of ``parent * V + last char`` for the
    distinct strings, where ``parent`` is the id of the string without its last character,
    so that a string's id is its position in ``keys[k]``. ``ids[0]``/``keys[0]`` are the
    empty string (id 0). Shapes: ``ids[k]`` ``(len(train),)``.
    """
    n = len(train)
    ids, keys = [np.zeros(n, np.int64)], [np.zeros(1, np.int64)]
    for k in range(1, max_len + 1):
        parent = np.full(n, -1, np.int64)
        parent[1:] = ids[k - 1][:-1]
        if k == 1:
            parent[:] = 0
        ok = parent >= 0
        key = parent[ok] * vocab_size + train[ok]                       # (count,)
        uniq, inverse = np.unique(key, return_inverse=True)
        cur = np.full(n, -1, np.int64)
        cur[ok] = inverse
        ids.append(cur)
        keys.append(uniq)
    return ids, keys


def lookup_ids(keys: list[np.ndarray], ids: np.ndarray, vocab_size: int) -> list[np.ndarray]:
    """The ids (in the tables ``keys`` of :func:`ngram_ids`) of the substrings of ``ids``;
    -1 where the string never occurs in the training text."""
    n = len(ids)
    out = [np.zeros(n, np.int64)]
    for k in range(1, len(keys)):
        parent = np.full(n, -1, np.int64)
        parent[1:] = out[k - 1][:-1]
        if k == 1:
            parent[:] = 0
        out.append(_find(keys[k], parent, ids, vocab_size))
    return out


def _find(table: np.ndarray, parent: np.ndarray, char: np.ndarray, vocab_size: int
          ) -> np.ndarray:
    """Position of ``parent * V + char`` in the sorted ``table`` (-1 if absent or parent < 0)."""
    key = parent * vocab_size + char
    pos = np.searchsorted(table, key).clip(0, max(len(table) - 1, 0))
    found = (parent >= 0) & (len(table) > 0) & (table[pos] == key)
    return np.where(found, pos, -1)


# --- n-gram models -----------------------------------------------------------------------------

class _NGram:
    """Shared machinery: fit substring tables on ``train``; score positions of any stream."""

    def __init__(self, train: Any, order: int, vocab_size: int) -> None:
        self.order = check_positive_int(order, "order")
        self.vocab_size = check_positive_int(vocab_size, "vocab_size")
        train = _as_ids(train, "train")
        if len(train) < 2 or train.max() >= vocab_size:
            raise ValueError(f"train must hold at least 2 ids, all < vocab_size={vocab_size}")
        self.train = train
        self._fit()

    def _fit(self) -> None:
        raise NotImplementedError

    def log2_probs(self, ids: Any, start: int = 1, stop: int | None = None) -> np.ndarray:
        """``log2 p(ids[t] | ids[:t])`` for ``t`` in ``[start, stop)``, shape ``(stop - start,)``.
        """
        ids = _as_ids(ids)
        start, stop = _check_span(ids, start, stop)
        lo = max(0, start - self.order)
        window = ids[lo:stop]
        if window.max() >= self.vocab_size:
            raise ValueError(f"ids must be < vocab_size={self.vocab_size}")
        found = lookup_ids(self.keys[: self.order], window, self.vocab_size)
        targets = window[start - lo:]
        # the context of order n for target at window position j is found[n-1][j-1]
        ctx = [f[start - lo - 1:len(window) - 1] for f in found]          # each (N,)
        return np.log2(self._prob(ctx, targets))

    def distribution(self, context: Any) -> np.ndarray:
        """``p(· | context)`` over the whole vocabulary, shape ``(V,)`` (sums to 1)."""
        context = _as_ids(context, "context")
        context = context[len(context) - self.order + 1:] if self.order > 1 else context[:0]
        found = lookup_ids(self.keys[: self.order], context, self.vocab_size) \
            if len(context) else [np.zeros(0, np.int64)] * self.order
        ctx = []
        for k in range(self.order):
            cid = found[k][-1] if k and len(context) >= k else (0 if k == 0 else -1)
            ctx.append(np.full(self.vocab_size, cid, np.int64))
        return self._prob(ctx, np.arange(self.vocab_size))

    def _prob(self, ctx: list[np.ndarray], targets: np.ndarray) -> np.ndarray:
        raise NotImplementedError


class AddK(_NGram):
    r"""The add-:math:`k` n-gram model: :math:`p(w \mid h) = (c(hw) + k) / (c(h) + kV)`.

    ``h`` is the previous ``order - 1`` characters. Unseen contexts get the uniform
    distribution; small ``k`` trusts the counts, large ``k`` flattens them.

    Example::

        >>> m = AddK(np.array([0, 1, 0, 1]), order=2, vocab_size=3, k=1.0)
        >>> bool(np.isclose(m.distribution(np.array([0])).sum(), 1.0))
        True
    """

    def __init__(self, train: Any, order: int, vocab_size: int, k: float = 0.1) -> None:
        if not isinstance(k, (int, float)) or not k > 0:
            raise ValueError(f"k must be > 0, got {k!r}")
        self.k = float(k)
        super().__init__(train, order, vocab_size)

    def _fit(self) -> None:
        n = self.order
        ids, self.keys = ngram_ids(self.train, n, self.vocab_size)
        gram = ids[n][ids[n] >= 0]
        self.counts = np.bincount(gram, minlength=len(self.keys[n])).astype(float)
        parent = self.keys[n] // self.vocab_size                          # (grams,)
        self.context_counts = np.bincount(parent, weights=self.counts,
                                          minlength=len(self.keys[n - 1]))

    def _prob(self, ctx: list[np.ndarray], targets: np.ndarray) -> np.ndarray:
        n, V = self.order, self.vocab_size
        h = ctx[n - 1]
        g = _find(self.keys[n], h, targets, V)
        c_hw = np.where(g >= 0, self.counts[g.clip(0)], 0.0)
        c_h = np.where(h >= 0, self.context_counts[h.clip(0)], 0.0)
        return (c_hw + self.k) / (c_h + self.k * V)


class KneserNey(_NGram):
    r"""Interpolated modified Kneser–Ney of all orders ``1 … order`` (Chen & Goodman 1999).

    .. math::

        p_n(w \mid h) = \frac{\max(a(hw) - D_n(a(hw)), 0) + \gamma(h)\, p_{n-1}(w \mid h')}
                             {\sum_v a(hv)},\qquad
        \gamma(h) = D_{n,1} N_1(h\cdot) + D_{n,2} N_2(h\cdot) + D_{n,3+} N_{3+}(h\cdot),

    where ``h'`` drops the oldest character of ``h``; ``a`` is the raw count at the highest
    order and the *continuation count* (number of distinct characters seen before ``hw``)
    below it; ``N_j(h·)`` counts the continuations of ``h`` with ``a = j`` (``3+``: at least 3);
    the three discounts per order come from the counts of counts,
    :math:`Y = n_1/(n_1 + 2n_2)`, :math:`D_j = j - (j+1) Y n_{j+1}/n_j` (kept inside
    :math:`[0.1, 0.95 j]`, which only matters for tiny texts). An unseen context
    passes the whole mass to the shorter one; below order 1 is the uniform :math:`1/V`.
    """

    def _fit(self) -> None:
        N, V = self.order, self.vocab_size
        ids, self.keys = ngram_ids(self.train, N, V)
        self.a, self.discounts, self.gamma, self.total = [None], [None], [None], [None]
        for n in range(1, N + 1):
            grams = len(self.keys[n])
            if n == N:
                a = np.bincount(ids[n][ids[n] >= 0], minlength=grams).astype(float)
            else:   # continuation counts: distinct longer strings ending in this one
                longer = ids[n + 1] >= 0
                suffix = np.zeros(len(self.keys[n + 1]), np.int64)
                suffix[ids[n + 1][longer]] = ids[n][longer]
                a = np.bincount(suffix, minlength=grams).astype(float)
            cc = [np.sum(a == j) for j in (1, 2, 3, 4)]
            y = cc[0] / max(cc[0] + 2 * cc[1], 1)
            d = np.array([0.0] + [j - (j + 1) * y * cc[j] / cc[j - 1] if cc[j - 1] else 0.5
                                  for j in (1, 2, 3)])
            d[1:] = np.clip(d[1:], 0.1, [0.95, 1.9, 2.85])     # guard tiny or odd count tables
            parent = self.keys[n] // V                                      # (grams,)
            disc = d[np.minimum(a, 3).astype(int)]
            contexts = len(self.keys[n - 1])
            self.a.append(a)
            self.discounts.append(d)
            self.total.append(np.bincount(parent, weights=a, minlength=contexts))
            self.gamma.append(np.bincount(parent, weights=np.minimum(disc, a),
                                          minlength=contexts))

    def _prob(self, ctx: list[np.ndarray], targets: np.ndarray) -> np.ndarray:
        V = self.vocab_size
        p = np.full(len(targets), 1.0 / V)
        for n in range(1, self.order + 1):
            h = ctx[n - 1]
            g = _find(self.keys[n], h, targets, V)
            a = np.where(g >= 0, self.a[n][g.clip(0)], 0.0)
            top = np.maximum(a - self.discounts[n][np.minimum(a, 3).astype(int)], 0.0)
            hh = h.clip(0)
            total = np.where(h >= 0, self.total[n][hh], 0.0)
            seen = total > 0
            new = (top + self.gamma[n][hh] * p) / np.where(seen, total, 1.0)
            p = np.where(seen, new, p)
        return p


def bits_per_char(log2_probs: Any) -> float:
    """``-mean(log2 p)``: the one number every model is compared by (bits per character)."""
    values = np.asarray(log2_probs, dtype=float)
    if values.ndim != 1 or not len(values):
        raise ValueError(f"log2_probs must be a non-empty 1-D array, got shape {values.shape}")
    return float(-values.mean())


def perplexity(log2_probs: Any) -> float:
    """``2 ** bits_per_char``: the effective number of equally likely next characters."""
    return 2.0 ** bits_per_char(log2_probs)


def score(model: Any, ids: Any, start: int, stop: int | None = None, **options: Any
          ) -> np.ndarray:
    """Per-character ``log2 p(ids[t] | ids[:t])``, ``t in [start, stop)``, of any model.

    ``model`` is an n-gram (:class:`AddK`, :class:`KneserNey`) or a torch language model
    (``model(ids (T, B)) -> (logits, state)``, scored by :func:`rnn_log2_probs`).
    """
    if isinstance(model, _NGram):
        return model.log2_probs(ids, start, stop)
    if isinstance(model, nn.Module):
        return rnn_log2_probs(model, ids, start, stop, **options)
    raise TypeError(f"model must be an n-gram model or an nn.Module, got {type(model).__name__}")


def interpolate(log2_a: Any, log2_b: Any, lam: float) -> np.ndarray:
    r"""``log2(λ p_a + (1 - λ) p_b)`` per character, from two models' ``log2 p`` arrays."""
    a, b = np.asarray(log2_a, float), np.asarray(log2_b, float)
    if a.shape != b.shape:
        raise ValueError(f"the two models must score the same characters, got shapes "
                         f"{a.shape} and {b.shape}")
    if not isinstance(lam, (int, float)) or not 0 <= lam <= 1:
        raise ValueError(f"lam must be in [0, 1], got {lam!r}")
    return np.logaddexp2(np.log2(lam) + a if lam > 0 else -np.inf,
                         np.log2(1 - lam) + b if lam < 1 else -np.inf)


def best_lambda(log2_a: Any, log2_b: Any, grid: Sequence[float] | None = None) -> float:
    """The λ of ``grid`` (default 0, 0.05, …, 1) with the lowest interpolated bpc."""
    grid = np.linspace(0, 1, 21) if grid is None else grid
    return float(min(grid, key=lambda lam: bits_per_char(interpolate(log2_a, log2_b, lam))))


def repeated_context(train: Any, ids: Any, start: int, stop: int | None = None,
                     length: int = 20, vocab_size: int | None = None
                     ) -> tuple[np.ndarray, np.ndarray]:
    """For each ``t in [start, stop)``: does ``ids[t-length:t]`` occur in ``train``, and does
    ``ids[t-length:t+1]`` (the same string continued by the actual character)?

    Returns two boolean arrays of shape ``(stop - start,)``: ``repeated`` and ``continued``.
    """
    train, ids = _as_ids(train, "train"), _as_ids(ids)
    start, stop = _check_span(ids, start, stop)
    length = check_positive_int(length, "length")
    V = int(max(train.max(), ids.max()) + 1) if vocab_size is None else vocab_size
    _, keys = ngram_ids(train, length + 1, V)
    lo = max(0, start - length)
    found = lookup_ids(keys, ids[lo:stop], V)
    off = start - lo
    repeated = found[length][off - 1:stop - lo - 1] >= 0
    continued = found[length + 1][off:] >= 0
    return repeated, continued


# --- the recurrent model ------------------------------------------------------------------------

class EmbeddingLM(nn.Module):
    """Characters → embedding → ``nn.LSTM`` (``num_layers``) → dropout → linear → logits.

    Shape: ids ``(T, batch)`` long (time-major); returns ``(logits (T, batch, V), state)``.

    Example::

        >>> lm = EmbeddingLM(10, embedding_dim=4, hidden_size=8, num_layers=2)
        >>> logits, (h, c) = lm(torch.zeros(3, 2, dtype=torch.long))
        >>> tuple(logits.shape), tuple(h.shape)
        ((3, 2, 10), (2, 2, 8))
    """

    def __init__(self, vocab_size: int, embedding_dim: int = 64, hidden_size: int = 256,
                 num_layers: int = 2, dropout: float = 0.25) -> None:
        super().__init__()
        self.vocab_size = check_positive_int(vocab_size, "vocab_size")
        self.embedding = nn.Embedding(vocab_size, check_positive_int(embedding_dim,
                                                                     "embedding_dim"))
        self.rnn = nn.LSTM(embedding_dim, check_positive_int(hidden_size, "hidden_size"),
                           num_layers=check_positive_int(num_layers, "num_layers"),
                           dropout=dropout if num_layers > 1 else 0.0)
        self.drop = nn.Dropout(dropout)
        self.head = nn.Linear(hidden_size, vocab_size)

    def forward(self, ids: torch.Tensor, state: Any = None) -> tuple[torch.Tensor, Any]:
        if not isinstance(ids, torch.Tensor) or ids.dim() != 2 or ids.dtype != torch.long:
            raise TypeError(f"ids must be a (T, batch) torch.long tensor, got "
                            f"{type(ids).__name__} {tuple(getattr(ids, 'shape', ()))}")
        x = self.drop(self.embedding(ids))                                 # (T, B, E)
        output, state = self.rnn(x, state)                                 # (T, B, H)
        return self.head(self.drop(output)), state                         # (T, B, V)


def _detach(state: Any) -> Any:
    return tuple(s.detach() for s in state) if isinstance(state, tuple) else state.detach()


@dataclass
class TrainResult:
    """What :func:`train_lm` measured: validation bpc at ``eval_steps``, losses, seconds."""

    steps: list[int] = field(default_factory=list)
    valid_bpc: list[float] = field(default_factory=list)
    train_bpc: list[float] = field(default_factory=list)
    seconds: float = 0.0


def train_lm(model: nn.Module, train_ids: torch.Tensor, steps: int, batch: int = 8,
             seq_len: int = 100, lr: float = 4e-3, warmup: int = 150, clip: float = 1.0,
             weight_decay: float = 0.01, evaluate: Callable[[nn.Module], float] | None = None,
             eval_every: int = 500, progress: Callable[[range], Any] | None = None
             ) -> TrainResult:
    """Truncated BPTT over ``batch`` parallel streams with the state carried between chunks.

    AdamW (β = 0.9, 0.99), a linear warm-up over ``warmup`` steps then a cosine to 0 at
    ``steps``, gradient-norm clipping at ``clip``. The stream wraps round when it ends (the
    state is reset there). ``evaluate(model)`` (e.g. validation bpc) runs every ``eval_every``
    steps and at the end; its time is not counted in ``seconds``.
    """
    from .text import batchify

    steps = check_positive_int(steps, "steps")
    device = next(model.parameters()).device
    streams = batchify(train_ids, batch).to(device)                        # (L, B)
    opt = torch.optim.AdamW(model.parameters(), lr=lr, betas=(0.9, 0.99),
                            weight_decay=weight_decay)
    schedule = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: min(1.0, (s + 1) / warmup)
                                                 * 0.5 * (1 + math.cos(math.pi * s / steps)))
    result, state, pos, loss_sum = TrainResult(), None, 0, 0.0
    model.train()
    started = time.perf_counter()
    loop = progress(range(steps)) if progress is not None else range(steps)
    for step in loop:
        if pos + seq_len + 1 > streams.shape[0]:
            pos, state = 0, None
        x, y = streams[pos:pos + seq_len], streams[pos + 1:pos + seq_len + 1]  # (T, B)
        pos += seq_len
        logits, state = model(x, state)
        state = _detach(state)
        loss = nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]), y.reshape(-1))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), clip)
        opt.step()
        schedule.step()
        loss_sum += loss.item()
        if evaluate is not None and ((step + 1) % eval_every == 0 or step + 1 == steps):
            result.seconds += time.perf_counter() - started
            result.steps.append(step + 1)
            result.valid_bpc.append(evaluate(model))
            result.train_bpc.append(loss_sum / eval_every / math.log(2))
            loss_sum = 0.0
            model.train()
            started = time.perf_counter()
    result.seconds += time.perf_counter() - started
    model.eval()
    return result


@torch.no_grad()
def rnn_log2_probs(model: nn.Module, ids: Any, start: int, stop: int | None = None,
                   batch: int = 8, warmup: int = 200) -> np.ndarray:
    """``log2 p(ids[t] | ids[:t])`` for ``t in [start, stop)`` from a recurrent LM.

    The span is cut into ``batch`` consecutive pieces read in parallel; each piece first
    reads the ``warmup`` characters before it (so every character has at least that much
    context, as an n-gram has its window). Returns shape ``(stop - start,)``.
    """
    ids = torch.as_tensor(_as_ids(ids))
    start, stop = _check_span(ids.numpy(), start, stop)
    bounds = np.linspace(start, stop, batch + 1).round().astype(int)
    device = next(model.parameters()).device
    was_training = model.training
    model.eval()
    pieces = []
    for b in range(batch):
        lo, hi = bounds[b], bounds[b + 1]
        w = min(warmup, lo - 1) if lo > 1 else 0
        seq = ids[lo - 1 - w: hi]                                      # inputs + last target
        pieces.append((w, hi - lo, seq))
    width = max(len(p[2]) for p in pieces)
    grid = torch.zeros(width, batch, dtype=torch.long)
    for b, (_, _, seq) in enumerate(pieces):
        grid[:len(seq), b] = seq
    logits, _ = model(grid[:-1].to(device), None)                          # (W-1, B, V)
    logp = torch.log_softmax(logits.double(), -1)
    out = []
    for b, (w, n, _) in enumerate(pieces):
        tgt = grid[w + 1: w + 1 + n, b].to(device)
        out.append(logp[w: w + n, b].gather(-1, tgt[:, None])[:, 0])
    model.train(was_training)
    return (torch.cat(out) / math.log(2)).cpu().numpy()


def dynamic_log2_probs(model: nn.Module, ids: Any, start: int, stop: int | None = None,
                       chunk: int = 50, lr: float = 1e-3, decay: float = 1e-3,
                       ms_ids: torch.Tensor | None = None, ms_chunks: int = 20,
                       warmup: int = 200, eps: float = 1e-5) -> np.ndarray:
    r"""Dynamic evaluation (Krause et al. 2018): score a chunk, then learn from it.

    The text is read as one stream in chunks of ``chunk`` characters with the state carried.
    Each chunk is first *scored* with the current weights, then its gradient :math:`g`
    moves the weights:

    .. math::

        \theta \leftarrow \theta - \eta\, \frac{g}{\sqrt{\mathrm{MS}} + \epsilon}
                 + \lambda\,(\theta_0 - \theta),

    with :math:`\mathrm{MS}` the mean squared gradient of ``ms_chunks`` training chunks
    (``ms_ids``; all ones when ``None``) and :math:`\theta_0` the trained weights. No
    character is scored after the model has seen it. The model's weights are restored at
    the end. Returns ``log2 p`` of shape ``(stop - start,)``.
    """
    ids = torch.as_tensor(_as_ids(ids))
    start, stop = _check_span(ids.numpy(), start, stop)
    params = [p for p in model.parameters() if p.requires_grad]
    ids = ids.to(params[0].device)
    ms_ids = ms_ids.to(params[0].device) if ms_ids is not None else None
    theta0 = [p.detach().clone() for p in params]
    was_training = model.training
    model.eval()
    ms = _mean_squared_gradients(model, ms_ids, chunk, ms_chunks) if ms_ids is not None \
        else [torch.ones_like(p) for p in params]
    scale = [1.0 / (m.sqrt() + eps) for m in ms]
    w = min(warmup, start - 1)
    state = None
    with torch.no_grad():
        if w > 0:
            _, state = model(ids[start - 1 - w: start - 1, None], None)
    out = []
    try:
        for lo in range(start, stop, chunk):
            hi = min(lo + chunk, stop)
            x, y = ids[lo - 1: hi - 1, None], ids[lo: hi]
            logits, new_state = model(x, state)
            logp = torch.log_softmax(logits[:, 0].double(), -1)
            nll = -logp.gather(-1, y[:, None]).sum()
            out.append(logp.detach().gather(-1, y[:, None])[:, 0])
            model.zero_grad(set_to_none=True)
            nll.backward()
            with torch.no_grad():
                for p, p0, s in zip(params, theta0, scale):
                    p.add_(-lr * p.grad / len(y) * s + decay * (p0 - p))
            state = _detach(new_state)
    finally:
        with torch.no_grad():
            for p, p0 in zip(params, theta0):
                p.copy_(p0)
        model.zero_grad(set_to_none=True)
        model.train(was_training)
    return (torch.cat(out) / math.log(2)).cpu().numpy()


def _mean_squared_gradients(model: nn.Module, ids: torch.Tensor, chunk: int, chunks: int
                            ) -> list[torch.Tensor]:
    params = [p for p in model.parameters() if p.requires_grad]
    ms = [torch.zeros_like(p) for p in params]
    state = None
    for i in range(chunks):
        x, y = ids[i * chunk: (i + 1) * chunk, None], ids[i * chunk + 1: (i + 1) * chunk + 1]
        logits, state = model(x, state)
        state = _detach(state)
        model.zero_grad(set_to_none=True)
        nn.functional.cross_entropy(logits[:, 0], y).backward()
        for m, p in zip(ms, params):
            m += p.grad ** 2 / chunks
    model.zero_grad(set_to_none=True)
    return ms


def adaptive_ngram_log2_probs(make: Callable[[np.ndarray], _NGram], train: Any, ids: Any,
                              start: int, stop: int | None = None, chunk: int = 2000
                              ) -> np.ndarray:
    """The n-gram's counterpart of dynamic evaluation: score a chunk, then add it to the counts.

    ``make(train_ids)`` builds the model (e.g. ``lambda t: KneserNey(t, 15, V)``); it is
    refitted on ``train + ids[start:hi]`` after each scored chunk of ``chunk`` characters.
    """
    train, ids = _as_ids(train, "train"), _as_ids(ids)
    start, stop = _check_span(ids, start, stop)
    out, model = [], make(train)
    for lo in range(start, stop, chunk):
        hi = min(lo + chunk, stop)
        out.append(model.log2_probs(ids, lo, hi))
        if hi < stop:
            model = make(np.concatenate([train, ids[start:hi]]))
    return np.concatenate(out)


# --- decoding -------------------------------------------------------------------------------------

@torch.no_grad()
def next_char_distribution(model: nn.Module, prompt_ids: torch.Tensor) -> torch.Tensor:
    """The model's ``p(· | prompt)``, shape ``(V,)`` (float64)."""
    model.eval()
    logits, _ = model(prompt_ids.reshape(-1, 1), None)
    return torch.softmax(logits[-1, 0].double(), -1)


def greedy(probs: torch.Tensor) -> int:
    """The most likely next character."""
    return int(torch.argmax(probs))


def temperature_probs(probs: torch.Tensor, temperature: float) -> torch.Tensor:
    r"""``softmax(log p / τ)``: τ < 1 sharpens, τ > 1 flattens, τ → 0 is greedy."""
    if not isinstance(temperature, (int, float)) or not temperature > 0:
        raise ValueError(f"temperature must be > 0, got {temperature!r}")
    return torch.softmax(torch.log(probs.double()) / temperature, -1)


def top_k_probs(probs: torch.Tensor, k: int) -> torch.Tensor:
    """Keep the ``k`` most likely characters, renormalised; the rest get probability 0."""
    k = check_positive_int(k, "k")
    keep = torch.topk(probs, min(k, len(probs))).indices
    out = torch.zeros_like(probs, dtype=torch.float64)
    out[keep] = probs.double()[keep]
    return out / out.sum()


@torch.no_grad()
def generate(model: Any, prompt_ids: torch.Tensor, length: int, temperature: float = 1.0,
             top_k: int | None = None, generator: torch.Generator | None = None,
             method: str = "sample") -> torch.Tensor:
    """``length`` new ids after ``prompt_ids`` (free-running: each draw is fed back in).

    ``model`` is a torch LM (state carried, one step per character) or an n-gram model
    (its ``distribution`` of the last ``order - 1`` ids). ``method`` is ``"sample"``
    (temperature, then optional top-k) or ``"greedy"``.
    """
    length = check_positive_int(length, "length")
    if method not in ("sample", "greedy"):
        raise ValueError(f"method must be 'sample' or 'greedy', got {method!r}")
    ids = torch.as_tensor(prompt_ids).reshape(-1)
    out: list[int] = []

    def pick(probs: torch.Tensor) -> int:
        if method == "greedy":
            return greedy(probs)
        probs = temperature_probs(probs, temperature)
        if top_k is not None:
            probs = top_k_probs(probs, top_k)
        return int(torch.multinomial(probs, 1, generator=generator))

    if isinstance(model, _NGram):
        history = ids.tolist()
        for _ in range(length):
            nxt = pick(torch.from_numpy(model.distribution(np.array(history[-model.order:]))))
            history.append(nxt)
            out.append(nxt)
        return torch.tensor(out, dtype=torch.long)
    model.eval()
    device = next(model.parameters()).device
    logits, state = model(ids[:, None].to(device), None)
    for _ in range(length):
        nxt = pick(torch.softmax(logits[-1, 0].double(), -1).cpu())
        out.append(nxt)
        logits, state = model(torch.tensor([[nxt]], device=device), state)
    return torch.tensor(out, dtype=torch.long)


# --- tokenisation -------------------------------------------------------------------------------

_WORD = re.compile(r"\w+|[^\w\s]|\s+")


def word_tokens(text: str) -> list[str]:
    """Words, single punctuation marks and runs of white space (so tokens rebuild the text)."""
    return _WORD.findall(text)


def learn_bpe(text: str, merges: int) -> list[tuple[str, str]]:
    """Byte-pair encoding (Sennrich et al. 2016) on the words of ``text``: repeatedly merge the
    most frequent adjacent pair of symbols (ties: the lexicographically largest pair).

    Pair counts are updated only for the words that contain the merged pair.
    """
    merges = check_positive_int(merges, "merges")
    words = [[tuple(w), c] for w, c in Counter(word_tokens(text)).items()]
    pairs: Counter = Counter()
    where: dict[tuple[str, str], set[int]] = {}
    for i, (w, c) in enumerate(words):
        for pair in zip(w, w[1:]):
            pairs[pair] += c
            where.setdefault(pair, set()).add(i)
    rules = []
    for _ in range(merges):
        if not pairs:
            break
        best, count = max(pairs.items(), key=lambda item: (item[1], item[0]))
        if count <= 0:
            break
        del pairs[best]
        rules.append(best)
        for i in where.pop(best, set()):
            w, c = words[i]
            for pair in zip(w, w[1:]):
                pairs[pair] -= c
            w = _merge(w, best)
            words[i][0] = w
            for pair in zip(w, w[1:]):
                pairs[pair] += c
                where.setdefault(pair, set()).add(i)
    return rules


def _merge(word: tuple[str, ...], pair: tuple[str, str]) -> tuple[str, ...]:
    out, i = [], 0
    while i < len(word):
        if i + 1 < len(word) and (word[i], word[i + 1]) == pair:
            out.append(word[i] + word[i + 1])
            i += 2
        else:
            out.append(word[i])
            i += 1
    return tuple(out)


def apply_bpe(text: str, rules: Sequence[tuple[str, str]]) -> list[str]:
    """Tokens of ``text``: each word split into characters, then merged as the ``rules`` say
    (always the applicable rule learnt first, as in training)."""
    rank = {pair: r for r, pair in enumerate(rules)}
    cache: dict[str, tuple[str, ...]] = {}
    out: list[str] = []
    for w in word_tokens(text):
        if w not in cache:
            symbols = tuple(w)
            while len(symbols) > 1:
                ranked = [(rank.get(pair, len(rank)), pair) for pair in zip(symbols, symbols[1:])]
                r, pair = min(ranked)
                if r == len(rank):
                    break
                symbols = _merge(symbols, pair)
            cache[w] = symbols
        out.extend(cache[w])
    return out


def tokenisation_table(train: str, held_out: str, merges: int = 500) -> dict[str, dict]:
    """Characters vs words vs BPE subwords: vocabulary size, the fraction of held-out tokens
    that are out of vocabulary, and the number of tokens per held-out character."""
    rules = learn_bpe(train, merges)
    schemes = {"characters": list, "words": word_tokens,
               "subwords (BPE)": lambda s: apply_bpe(s, rules)}
    table = {}
    for name, split in schemes.items():
        vocab = set(split(train))
        tokens = split(held_out)
        oov = sum(t not in vocab for t in tokens) / len(tokens)
        table[name] = {"vocab": len(vocab), "oov": oov, "tokens": len(tokens),
                       "tokens_per_char": len(tokens) / len(held_out)}
    return table
