r"""Sequence classification (chapter 9): names by language, and sentiment where order matters.

An N:1 classifier reads a whole sequence and emits one label. The pieces:

- Data. :func:`load_surnames` reads surnames of about 16 languages from ``faker``'s person
  providers (offline; ``pip install rnncourse[data]``), drops names that occur under several
  languages and transliterates Russian, Ukrainian and Greek. :func:`stratified_split` makes a
  deterministic train / validation / test split with the same class proportions in each part.
  :func:`review_corpus` generates short reviews whose label depends on word order (negation,
  contrast with "but", intensifiers), with a test split of word combinations never seen in
  training. :func:`fetch_labelled_sentences` optionally downloads a real corpus.
- Batches. :func:`encode_batch` turns strings (or token lists) into a right-padded id tensor;
  :func:`lengths_of` recovers the lengths from the padding; :func:`length_mask`,
  :func:`masked_mean` and :func:`last_step` read a padded output correctly.
- Models. :class:`SequenceClassifier`: embedding → GRU/LSTM (optionally bidirectional, packed
  with ``pack_padded_sequence``) → a summary of the sequence → linear logits.
  :class:`BagOfWords`: logistic regression on word counts, the order-blind baseline.
- Training and metrics. :func:`class_weights`, :func:`train_classifier` (AdamW, label
  smoothing, fixed step count), :func:`predict`, :func:`confusion_matrix`, :func:`accuracy`,
  :func:`macro_accuracy`, :func:`precision_recall`.

With padding, sequence :math:`b` has :math:`L_b` real steps followed by padding. Its summary
must use only the real steps: the last real state :math:`h_{L_b}`, or the masked mean

.. math::

    \bar h_b = \frac{\sum_{t=1}^{T} m_{bt}\, h_{bt}}{\sum_{t=1}^{T} m_{bt}},
    \qquad m_{bt} = [\,t \le L_b\,].
"""

from __future__ import annotations

import importlib
import random
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from . import runtime
from .text import CharVocab
from .validation import ShapeError, check_positive_int, checked_by

__all__ = ["LANGUAGES", "load_surnames", "stratified_split", "Split", "CharVocab",
           "WordVocab", "char_vocab", "encode_batch", "lengths_of", "length_mask", "masked_mean",
           "last_step", "SequenceClassifier", "BagOfWords", "class_weights",
           "train_classifier", "predict", "confusion_matrix", "accuracy", "macro_accuracy",
           "precision_recall", "REVIEW_WORDS", "Review", "make_review", "review_corpus",
           "parse_labelled_sentences", "fetch_labelled_sentences", "tokenize",
           "greek_to_latin", "draw_classifier", "draw_packing"]

PAD = 0  # the padding id of every vocabulary in this module

# ------------------------------------------------------------------------------ surnames

#: language -> faker locales whose surnames it takes. Avoided: ga_IE (nearly every name
#: starts with "Ó"), es_CA (repeats es_ES), et_EE (many Russian names: "Žukov"), en_IE and
#: fr_BE (they mix several languages); locales with fewer than ~90 names.
LANGUAGES: dict[str, tuple[str, ...]] = {
    "Croatian": ("hr_HR",), "Czech": ("cs_CZ",), "Dutch": ("nl_NL", "nl_BE"),
    "English": ("en_US", "en_GB"), "Finnish": ("fi_FI",),
    "French": ("fr_FR", "fr_CA"), "German": ("de_DE", "de_AT", "de_CH"), "Greek": ("el_GR",),
    "Italian": ("it_IT",), "Polish": ("pl_PL",), "Portuguese": ("pt_BR", "pt_PT"),
    "Russian": ("ru_RU",), "Spanish": ("es_ES", "es_MX"), "Swedish": ("sv_SE",),
    "Ukrainian": ("uk_UA",), "Zulu": ("zu_ZA",),
}
_TRANSLITERATED = ("ru_RU", "uk_UA")   # Cyrillic: romanised with faker's own tables

# Greek → Latin, letter by letter after removing accents (close to ELOT 743, simplified).
_GREEK = dict(zip("αβγδεζηθικλμνξοπρσςτυφχψω",
                  ["a", "v", "g", "d", "e", "z", "i", "th", "i", "k", "l", "m", "n", "x", "o",
                   "p", "r", "s", "s", "t", "y", "f", "ch", "ps", "o"]))
_GREEK_PAIRS = {"ου": "ou", "μπ": "b", "ντ": "nt", "γκ": "gk", "αι": "ai", "ει": "ei",
                "οι": "oi"}


