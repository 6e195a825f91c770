"""Chapter 10: sequence to sequence with attention, on number words between languages.

The data are pairs written by ``num2words`` (English number words → German, or → French):
German says the units before the tens ("forty-two" → "zweiundvierzig"), so a translator must
reorder. Numbers are split into training and test sets by a hash of the number, so that no test
number is ever seen in training. Text is tokenised into characters, with ``<pad>``, ``<bos>``
and ``<eos>``.

The models: a GRU encoder–decoder whose decoder sees one fixed context vector (Sutskever et al.
2014; Cho et al. 2014), and the same model with attention (Bahdanau et al. 2015: additive
scores; Luong et al. 2015: multiplicative ones), which recomputes a context vector at every
output step. Training is teacher-forced with a masked cross-entropy; decoding is greedy or a
beam search with length normalisation; evaluation is exact match and chrF/BLEU (sacrebleu).
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from . import plotting, validation

__all__ = ["PAD", "BOS", "EOS", "SPECIALS", "number_words", "split_of", "numbers_in_split",
           "SymbolVocab", "Pairs", "pad_ids", "make_pairs", "attention_weights", "additive_scores",
           "multiplicative_scores", "context_vectors", "Attention", "Seq2Seq",
           "masked_cross_entropy", "TrainLog", "train", "greedy_decode", "beam_step",
           "beam_search", "length_normalised", "translate", "exact_match", "corpus_scores",
           "plot_attention", "draw_encoder_decoder"]

PAD, BOS, EOS = 0, 1, 2
SPECIALS = ("<pad>", "<bos>", "<eos>")


# ----------------------------------------------------------------------------------- data
def number_words(n: int, lang: str = "en") -> str:
    """The cardinal ``n`` in words, as ``num2words`` writes it (``lang`` "en", "de" or "fr").

    Example: ``number_words(42, "de") == "zweiundvierzig"``.
    """
    from num2words import CONVERTER_CLASSES  # the [data] extra

    if lang not in ("en", "de", "fr"):
        raise ValueError(f"lang should be 'en', 'de' or 'fr', got {lang!r}")
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 0:
        raise ValueError(f"n should be a non-negative int, got {n!r}")
    return CONVERTER_CLASSES[lang].to_cardinal(int(n))


def split_of(n: int) -> str:
    """``"test"`` for about 10 % of all numbers, ``"valid"`` for 5 %, ``"train"`` for the rest.

    Decided by the MD5 hash of the decimal digits, so the split is the same on every machine,
    independent of any random seed, and a test number is never drawn for training.
    """
    bucket = int(hashlib.md5(str(int(n)).encode()).hexdigest()[:8], 16) % 100
    return "test" if bucket < 10 else "valid" if bucket < 15 else "train"


def numbers_in_split(count: int, digits: tuple[int, int], split: str,
                     seed: int = 0) -> list[int]:
    """``count`` distinct numbers of the split, their digit count uniform in ``digits`` (inclusive).

    One-digit numbers include 0. Fewer than ``count`` come back only if the range holds fewer.
    Deterministic for a given ``seed``.
    """
    lo, hi = digits
    rng = np.random.default_rng(seed)
    chosen: set[int] = set()
    for _ in range(100 * count):
        if len(chosen) == count:
            break
        d = int(rng.integers(lo, hi + 1))
        n = int(rng.integers(0 if d == 1 else 10 ** (d - 1), 10 ** d))
        if split_of(n) == split:
            chosen.add(n)
    return sorted(chosen)


class SymbolVocab:
    """Characters ↔ integer ids; ids 0, 1, 2 are ``<pad>``, ``<bos>``, ``<eos>``.

    Unlike :class:`rnncourse.text.CharVocab` (one id per character, an optional unknown
    character), a translation needs symbols that are not characters: the decoder's first
    input, the output that ends a sentence, and the padding that the mask ignores.
    """

    def __init__(self, texts: Sequence[str]):
        chars = sorted(set("".join(texts)))
        self.itos = list(SPECIALS) + chars
        self.stoi = {c: i for i, c in enumerate(self.itos)}

    def __len__(self) -> int:
        return len(self.itos)

    def encode(self, text: str, bos: bool = False) -> list[int]:
        """Ids of ``text``, ending with ``<eos>``, starting with ``<bos>`` when ``bos``."""
        unknown = sorted(set(text) - set(self.stoi))
        if unknown:
            raise ValueError(f"characters not in the vocabulary: {unknown}")
        return ([BOS] if bos else []) + [self.stoi[c] for c in text] + [EOS]

    def decode(self, ids: Sequence[int]) -> str:
        """Text up to the first ``<eos>``; ``<bos>`` and ``<pad>`` are skipped."""
        out = []
        for i in ids:
            i = int(i)
            if i == EOS:
                break
            if i > EOS:
                out.append(self.itos[i])
        return "".join(out)


def pad_ids(seqs: Sequence[Sequence[int]]) -> torch.Tensor:
    """Pad lists of ids with ``<pad>`` into one ``(N, longest)`` tensor."""
    width = max(len(s) for s in seqs)
    out = torch.full((len(seqs), width), PAD, dtype=torch.long)
    for k, s in enumerate(seqs):
        out[k, :len(s)] = torch.tensor(s, dtype=torch.long)
    return out


@dataclass
class Pairs:
    """A parallel data set: source/target strings and their padded id tensors.

    ``src`` is ``(N, S)`` (ids then ``<eos>``, then ``<pad>``), ``src_len`` ``(N,)``; ``tgt`` is
    ``(N, T + 1)``: ``<bos>``, the ids, ``<eos>``, padding — the decoder reads ``tgt[:, :-1]``
    and is scored on ``tgt[:, 1:]``.
    """

    numbers: list[int]
    src_text: list[str]
    tgt_text: list[str]
    src: torch.Tensor
    src_len: torch.Tensor
    tgt: torch.Tensor

    def __len__(self) -> int:
        return len(self.numbers)

    def batch(self, index: torch.Tensor, device: Any = None) -> tuple[torch.Tensor, ...]:
        """``(src, src_len, tgt)`` of the rows ``index``, trimmed to their longest sequences."""
        s_len = self.src_len[index]
        src = self.src[index, :int(s_len.max())]
        tgt = self.tgt[index]
        tgt = tgt[:, :int((tgt != PAD).sum(1).max())]
        return src.to(device), s_len, tgt.to(device)


def make_pairs(numbers: Sequence[int], src_vocab: SymbolVocab | None = None,
               tgt_vocab: SymbolVocab | None = None, src_lang: str = "en",
               tgt_lang: str = "de") -> tuple[Pairs, SymbolVocab, SymbolVocab]:
    """Pairs (number words in ``src_lang``, in ``tgt_lang``) and the two character vocabularies.

    Vocabularies are built from these pairs unless given (the test set reuses the training
    set's).
    """
    src_text = [number_words(n, src_lang) for n in numbers]
    tgt_text = [number_words(n, tgt_lang) for n in numbers]
    src_vocab = src_vocab or SymbolVocab(src_text)
    tgt_vocab = tgt_vocab or SymbolVocab(tgt_text)
    src_ids = [src_vocab.encode(t) for t in src_text]
    tgt_ids = [tgt_vocab.encode(t, bos=True) for t in tgt_text]
    pairs = Pairs(list(numbers), src_text, tgt_text, pad_ids(src_ids),
                  torch.tensor([len(s) for s in src_ids]), pad_ids(tgt_ids))
    return pairs, src_vocab, tgt_vocab


# ------------------------------------------------------------------------------ attention
def attention_weights(scores: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    r"""Masked softmax over the source: $\alpha_{tj} = m_j e^{s_{tj}} / \sum_k m_k e^{s_{tk}}$.

    ``scores`` ``(B, T, S)``, ``mask`` ``(B, S)`` (True at real source positions). Padded
    positions get exactly zero weight; each row sums to 1 (at least one position must be real).
    """
    scores = scores.masked_fill(~mask[:, None, :], float("-inf"))   # (B, T, S)
    return torch.softmax(scores, dim=-1)                             # exp(-inf) = 0 exactly


def additive_scores(query: torch.Tensor, keys: torch.Tensor, W_q: torch.Tensor,
                    W_k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    r"""Bahdanau's additive score $s_{tj} = v^\top \tanh(W_q q_t + W_k k_j)$.

    ``query`` ``(B, T, Hq)``, ``keys`` ``(B, S, Hk)``, ``W_q`` ``(A, Hq)``, ``W_k`` ``(A, Hk)``,
    ``v`` ``(A,)``; returns ``(B, T, S)``.
    """
    q = query @ W_q.T                                  # (B, T, A)
    k = keys @ W_k.T                                   # (B, S, A)
    return torch.tanh(q[:, :, None, :] + k[:, None, :, :]) @ v   # (B, T, S)


def multiplicative_scores(query: torch.Tensor, keys: torch.Tensor,
                          W: torch.Tensor) -> torch.Tensor:
    r"""Luong's "general" score $s_{tj} = q_t^\top W k_j$: ``(B, T, Hq)``, ``(B, S, Hk)``,
    ``W`` ``(Hq, Hk)`` → ``(B, T, S)``."""
    return query @ W @ keys.transpose(1, 2)            # (B, T, S)


def context_vectors(weights: torch.Tensor, values: torch.Tensor) -> torch.Tensor:
    r"""$c_t = \sum_j \alpha_{tj} h_j$: ``weights`` ``(B, T, S)``, ``values`` ``(B, S, M)`` →
    ``(B, T, M)``."""
    return weights @ values                            # (B, T, M)


class Attention(nn.Module):
    """Scores (additive or multiplicative), masked softmax weights and context vectors.

    ``forward(query, keys, mask)`` with ``query`` ``(B, T, query_size)``, ``keys``
    ``(B, S, key_size)`` and ``mask`` ``(B, S)`` returns ``(context (B, T, key_size),
    weights (B, T, S))``.
    """

    def __init__(self, query_size: int, key_size: int, attn_size: int = 64,
                 kind: str = "additive"):
        super().__init__()
        if kind not in ("additive", "multiplicative"):
            raise ValueError(f"kind should be 'additive' or 'multiplicative', got {kind!r}")
        self.kind = kind
        if kind == "additive":
            self.W_q = nn.Parameter(torch.empty(attn_size, query_size))
            self.W_k = nn.Parameter(torch.empty(attn_size, key_size))
            self.v = nn.Parameter(torch.empty(attn_size))
            for w in (self.W_q, self.W_k):
                nn.init.xavier_uniform_(w)
            nn.init.uniform_(self.v, -attn_size ** -0.5, attn_size ** -0.5)
        else:
            self.W = nn.Parameter(torch.empty(query_size, key_size))
            nn.init.xavier_uniform_(self.W)

    def scores(self, query: torch.Tensor, keys: torch.Tensor) -> torch.Tensor:
        if self.kind == "additive":
            return additive_scores(query, keys, self.W_q, self.W_k, self.v)
        return multiplicative_scores(query, keys, self.W)

    def forward(self, query: torch.Tensor, keys: torch.Tensor,
                mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        weights = attention_weights(self.scores(query, keys), mask)   # (B, T, S)
        return context_vectors(weights, keys), weights


# ---------------------------------------------------------------------------------- model
class Seq2Seq(nn.Module):
    """A character-level GRU encoder–decoder, with or without attention.

    Encoder: embedding, a bidirectional GRU (``hidden_size // 2`` per direction; each direction
    reads only the real characters); its two final states, concatenated, are the context ``c``.
    Without attention the decoder GRU starts from ``tanh(W c)`` and reads ``[embed(y_{t-1}); c]``
    at every step: ``c`` is all it knows of the source. With attention (``attention="additive"``
    or ``"multiplicative"``) the decoder state ``s_t`` after reading ``y_{t-1}`` queries the
    encoder states ``h_1..h_S`` and the read-out sees ``[s_t; c_t]`` with a new ``c_t`` per step
    (Luong et al.'s placement, which lets teacher forcing run the decoder GRU over all steps at
    once).

    ``forward(src, src_len, tgt_in)`` → logits ``(B, T, V_tgt)`` (and attention weights
    ``(B, T, S)`` or ``None`` when ``return_weights``).
    """

    def __init__(self, src_vocab: int, tgt_vocab: int, hidden_size: int = 128,
                 embed_size: int = 32, attention: str | None = "additive",
                 attn_size: int = 32):
        super().__init__()
        self.hidden_size, self.attention_kind = hidden_size, attention
        self.src_embed = nn.Embedding(src_vocab, embed_size, padding_idx=PAD)
        self.tgt_embed = nn.Embedding(tgt_vocab, embed_size, padding_idx=PAD)
        self.encoder_fwd = nn.GRU(embed_size, hidden_size // 2, batch_first=True)
        self.encoder_bwd = nn.GRU(embed_size, hidden_size // 2, batch_first=True)
        self.init_state = nn.Linear(hidden_size, hidden_size)
        extra = 0 if attention else hidden_size           # without attention: c at every step
        self.decoder = nn.GRU(embed_size + extra, hidden_size, batch_first=True)
        if attention:
            self.attention = Attention(hidden_size, hidden_size, attn_size, attention)
            self.combine = nn.Linear(2 * hidden_size, hidden_size)
        self.out = nn.Linear(hidden_size, tgt_vocab)

    def encode(self, src: torch.Tensor, src_len: torch.Tensor
               ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """``(memory (B, S, H), mask (B, S), context c (B, H), first decoder state (1, B, H))``.

        The backward direction reads each sequence reversed *within its own length*
        (``x_L, ..., x_1``, then padding), so neither direction's state at a real position has
        read padding; ``memory`` at padded positions is garbage that the mask hides.
        """
        S = src.shape[1]
        last = (src_len.to(src.device) - 1)[:, None]                    # (B, 1)
        pos = torch.arange(S, device=src.device)[None]                  # (1, S)
        flip = (last - pos).clamp(min=0)                                # (B, S): L-1-j
        fwd, _ = self.encoder_fwd(self.src_embed(src))                  # (B, S, H/2)
        bwd_rev, _ = self.encoder_bwd(self.src_embed(src.gather(1, flip)))
        bwd = bwd_rev.gather(1, flip[..., None].expand_as(bwd_rev))     # back to position j
        memory = torch.cat([fwd, bwd], -1)                              # (B, S, H)
        final = last[..., None].expand(-1, 1, fwd.shape[-1])
        context = torch.cat([fwd.gather(1, final)[:, 0], bwd_rev.gather(1, final)[:, 0]], -1)
        mask = pos < last + 1                                           # (B, S) real positions
        return memory, mask, context, torch.tanh(self.init_state(context))[None]

    def decode(self, tgt_in: torch.Tensor, state: torch.Tensor, memory: torch.Tensor,
               mask: torch.Tensor, context: torch.Tensor
               ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
        """Run the decoder over ``tgt_in`` ``(B, T)``: ``(logits, new state, weights or None)``."""
        emb = self.tgt_embed(tgt_in)                            # (B, T, E)
        if self.attention_kind is None:
            c = context[:, None].expand(-1, emb.shape[1], -1)   # the same c at every step
            s, state = self.decoder(torch.cat([emb, c], -1), state)
            return self.out(s), state, None
        s, state = self.decoder(emb, state)                     # (B, T, H)
        c, weights = self.attention(s, memory, mask)            # (B, T, H), (B, T, S)
        return self.out(torch.tanh(self.combine(torch.cat([s, c], -1)))), state, weights

    def forward(self, src: torch.Tensor, src_len: torch.Tensor, tgt_in: torch.Tensor,
                return_weights: bool = False) -> Any:
        validation.check_array(src, "src", ("batch", "source length"), floating=False)
        batch = {"batch": src.shape[0]}
        validation.check_array(src_len, "src_len", ("batch",), batch, floating=False)
        validation.check_array(tgt_in, "tgt_in", ("batch", "target length"), batch,
                               floating=False)
        memory, mask, context, state = self.encode(src, src_len)
        logits, _, weights = self.decode(tgt_in, state, memory, mask, context)
        return (logits, weights) if return_weights else logits


def masked_cross_entropy(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Mean cross-entropy over the real (non-``<pad>``) target positions.

    ``logits`` ``(B, T, V)``, ``target`` ``(B, T)``; padding contributes nothing, so a batch's
    loss does not depend on how much padding it carries.
    """
    return F.cross_entropy(logits.transpose(1, 2), target, ignore_index=PAD)


@dataclass
class TrainLog:
    """What :func:`train` measured: exact match on ``valid`` at ``steps`` after ``seconds``."""

    steps: list[int]
    seconds: list[float]
    valid_em: list[float]
    train_loss: list[float]


def train(model: Seq2Seq, pairs: Pairs, steps: int, valid: Pairs | None = None,
          tgt_vocab: SymbolVocab | None = None, batch_size: int = 64, lr: float = 3e-3,
          clip: float = 1.0, eval_every: int = 100, seed: int = 0, device: Any = None,
          desc: str | None = None) -> TrainLog:
    """Teacher-forced training (Adam, gradient clipping) for a fixed number of ``steps``.

    Each step draws ``batch_size`` random pairs (a ``torch.Generator`` seeded with ``seed``),
    feeds ``tgt[:, :-1]`` and minimises :func:`masked_cross_entropy` against ``tgt[:, 1:]``.
    Every ``eval_every`` steps the greedy exact match on ``valid`` is recorded with the training
    seconds so far (evaluation time excluded).
    """
    from . import runtime

    steps = validation.check_positive_int(steps, "steps")
    model.to(device)
    gen = torch.Generator().manual_seed(seed)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    log = TrainLog([], [], [], [])
    elapsed = 0.0
    for step in runtime.progress(range(1, steps + 1), desc=desc, total=steps):
        tick = time.perf_counter()
        model.train()
        src, src_len, tgt = pairs.batch(torch.randint(len(pairs), (batch_size,), generator=gen),
                                        device)
        loss = masked_cross_entropy(model(src, src_len, tgt[:, :-1]), tgt[:, 1:])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), clip)
        opt.step()
        elapsed += time.perf_counter() - tick
        log.train_loss.append(loss.item())
        if valid is not None and tgt_vocab is not None and (step % eval_every == 0
                                                            or step == steps):
            log.steps.append(step)
            log.seconds.append(elapsed)
            log.valid_em.append(exact_match(translate(model, valid, tgt_vocab, device=device),
                                            valid.tgt_text))
    return log