def greek_to_latin(name: str) -> str:
    """Romanise a Greek name: ``"Παπαδόπουλος"`` → ``"Papadopoulos"``."""
    plain = "".join(c for c in unicodedata.normalize("NFD", name.lower())
                    if not unicodedata.combining(c))
    for pair, latin in _GREEK_PAIRS.items():
        plain = plain.replace(pair, latin)
    latin = "".join(_GREEK.get(c, c) for c in plain)
    return latin[:1].upper() + latin[1:]


def _provider(locale: str) -> Any:
    try:
        importlib.import_module("faker")
    except ImportError:
        raise ImportError("load_surnames needs the 'faker' package: pip install faker "
                          "(or pip install 'rnncourse[data]')") from None
    try:
        return importlib.import_module(f"faker.providers.person.{locale}")
    except ImportError:
        raise ValueError(f"faker has no person provider for locale {locale!r}; this faker "
                         "version may be too old or too new (the course pins it)") from None


def _locale_surnames(locale: str) -> list[str]:
    """The surnames of one faker locale (pl_PL keeps them in ``unisex_last_names``)."""
    module = _provider(locale)
    provider = module.Provider
    names: list[str] = []
    for attribute in ("last_names", "unisex_last_names", "last_names_male",
                      "last_names_female"):
        value = getattr(provider, attribute, None)
        if value:
            names.extend(value.keys() if isinstance(value, dict) else value)
    names = [n for n in names if n != "Doe"]   # the placeholder of locales without a list
    if len(set(names)) < 50:
        raise ValueError(f"faker's locale {locale!r} has only {len(set(names))} surnames "
                         "(expected hundreds): its list is missing in this faker version")
    if locale in _TRANSLITERATED:
        names = [module.translit(n) for n in names]
    elif locale == "el_GR":
        names = [greek_to_latin(n) for n in names]
    return names


def load_surnames(languages: dict[str, Sequence[str]] | None = None,
                  min_length: int = 2) -> dict[str, list[str]]:
    """Surnames by language from ``faker``, each name once, sorted; shared names dropped.

    A name that occurs under two or more languages (``"Adam"``: Czech, French, German ...)
    has no single right answer, so it is removed from all of them. Multi-word names
    (``"van Dijk"``) are kept; names shorter than ``min_length`` characters are dropped.

    Args:
        languages: language -> faker locales; default :data:`LANGUAGES` (16 languages).

    Raises:
        ImportError: faker is not installed. ValueError: a locale or its list is missing.

    Example::

        >>> names = load_surnames({"Finnish": ("fi_FI",), "Italian": ("it_IT",)})
        >>> sorted(names), names["Finnish"][:2]
        (['Finnish', 'Italian'], ['Aalto', 'Aaltonen'])
    """
    languages = LANGUAGES if languages is None else languages
    if not isinstance(languages, dict) or len(languages) < 2:
        raise ValueError("languages must map at least two language names to faker locales")
    by_language: dict[str, set[str]] = {}
    for language, locales in languages.items():
        if isinstance(locales, str) or not locales:
            raise ValueError(f"languages[{language!r}] must be a tuple of locales, "
                             f"got {locales!r}")
        by_language[language] = {unicodedata.normalize("NFC", n.strip())
                                 for locale in locales for n in _locale_surnames(locale)}
    owners: dict[str, int] = {}
    for names in by_language.values():
        for n in names:
            owners[n] = owners.get(n, 0) + 1
    return {language: sorted(n for n in names if owners[n] == 1 and len(n) >= min_length)
            for language, names in sorted(by_language.items())}


@dataclass(frozen=True)
class Split:
    """One part of a data set: the items, their integer labels and the class names."""

    items: list[Any]
    labels: torch.Tensor          # (N,) long
    classes: tuple[str, ...]

    def __len__(self) -> int:
        return len(self.items)