# ------------------------------------------------------------------------------- decoding
@torch.no_grad()
def greedy_decode(model: Seq2Seq, src: torch.Tensor, src_len: torch.Tensor, max_len: int = 80,
                  return_weights: bool = False) -> Any:
    """Feed back the most probable character until ``<eos>``: ids ``(B, ≤ max_len)``.

    With ``return_weights`` also the attention weights ``(B, steps, S)`` (attention models).
    """
    model.eval()
    memory, mask, context, state = model.encode(src, src_len)
    y = torch.full((src.shape[0], 1), BOS, dtype=torch.long, device=src.device)
    done = torch.zeros(src.shape[0], dtype=torch.bool, device=src.device)
    out, maps = [], []
    for _ in range(max_len):
        logits, state, weights = model.decode(y, state, memory, mask, context)
        y = logits[:, -1].argmax(-1, keepdim=True)               # (B, 1)
        y = y.masked_fill(done[:, None], PAD)
        out.append(y)
        if weights is not None:
            maps.append(weights[:, -1])
        done |= y[:, 0] == EOS
        if done.all():
            break
    ids = torch.cat(out, 1)
    if return_weights:
        return ids, (torch.stack(maps, 1) if maps else None)
    return ids


def length_normalised(log_prob: torch.Tensor, length: torch.Tensor,
                      alpha: float = 1.0) -> torch.Tensor:
    r"""Length-normalised score $\log p(y) / |y|^\alpha$ ($\alpha = 0$: the raw log-probability)."""
    return log_prob / length.to(log_prob.dtype).clamp(min=1) ** alpha


def beam_step(scores: torch.Tensor, log_probs: torch.Tensor,
              beam: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """One step of beam search: the ``beam`` best one-token extensions of the hypotheses.

    ``scores`` ``(K,)`` are the hypotheses' summed log-probabilities, ``log_probs`` ``(K, V)``
    the next-token log-probabilities of each. Returns ``(new scores (beam,), index of the parent
    hypothesis (beam,), token (beam,))``, best first.
    """
    total = (scores[:, None] + log_probs).flatten()            # (K * V,)
    best, flat = total.topk(beam)
    return best, flat // log_probs.shape[1], flat % log_probs.shape[1]


def _pick(t: torch.Tensor, parent: torch.Tensor, dim: int = 0) -> torch.Tensor:
    return t.index_select(dim, parent)


@torch.no_grad()
def beam_search(model: Seq2Seq, src: torch.Tensor, src_len: torch.Tensor, beam: int = 4,
                max_len: int = 80, alpha: float = 1.0) -> torch.Tensor:
    """Beam search for each sequence of the batch; returns the best ids ``(B, ≤ max_len)``.

    Hypotheses that emitted ``<eos>`` stay in the beam with a frozen score; at the end the
    hypothesis with the best :func:`length_normalised` score (``alpha``) wins. ``beam=1`` is
    greedy decoding.
    """
    model.eval()
    memory, mask, context, state = model.encode(src, src_len)
    B, K, dev = src.shape[0], beam, src.device
    rep = torch.arange(B, device=dev).repeat_interleave(K)            # (B*K,)
    memory, mask, context, state = memory[rep], mask[rep], context[rep], state[:, rep]
    scores = torch.full((B, K), float("-inf"), device=dev)
    scores[:, 0] = 0.0                                                # one live start per row
    tokens = torch.full((B * K, 1), BOS, dtype=torch.long, device=dev)
    done = torch.zeros(B * K, dtype=torch.bool, device=dev)
    length = torch.zeros(B * K, device=dev)
    for _ in range(max_len):
        logits, state, _ = model.decode(tokens[:, -1:], state, memory, mask, context)
        logp = F.log_softmax(logits[:, -1], -1)                      # (B*K, V)
        frozen = torch.full_like(logp, float("-inf"))
        frozen[:, PAD] = 0.0                                          # finished: only <pad>, free
        logp = torch.where(done[:, None], frozen, logp)
        V = logp.shape[1]
        total = (scores.view(B * K, 1) + logp).view(B, K * V)
        scores, flat = total.topk(K, dim=1)                           # (B, K)
        parent = (flat // V + torch.arange(B, device=dev)[:, None] * K).flatten()
        token = (flat % V).flatten()
        tokens = torch.cat([tokens[parent], token[:, None]], 1)
        state, done, length = state[:, parent], done[parent], length[parent]
        length = length + (~done).float()
        done = done | (token == EOS)
        if done.all():
            break
    final = length_normalised(scores.flatten(), length, alpha).view(B, K)
    final = torch.where(torch.isfinite(final), final, torch.full_like(final, float("-inf")))
    best = final.argmax(1) + torch.arange(B, device=dev) * K
    return tokens[best, 1:]


# ----------------------------------------------------------------------------- evaluation
def translate(model: Seq2Seq, pairs: Pairs, tgt_vocab: SymbolVocab, beam: int = 1,
              batch_size: int = 500, alpha: float = 1.0, device: Any = None) -> list[str]:
    """Decoded strings for every pair (greedy for ``beam=1``, else beam search)."""
    texts: list[str] = []
    for start in range(0, len(pairs), batch_size):
        index = torch.arange(start, min(start + batch_size, len(pairs)))
        src, src_len, _ = pairs.batch(index, device)
        if beam == 1:
            ids = greedy_decode(model, src, src_len)
        else:
            ids = beam_search(model, src, src_len, beam=beam, alpha=alpha)
        texts += [tgt_vocab.decode(row.tolist()) for row in ids.cpu()]
    return texts


def exact_match(predicted: Sequence[str], reference: Sequence[str]) -> float:
    """Fraction of predictions identical to their reference string."""
    if len(predicted) != len(reference):
        raise ValueError(f"{len(predicted)} predictions for {len(reference)} references")
    return float(np.mean([p == r for p, r in zip(predicted, reference)]))


def corpus_scores(predicted: Sequence[str], reference: Sequence[str]) -> dict[str, float]:
    """sacrebleu's corpus chrF and BLEU (0–100) of the predictions.

    ``"BLEU"`` is computed on *characters* (``tokenize="char"``): a German number word is one
    compound, so word-level BLEU (``"word BLEU"``, sacrebleu's default) has no 2-, 3- or 4-grams
    and is 0 even for perfect translations. chrF works on character n-grams by design.
    """
    import sacrebleu

    hyps, refs = list(predicted), [list(reference)]
    return {"chrF": sacrebleu.corpus_chrf(hyps, refs).score,
            "BLEU": sacrebleu.BLEU(tokenize="char").corpus_score(hyps, refs).score,
            "word BLEU": sacrebleu.corpus_bleu(hyps, refs).score}


# ------------------------------------------------------------------------------- plotting
def plot_attention(ax: Any, weights: torch.Tensor, src_text: str, out_text: str,
                   title: str | None = None) -> None:
    """Draw one attention map: output characters down, source characters across.

    ``weights`` ``(≥ len(out_text) + 1, ≥ len(src_text) + 1)``: rows are output steps (the last
    one emits ``<eos>``), columns source positions (the last one is ``<eos>``).
    """
    validation.check_array(weights, "weights", ("steps", "source"))
    rows, cols = len(out_text) + 1, len(src_text) + 1
    w = weights[:rows, :cols].detach().cpu().numpy()
    ax.imshow(w, cmap="Greys", vmin=0, vmax=1, aspect="auto")
    ax.set_xticks(range(cols), list(src_text.replace(" ", "␣")) + ["⏎"], fontsize=7)
    ax.set_yticks(range(rows), list(out_text.replace(" ", "␣")) + ["⏎"], fontsize=7)
    ax.set_xlabel("source character (English)")
    ax.set_ylabel("output character")
    ax.grid(False)
    if title:
        ax.set_title(title)


def draw_encoder_decoder(ax: Any, attention: bool, src: str = "42", out: str = "ab") -> None:
    """Diagram of an encoder–decoder unrolled: one context vector, or one per output step."""
    P = plotting.PALETTE
    n_src, n_out = 4, 3
    xs = [0.6 * i for i in range(n_src)]
    xo = [0.6 * n_src + 0.5 + 0.75 * i for i in range(n_out)]
    for i, x in enumerate(xs):
        plotting.box(ax, x, 0.0, f"$h_{i + 1}$", P["sky"], width=0.44, zorder=2)
        plotting.arrow(ax, (x, -0.7), (x, -0.23), zorder=1)
        ax.text(x, -0.85, f"$x_{i + 1}$", ha="center", va="center")
        if i:
            plotting.arrow(ax, (xs[i - 1] + 0.23, 0), (x - 0.23, 0))
    for t, x in enumerate(xo):
        plotting.box(ax, x, 0.0, f"$s_{t + 1}$", P["orange"], width=0.44, zorder=2)
        plotting.arrow(ax, (x, 0.23), (x, 0.65))
        ax.text(x, 0.8, f"$y_{t + 1}$", ha="center", va="center")
        ax.text(x, -0.85, "<bos>" if t == 0 else f"$y_{t}$", ha="center", va="center",
                fontsize=8)
        plotting.arrow(ax, (x, -0.7), (x, -0.23))
        if t:
            plotting.arrow(ax, (xo[t - 1] + 0.23, 0), (x - 0.23, 0))
    if not attention:
        cx = xs[-1] + 0.45 * (xo[0] - xs[-1])
        plotting.box(ax, cx, 1.15, "$c$", P["green"], width=0.34, zorder=2)
        plotting.arrow(ax, (xs[-1] + 0.1, 0.23), (cx - 0.1, 0.95))
        plotting.arrow(ax, (cx + 0.1, 0.95), (xo[0] - 0.1, 0.23))
        for x in xo[1:]:
            plotting.arrow(ax, (cx + 0.17, 1.15), (x - 0.12, 0.23), P["green"],
                           linestyle="--", rad=-0.2)
        finish_title = "without attention: one context vector $c$ for every step"
    else:
        for t, x in enumerate(xo):
            y = 1.35 + 0.0 * t
            plotting.box(ax, x, y, f"$c_{t + 1}$", P["green"], width=0.4, zorder=2)
            plotting.arrow(ax, (x, 0.23), (x - 0.05, y - 0.2), P["black"], linestyle=":")
            for xi in xs:
                plotting.arrow(ax, (xi, 0.23), (x - 0.2, y - 0.05), P["green"],
                               linewidth=0.5 + 0.5 * (t == 0), head_size=6)
        finish_title = "with attention: a new $c_t$ from all $h_j$ at every step"
    plotting.finish_diagram(ax, (-0.5, xo[-1] + 0.5), (-1.1, 1.7), finish_title)