def stratified_split(by_class: dict[str, Sequence[Any]],
                     fractions: tuple[float, float, float] = (0.8, 0.1, 0.1),
                     seed: int = 0) -> tuple[Split, Split, Split]:
    """Split every class separately into train / validation / test, deterministically.

    Each class's items are shuffled with ``random.Random(seed)`` (sorted first, so the
    result does not depend on the input order) and cut at the given fractions, so every part
    has the class proportions of the whole; class ``k`` is ``sorted(by_class)[k]``.
    """
    if (len(fractions) != 3 or any(f <= 0 for f in fractions)
            or abs(sum(fractions) - 1) > 1e-9):
        raise ValueError(f"fractions must be three positive numbers summing to 1, "
                         f"got {fractions!r}")
    classes = tuple(sorted(by_class))
    parts: list[tuple[list[Any], list[int]]] = [([], []), ([], []), ([], [])]
    for k, name in enumerate(classes):
        items = sorted(by_class[name])
        if len(items) < 3:
            raise ValueError(f"class {name!r} has {len(items)} items; each needs at least 3")
        random.Random(f"{seed}-{name}").shuffle(items)
        n_train = round(fractions[0] * len(items))
        n_val = max(1, round(fractions[1] * len(items)))
        cuts = [0, n_train, n_train + n_val, len(items)]
        for part, (lo, hi) in zip(parts, zip(cuts, cuts[1:])):
            part[0].extend(items[lo:hi])
            part[1].extend([k] * (hi - lo))
    train, val, test = (Split(x, torch.tensor(y, dtype=torch.long), classes) for x, y in parts)
    return train, val, test


# ------------------------------------------------------------------------------ batches

class WordVocab:
    """Words to ids: id 0 is padding, 1 the unknown word, then the words in sorted order.

    Example::

        >>> vocab = WordVocab(["not", "good", "not"])
        >>> vocab.encode(["not", "good", "awful"]).tolist()
        [3, 2, 1]
    """

    def __init__(self, words: Iterable[str]) -> None:
        self.words = ["<pad>", "<unk>"] + sorted(set(words) - {"<pad>", "<unk>"})
        self.index = {w: i for i, w in enumerate(self.words)}

    def __len__(self) -> int:
        return len(self.words)

    def __repr__(self) -> str:
        return f"WordVocab({len(self)} words)"

    def encode(self, tokens: Sequence[str]) -> torch.Tensor:
        return torch.tensor([self.index.get(w, 1) for w in tokens], dtype=torch.long)


def char_vocab(names: Iterable[str]) -> CharVocab:
    """A :class:`~rnncourse.text.CharVocab` for names with padding at id 0 and ``"?"`` unknown.

    The padding symbol is ``"\\0"``, which no name contains.
    """
    chars = sorted(set("".join(names)) - {"\0", "?"})
    return CharVocab(["\0"] + chars, unknown="?")


def encode_batch(vocab: CharVocab | WordVocab, items: Sequence[Any]) -> torch.Tensor:
    """Encode strings (``CharVocab``) or token lists (``WordVocab``), right-padded with id 0.

    Returns ``(batch, T)`` ``torch.long`` with ``T`` the longest item; item ``b`` fills
    ``[b, :len(item)]``, the rest is padding. :func:`lengths_of` recovers the lengths.
    """
    if not items:
        raise ValueError("items must be a non-empty sequence")
    rows = [vocab.encode(item) for item in items]
    for item, row in zip(items, rows):
        if len(row) == 0:
            raise ValueError(f"cannot encode an empty item {item!r}")
        if (row == PAD).any():
            raise ValueError(f"item {item!r} contains the padding symbol")
    return nn.utils.rnn.pad_sequence(rows, batch_first=True, padding_value=PAD)


def lengths_of(ids: torch.Tensor) -> torch.Tensor:
    """The number of real (non-padding) steps of each row of right-padded ``ids`` ``(B, T)``,
    as a CPU ``torch.long`` tensor: what ``pack_padded_sequence`` wants."""
    return (ids != PAD).sum(dim=1).cpu()


def _check_output_lengths(output: Any, lengths: Any) -> None:
    if not isinstance(output, torch.Tensor) or output.dim() != 3:
        raise ShapeError(f"output must be a (batch, seq_len, H) tensor, got "
                         f"{type(output).__name__} {tuple(getattr(output, 'shape', ()))}")
    if (not isinstance(lengths, torch.Tensor) or lengths.dim() != 1
            or lengths.shape[0] != output.shape[0] or lengths.is_floating_point()):
        raise ShapeError(f"lengths must be an integer tensor of shape (batch={output.shape[0]},),"
                         f" got {type(lengths).__name__} {tuple(getattr(lengths, 'shape', ()))}")
    if lengths.min() < 1 or lengths.max() > output.shape[1]:
        raise ValueError(f"lengths must lie in [1, seq_len={output.shape[1]}], got "
                         f"{lengths.tolist()}")


def length_mask(lengths: torch.Tensor, seq_len: int) -> torch.Tensor:
    """``(batch, seq_len)`` booleans, True at the real steps: ``mask[b, t] = t < lengths[b]``."""
    return torch.arange(seq_len, device=lengths.device)[None, :] < lengths[:, None]


@checked_by(_check_output_lengths)
def masked_mean(output: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
    """Mean of ``output`` ``(B, T, H)`` over each sequence's real steps only: ``(B, H)``."""
    lengths = lengths.to(output.device)
    mask = length_mask(lengths, output.shape[1]).to(output.dtype)     # (B, T)
    total = (output * mask[..., None]).sum(dim=1)                     # (B, H)
    return total / lengths[:, None].to(output.dtype)                  # (B, H)


@checked_by(_check_output_lengths)
def last_step(output: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
    """``output[b, lengths[b] - 1]`` for every ``b``: the last *real* step, ``(B, H)``."""
    index = (lengths.to(output.device) - 1)[:, None, None]           # (B, 1, 1)
    index = index.expand(-1, 1, output.shape[2])                     # (B, 1, H)
    return output.gather(1, index).squeeze(1)                        # (B, H)


# ------------------------------------------------------------------------------ models

_READOUTS = ("last", "mean", "padded_last")


class SequenceClassifier(nn.Module):
    r"""An N:1 classifier: embedding → GRU/LSTM → one summary vector → linear logits.

    Args:
        vocab_size: number of ids (id 0 is padding, its embedding is fixed at zero).
        num_classes: number of labels.
        embedding_dim, hidden_size: sizes of the embedding and of the recurrent state.
        rnn: ``"gru"`` or ``"lstm"`` (``torch.nn.GRU`` / ``torch.nn.LSTM``, batch-first).
        bidirectional: read the sequence both ways; the summary concatenates the two.
        readout: how the sequence is summarised:

            - ``"last"``: the final state of each direction after each sequence's *own* last
              real step (the batch is packed with ``pack_padded_sequence``; the forward
              summary is :math:`h_{L_b}`, the backward one is the backward state at step 1);
            - ``"mean"``: the mean of the outputs over the real steps (:func:`masked_mean`);
            - ``"padded_last"``: ``output[:, -1]`` of the *unpacked* padded batch, the classic
              bug (the recurrence has run over the padding; for the backward direction it has
              read only the last padded step). Kept to measure what it costs.
        embedding_dropout: dropout on the embedded characters (training only).

    Shape:
        - ids ``(batch, T)`` ``torch.long``, right-padded with 0 (:func:`encode_batch`)
        - returns logits ``(batch, num_classes)``

    Example::

        >>> model = SequenceClassifier(30, 4, embedding_dim=8, hidden_size=16)
        >>> model(torch.tensor([[5, 6, 7], [8, 9, 0]])).shape
        torch.Size([2, 4])
    """

    def __init__(self, vocab_size: int, num_classes: int, embedding_dim: int = 32,
                 hidden_size: int = 64, rnn: str = "gru", bidirectional: bool = False,
                 readout: str = "last", embedding_dropout: float = 0.0) -> None:
        super().__init__()
        if rnn not in ("gru", "lstm"):
            raise ValueError(f"rnn must be 'gru' or 'lstm', got {rnn!r}")
        if readout not in _READOUTS:
            raise ValueError(f"readout must be one of {_READOUTS}, got {readout!r}")
        self.readout = readout
        self.embedding = nn.Embedding(check_positive_int(vocab_size, "vocab_size"),
                                      check_positive_int(embedding_dim, "embedding_dim"),
                                      padding_idx=PAD)
        self.dropout = nn.Dropout(embedding_dropout)
        layer = nn.GRU if rnn == "gru" else nn.LSTM
        self.rnn = layer(embedding_dim, check_positive_int(hidden_size, "hidden_size"),
                         batch_first=True, bidirectional=bidirectional)
        directions = 2 if bidirectional else 1
        self.head = nn.Linear(directions * hidden_size, check_positive_int(num_classes,
                                                                           "num_classes"))

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        if not isinstance(ids, torch.Tensor) or ids.dim() != 2 or ids.dtype != torch.long:
            raise ShapeError(f"ids must be a (batch, T) torch.long tensor right-padded with 0, "
                             f"got {type(ids).__name__} {tuple(getattr(ids, 'shape', ()))} "
                             f"{getattr(ids, 'dtype', '')}")
        lengths = lengths_of(ids)                                    # (B,) on the CPU
        if lengths.min() < 1:
            raise ValueError("every sequence needs at least one real (non-zero) id")
        x = self.dropout(self.embedding(ids))                       # (B, T, E)
        return self.head(self.summary(x, lengths))                  # (B, K)

    def summary(self, x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """The ``(B, directions * H)`` summary of embedded ``x`` ``(B, T, E)``."""
        if self.readout == "padded_last":
            output, _ = self.rnn(x)                                 # runs over the padding
            return output[:, -1]                                    # the bug
        packed = pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False)
        output, state = self.rnn(packed)
        if self.readout == "mean":
            output, _ = pad_packed_sequence(output, batch_first=True, total_length=x.shape[1])
            return masked_mean(output, lengths)
        h_n = state[0] if isinstance(state, tuple) else state      # (directions, B, H)
        return torch.cat(list(h_n), dim=-1)                         # each direction's final


class BagOfWords(nn.Module):
    r"""Logistic regression on word counts: :math:`z = W c + b`, :math:`c_v` = count of word v.

    The order-blind baseline: two inputs with the same words in any order get the same
    count vector, hence exactly the same logits. Padding (id 0) is not counted.

    Shape: ids ``(batch, T)`` right-padded with 0 → logits ``(batch, num_classes)``.
    """

    def __init__(self, vocab_size: int, num_classes: int) -> None:
        super().__init__()
        self.vocab_size = check_positive_int(vocab_size, "vocab_size")
        self.linear = nn.Linear(vocab_size, check_positive_int(num_classes, "num_classes"))

    def counts(self, ids: torch.Tensor) -> torch.Tensor:
        """``(batch, V)`` word counts of ``ids`` (padding excluded)."""
        counts = torch.zeros(ids.shape[0], self.vocab_size, device=ids.device)
        counts.scatter_add_(1, ids, torch.ones_like(ids, dtype=counts.dtype))
        counts[:, PAD] = 0
        return counts

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        if not isinstance(ids, torch.Tensor) or ids.dim() != 2 or ids.dtype != torch.long:
            raise ShapeError(f"ids must be a (batch, T) torch.long tensor, got "
                             f"{type(ids).__name__} {tuple(getattr(ids, 'shape', ()))}")
        return self.linear(self.counts(ids))


# ------------------------------------------------------------------------------ training

def class_weights(labels: torch.Tensor, num_classes: int) -> torch.Tensor:
    r"""Inverse-frequency weights :math:`w_k = N / (K n_k)` (mean 1 over the examples).

    Passed to ``cross_entropy(weight=...)``, they make every class count equally in the loss
    however many examples it has. A class with no examples raises ``ValueError``.
    """
    counts = torch.bincount(labels, minlength=num_classes).double()
    if (counts == 0).any():
        raise ValueError(f"classes {torch.nonzero(counts == 0).flatten().tolist()} have no "
                         "examples")
    return (len(labels) / (num_classes * counts)).float()


def train_classifier(model: nn.Module, vocab: CharVocab | WordVocab, train: Split,
                     steps: int, batch_size: int = 64, lr: float = 3e-3,
                     weight_decay: float = 0.0, label_smoothing: float = 0.0,
                     weights: torch.Tensor | None = None, clip: float | None = 1.0,
                     cosine: bool = True, seed: int = 0, device: torch.device | None = None,
                     desc: str | None = None) -> list[float]:
    """Train ``model`` for exactly ``steps`` AdamW steps on random batches of ``train``.

    Each batch draws ``batch_size`` examples uniformly (a ``torch.Generator`` seeded with
    ``seed``), encodes them with :func:`encode_batch` and minimises the cross-entropy (with
    ``label_smoothing`` and per-class ``weights``). With ``cosine`` the learning rate decays
    from ``lr`` to 0 along a half cosine. The model's own initialisation is left to the
    caller (seed before building it). Returns the training losses.
    """
    steps = check_positive_int(steps, "steps")
    device = device or runtime.get_device()
    model.to(device)
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=weight_decay)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(opt, steps) if cosine else None
    loss_fn = nn.CrossEntropyLoss(weight=None if weights is None else weights.to(device),
                                  label_smoothing=label_smoothing)
    gen = torch.Generator().manual_seed(seed)
    labels, losses = train.labels, []
    model.train()
    for _ in runtime.progress(range(steps), desc=desc, total=steps):
        index = torch.randint(len(train), (batch_size,), generator=gen)
        ids = encode_batch(vocab, [train.items[i] for i in index.tolist()]).to(device)
        loss = loss_fn(model(ids), labels[index].to(device))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        if clip is not None:
            nn.utils.clip_grad_norm_(model.parameters(), clip)
        opt.step()
        if schedule is not None:
            schedule.step()
        losses.append(loss.item())
    model.eval()
    return losses


@torch.no_grad()
def predict(model: nn.Module, vocab: CharVocab | WordVocab, items: Sequence[Any],
            batch_size: int = 512) -> torch.Tensor:
    """Logits ``(N, K)`` of ``model`` (in eval mode) for ``items``, in batches, on the CPU."""
    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    out = [model(encode_batch(vocab, items[i:i + batch_size]).to(device)).cpu()
           for i in range(0, len(items), batch_size)]
    model.train(was_training)
    return torch.cat(out)


def _check_pred_target(pred: Any, target: Any, num_classes: int) -> None:
    for name, value in (("pred", pred), ("target", target)):
        if not isinstance(value, torch.Tensor) or value.dim() != 1 or value.is_floating_point():
            raise ShapeError(f"{name} must be a 1-D integer tensor of class ids, got "
                             f"{type(value).__name__} {tuple(getattr(value, 'shape', ()))}")
    if pred.shape != target.shape or len(pred) == 0:
        raise ShapeError(f"pred and target must have the same non-empty shape, got "
                         f"{tuple(pred.shape)} and {tuple(target.shape)}")
    check_positive_int(num_classes, "num_classes")
    if min(pred.min(), target.min()) < 0 or max(pred.max(), target.max()) >= num_classes:
        raise ValueError(f"class ids must lie in [0, {num_classes})")


@checked_by(_check_pred_target)
def confusion_matrix(pred: torch.Tensor, target: torch.Tensor, num_classes: int
                     ) -> torch.Tensor:
    """``C[i, j]`` = number of examples of true class ``i`` predicted as ``j``: ``(K, K)``."""
    flat = target.long() * num_classes + pred.long()
    return torch.bincount(flat, minlength=num_classes ** 2).reshape(num_classes, num_classes)


def accuracy(pred: torch.Tensor, target: torch.Tensor) -> float:
    """Fraction of ``pred == target``."""
    _check_pred_target(pred, target, int(max(pred.max(), target.max())) + 1)
    return (pred == target).double().mean().item()


def macro_accuracy(pred: torch.Tensor, target: torch.Tensor, num_classes: int) -> float:
    """Mean over classes of the per-class recall (balanced accuracy): every class counts
    equally, however many examples it has."""
    _, recall = precision_recall(pred, target, num_classes)
    return recall.mean().item()


def precision_recall(pred: torch.Tensor, target: torch.Tensor, num_classes: int
                     ) -> tuple[torch.Tensor, torch.Tensor]:
    r"""Per-class precision :math:`C_{kk}/\sum_i C_{ik}` and recall :math:`C_{kk}/\sum_j C_{kj}`.

    A class never predicted has precision 0 (not NaN). Returns two ``(K,)`` float64 tensors.
    """
    c = confusion_matrix(pred, target, num_classes).double()
    hits = c.diagonal()
    precision = hits / c.sum(dim=0).clamp(min=1)
    recall = hits / c.sum(dim=1).clamp(min=1)
    return precision, recall


# ------------------------------------------------------------------------------ reviews

#: The word lists of the generated reviews.
REVIEW_WORDS: dict[str, tuple[str, ...]] = {
    "nouns": ("plot", "acting", "music", "script", "ending", "dialogue", "cast", "camera",
              "story", "pacing", "score", "direction"),
    "positive": ("good", "great", "brilliant", "moving", "clever", "funny", "charming",
                 "gripping", "superb", "lovely"),
    "negative": ("bad", "dull", "boring", "awful", "clumsy", "weak", "silly", "tedious",
                 "bland", "messy"),
    "intensifiers": ("very", "really", "truly", "quite"),
    "negators": ("not", "never"),
}


@dataclass(frozen=True)
class Review:
    """A generated review: its tokens, its label (1 positive, 0 negative) and its kind:
    ``"plain"``, ``"negated"`` (one clause with a negator) or ``"contrast"`` (two clauses
    joined by "but"; the second decides)."""

    tokens: tuple[str, ...]
    label: int
    kind: str


def _clause(rng: random.Random, noun: str, adjective: str, negated: bool) -> list[str]:
    words = ["the", noun, rng.choice(("was", "is"))]
    if negated:
        words.append(rng.choice(REVIEW_WORDS["negators"]))
    if rng.random() < 0.4:
        words.append(rng.choice(REVIEW_WORDS["intensifiers"]))
    return words + [adjective]


def _polarity(adjective: str) -> int:
    return 1 if adjective in REVIEW_WORDS["positive"] else 0


def make_review(rng: random.Random, kind: str,
                pairs: Sequence[tuple[str, str]]) -> Review:
    """One review of ``kind`` whose (noun, adjective) pairs are drawn from ``pairs``.

    A clause "the N was [not|never] [very|...] A" is positive when A is positive and not
    negated, or negative and negated. A contrast review "C1 but C2" has clauses of opposite
    sentiment and takes the label of C2. The order-dependent kinds are "negated" and
    "contrast".
    """
    if kind not in ("plain", "negated", "contrast"):
        raise ValueError(f"kind must be 'plain', 'negated' or 'contrast', got {kind!r}")
    noun, adjective = rng.choice(pairs)
    if kind != "contrast":
        negated = kind == "negated"
        label = _polarity(adjective) ^ int(negated)
        return Review(tuple(_clause(rng, noun, adjective, negated)), label, kind)
    first = _clause(rng, noun, adjective, rng.random() < 0.5)
    first_label = _polarity(adjective) ^ int(first[3] in REVIEW_WORDS["negators"])
    while True:                                   # a second clause of the opposite sentiment
        noun2, adjective2 = rng.choice(pairs)
        negated2 = rng.random() < 0.5
        if noun2 != noun and _polarity(adjective2) ^ int(negated2) != first_label:
            break
    second = _clause(rng, noun2, adjective2, negated2)
    return Review(tuple(first + ["but"] + second), 1 - first_label, kind)


def review_corpus(n_train: int = 4000, n_test: int = 1000, held_out: float = 0.25,
                  seed: int = 0) -> tuple[Split, Split, Split]:
    """Generated reviews: ``(train, test_seen, test_unseen)`` splits of :class:`Review`.

    A fraction ``held_out`` of all (noun, adjective) pairs is never used in training;
    ``test_unseen`` is built only from them (combinations never seen in training), and
    ``test_seen`` from the training pairs (fresh reviews). Each split is one third plain,
    one third negated and one third contrast reviews. Deterministic in ``seed``.
    """
    rng = random.Random(seed)
    adjectives = REVIEW_WORDS["positive"] + REVIEW_WORDS["negative"]
    pairs = [(n, a) for n in REVIEW_WORDS["nouns"] for a in adjectives]
    rng.shuffle(pairs)
    cut = round(held_out * len(pairs))
    unseen, seen = pairs[:cut], pairs[cut:]

    def split(n: int, use: Sequence[tuple[str, str]]) -> Split:
        kinds = ["plain", "negated", "contrast"]
        reviews = [make_review(rng, kinds[i % 3], use) for i in range(n)]
        return Split(reviews, torch.tensor([r.label for r in reviews]), ("negative",
                                                                        "positive"))

    return split(n_train, seen), split(n_test, seen), split(n_test, unseen)


# ------------------------------------------------------------------------------ real corpus

def parse_labelled_sentences(text: str) -> list[tuple[str, int]]:
    """Parse lines ``sentence<TAB>label`` (label 0 or 1) into ``(sentence, label)`` pairs.

    This is the format of the UCI "Sentiment Labelled Sentences" files (Kotzias et al. 2015:
    1,000 sentences each from Amazon, IMDb and Yelp). Blank lines are skipped; any other
    malformed line raises ``ValueError`` naming its number.
    """
    pairs = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        sentence, sep, label = line.rstrip("\r\n").rpartition("\t")
        if not sep or label.strip() not in ("0", "1") or not sentence.strip():
            raise ValueError(f"line {number} is not 'sentence<TAB>0|1': {line!r:.60}")
        pairs.append((sentence.strip(), int(label)))
    return pairs


def fetch_labelled_sentences(url: str, sha256: str, directory: str | Path | None = None,
                             filename: str | None = None) -> list[tuple[str, int]]:
    """Download (once, checksummed, cached, atomically: :func:`rnncourse.download.fetch`) a
    ``sentence<TAB>label`` file or a zip of such files, and parse it.

    Optional, for learners online; the chapter itself runs on the generated corpus. The
    caller supplies the URL and the SHA-256 they trust (no unverified default is built in).
    Members of a zip are read in sorted order; ``__MACOSX`` entries and files without a
    ``.txt`` suffix are skipped.
    """
    import zipfile

    from .download import fetch

    path = fetch(url, sha256, filename=filename, directory=directory)
    if zipfile.is_zipfile(path):
        pairs = []
        with zipfile.ZipFile(path) as archive:
            for member in sorted(archive.namelist()):
                if member.endswith(".txt") and "__MACOSX" not in member \
                        and "readme" not in member.lower():
                    pairs += parse_labelled_sentences(archive.read(member).decode("utf-8"))
        return pairs
    return parse_labelled_sentences(path.read_text(encoding="utf-8"))


def tokenize(sentence: str) -> list[str]:
    """Lower-case words and punctuation marks, for real sentences: ``"Not good!"`` →
    ``["not", "good", "!"]``."""
    import re

    return re.findall(r"[a-z0-9']+|[^\sa-z0-9']", sentence.lower())



# ------------------------------------------------------------------------------ diagrams

def draw_classifier(ax: Any, name: str = "Nowak", pad: int = 2) -> None:
    """Draw the N:1 classifier on ``ax``: characters → embedding → GRU → last real state →
    linear → softmax over languages; the padded steps are drawn greyed and not computed."""
    from functools import partial

    from .plotting import PALETTE, arrow, box, finish_diagram

    chars = list(name) + ["pad"] * pad
    n, w, h = len(name), 0.74, 0.42
    node = partial(box, ax, width=w, height=h, fontsize=8, linewidth=0.6, rounding=None,
                   alpha=1.0, zorder=2)
    edge = partial(arrow, ax, linewidth=0.9, head_size=8, shrink=2.0, zorder=1)
    for t, c in enumerate(chars):
        real = t < n
        grey = "#dddddd"
        node(t, 0.0, f"'{c}'" if real else "0", "white" if real else grey)
        node(t, 0.9, f"$e_{{{t + 1}}}$" if real else "", PALETTE["orange"] if real else grey)
        node(t, 1.8, f"$h_{{{t + 1}}}$" if real else "", PALETTE["sky"] if real else grey)
        if real:
            edge((t, h / 2), (t, 0.9 - h / 2))
            edge((t, 0.9 + h / 2), (t, 1.8 - h / 2))
        if real and t + 1 < n:
            edge((t + w / 2, 1.8), (t + 1 - w / 2, 1.8), PALETTE["blue"])
    x_out = n - 1
    node(x_out, 2.8, "linear", PALETTE["green"], width=1.1)
    node(x_out, 3.7, "softmax: 16 languages", "white", width=2.4)
    edge((x_out, 1.8 + h / 2), (x_out, 2.8 - h / 2), PALETTE["vermillion"],
         label="last real state", label_offset=(-1.05, 0.0))
    edge((x_out, 2.8 + h / 2), (x_out, 3.7 - h / 2))
    ax.text(n + (pad - 1) / 2, 2.35, "padding:\nnot computed\n(packed)", ha="center",
            va="bottom", fontsize=8, color="grey")
    for y, label in ((0.0, "characters"), (0.9, "embedding"), (1.8, "GRU")):
        ax.text(-0.7, y, label, ha="right", va="center", fontsize=8)
    finish_diagram(ax, (-2.1, len(chars) - 0.4), (-0.5, 4.1))


def draw_packing(ax: Any, lengths: Sequence[int]) -> None:
    """Draw a padded batch as a grid (rows: sequences, columns: time steps): the steps a
    packed recurrence computes are coloured, the padding is grey, and each column is labelled
    with its ``batch_sizes`` entry, the number of sequences still running at that step."""
    from matplotlib.patches import Rectangle

    from .plotting import PALETTE, finish_diagram

    lengths = [int(v) for v in lengths]
    order = sorted(range(len(lengths)), key=lambda b: -lengths[b])   # packing sorts rows
    seq_len = max(lengths)
    for row, b in enumerate(order):
        for t in range(seq_len):
            real = t < lengths[b]
            ax.add_patch(Rectangle(
                (t, -row - 1), 0.92, 0.85, facecolor=PALETTE["sky"] if real else "#e5e5e5",
                edgecolor="black" if real else "#bbbbbb", linewidth=0.6))
            ax.text(t + 0.46, -row - 0.57, "h" if real else "pad", ha="center", va="center",
                    fontsize=7, color="black" if real else "grey")
        ax.text(-0.2, -row - 0.57, f"sequence {b} (L={lengths[b]})", ha="right",
                va="center", fontsize=8)
    for t in range(seq_len):
        running = sum(v > t for v in lengths)
        ax.text(t + 0.46, 0.3, f"{running}", ha="center", va="center", fontsize=8,
                color=PALETTE["vermillion"])
    ax.text(-0.2, 0.3, "batch_sizes[t]", ha="right", va="center", fontsize=8,
            color=PALETTE["vermillion"])
    ax.text(seq_len / 2, -len(lengths) - 0.6, "time step t →", ha="center", fontsize=8)
    finish_diagram(ax, (-4.2, seq_len + 0.2), (-len(lengths) - 1.0, 0.8))
