"""Tests of rnncourse.language (n-grams, evaluation, LSTM LM, dynamic evaluation, decoding,
tokenisation) and of the chapter-8 self-checks."""

from __future__ import annotations

import math
from collections import Counter

import numpy as np
import pytest
import torch

from rnncourse import language as L
from rnncourse.exercises import ch08

TEXT = ("the cat sat on the mat. the dog sat on the log. a cat and a dog sat on a mat. " * 6
        + "zebra quiz")
CHARS = sorted(set(TEXT))
IDS = np.array([CHARS.index(c) for c in TEXT])
V = len(CHARS)


def test_ngram_ids_match_python_substrings():
    ids, keys = L.ngram_ids(IDS, 4, V)
    for k in range(1, 5):
        strings = {}
        for t in range(k - 1, len(TEXT)):
            s = TEXT[t - k + 1:t + 1]
            strings.setdefault(s, set()).add(int(ids[k][t]))
        assert all(len(v) == 1 for v in strings.values())           # one id per string
        assert len(strings) == len(keys[k])                          # and one string per id
        assert (ids[k][:k - 1] == -1).all()
    found = L.lookup_ids(keys, np.array([CHARS.index(c) for c in "the zz"]), V)
    assert found[3][2] == ids[3][2] and found[2][5] == -1           # "the" seen, "zz" never


@pytest.mark.parametrize("order", [1, 2, 3, 6])
def test_kneser_ney_and_add_k_are_distributions(order):
    for model in (L.KneserNey(IDS, order, V), L.AddK(IDS, order, V, k=0.5)):
        for t in (0, 3, 17, len(IDS)):
            p = model.distribution(IDS[:t])
            assert p.shape == (V,) and (p > 0).all() and math.isclose(p.sum(), 1, rel_tol=1e-12)
        unseen = model.distribution(np.array([CHARS.index("z")] * 8))
        assert math.isclose(unseen.sum(), 1, rel_tol=1e-12)
        # log2_probs of a stream equals the distribution at each position
        lp = model.log2_probs(IDS, 5, 40)
        direct = [math.log2(model.distribution(IDS[:t])[IDS[t]]) for t in range(5, 40)]
        np.testing.assert_allclose(lp, direct, rtol=1e-12)


def test_add_k_matches_counts():
    m = L.AddK(IDS, 3, V, k=0.3)
    c_hw = sum(TEXT.startswith("at ", i) for i in range(len(TEXT)))
    c_h = sum(TEXT.startswith("at", i) for i in range(len(TEXT) - 2))
    p = m.distribution(np.array([CHARS.index("a"), CHARS.index("t")]))
    assert math.isclose(p[CHARS.index(" ")], (c_hw + 0.3) / (c_h + 0.3 * V))


def test_kneser_ney_bigram_matches_a_direct_formula():
    m = L.KneserNey(IDS, 2, V)
    pairs = Counter(zip(TEXT, TEXT[1:]))
    cont = Counter(w for (_, w) in pairs)                            # distinct left neighbours
    # unigram level: modified KN on continuation counts, interpolated with uniform
    d1 = m.discounts[1]
    total1 = sum(cont.values())
    gamma1 = sum(d1[min(a, 3)] for a in cont.values())
    p1 = {w: (max(cont.get(w, 0) - d1[min(cont.get(w, 0), 3)], 0) + gamma1 / V) / total1
          for w in CHARS}
    d2 = m.discounts[2]
    h = "a"
    row = {w: c for (x, w), c in pairs.items() if x == h}
    c_h = sum(row.values())
    gamma = sum(d2[min(c, 3)] for c in row.values())
    want = [(max(row.get(w, 0) - d2[min(row.get(w, 0), 3)], 0) + gamma * p1[w]) / c_h
            for w in CHARS]
    np.testing.assert_allclose(m.distribution(np.array([CHARS.index(h)])), want, rtol=1e-12)


def test_higher_orders_help_on_repetitive_text_and_bad_input_is_named():
    bpc = [L.bits_per_char(L.KneserNey(IDS[:400], n, V).log2_probs(IDS, 400)) for n in (1, 3, 6)]
    assert bpc[0] > bpc[1] > bpc[2]
    with pytest.raises(ValueError, match="vocab_size"):
        L.KneserNey(IDS, 3, 5)
    with pytest.raises(TypeError, match="1-D integer"):
        L.KneserNey(IDS.astype(float), 3, V)
    with pytest.raises(ValueError, match="start"):
        L.KneserNey(IDS, 3, V).log2_probs(IDS, 0)
    with pytest.raises(ValueError, match="k must be"):
        L.AddK(IDS, 2, V, k=0)
    with pytest.raises(TypeError, match="n-gram model or an nn.Module"):
        L.score("model", IDS, 1)


def test_bits_perplexity_and_interpolation():
    lp = np.log2([0.5, 0.25, 0.125])
    assert L.bits_per_char(lp) == 2.0 and L.perplexity(lp) == 4.0
    a, b = np.log2([0.5, 0.1]), np.log2([0.1, 0.5])
    np.testing.assert_allclose(L.interpolate(a, b, 0.5), np.log2([0.3, 0.3]))
    np.testing.assert_allclose(L.interpolate(a, b, 1.0), a)
    np.testing.assert_allclose(L.interpolate(a, b, 0.0), b)
    assert L.best_lambda(a, a - 1) == 1.0
    with pytest.raises(ValueError, match="same characters"):
        L.interpolate(a, b[:1], 0.5)
    with pytest.raises(ValueError, match="lam"):
        L.interpolate(a, b, 1.5)
    with pytest.raises(ValueError, match="non-empty"):
        L.bits_per_char([])


def test_repeated_context():
    train = np.array([0, 1, 2, 3, 0, 1, 2, 4])
    ids = np.concatenate([train, [0, 1, 2, 3, 4, 4]])
    rep, cont = L.repeated_context(train, ids, 8, length=3, vocab_size=5)
    # positions 8..13: contexts (ending at t-1) "2,4|", ..., judged against train's 3-grams
    for j, t in enumerate(range(8, 14)):
        ctx = tuple(ids[t - 3:t])
        grams = {tuple(train[i:i + 3]) for i in range(len(train) - 2)}
        grams4 = {tuple(train[i:i + 4]) for i in range(len(train) - 3)}
        assert rep[j] == (ctx in grams) and cont[j] == (tuple(ids[t - 3:t + 1]) in grams4)


def _tiny_lm(seed=0):
    torch.manual_seed(seed)
    return L.EmbeddingLM(V, embedding_dim=4, hidden_size=8, num_layers=2, dropout=0.0)


def test_train_lm_and_rnn_scoring_agree_with_a_direct_pass():
    model = _tiny_lm()
    ids = torch.as_tensor(IDS)
    res = L.train_lm(model, ids[:400], 30, batch=2, seq_len=20, lr=1e-2, warmup=5,
                     evaluate=lambda m: L.bits_per_char(L.rnn_log2_probs(m, ids, 400)),
                     eval_every=10)
    assert res.steps == [10, 20, 30] and res.valid_bpc[-1] < math.log2(V) and res.seconds > 0
    lp = L.rnn_log2_probs(model, ids, 300, 420, batch=3, warmup=1000)   # whole prefix as context
    with torch.no_grad():
        logits, _ = model(ids[:419, None])
    want = torch.log_softmax(logits[299:419, 0].double(), -1).gather(
        1, ids[300:420, None])[:, 0] / math.log(2)
    np.testing.assert_allclose(lp, want.numpy(), atol=1e-5)
    np.testing.assert_allclose(L.score(model, ids, 300, 420, batch=3, warmup=1000), lp)
    with pytest.raises(TypeError, match="torch.long"):
        model(torch.zeros(3, 2))


def test_dynamic_evaluation_scores_before_learning_and_restores_weights():
    model = _tiny_lm()
    ids = torch.as_tensor(IDS)
    before = [p.detach().clone() for p in model.parameters()]
    static = L.rnn_log2_probs(model, ids, 200, 400, batch=1, warmup=199)
    frozen = L.dynamic_log2_probs(model, ids, 200, 400, lr=0.0, decay=0.0, warmup=199)
    np.testing.assert_allclose(frozen, static, atol=1e-5)           # lr 0: the static model
    dyn = L.dynamic_log2_probs(model, ids, 200, 400, chunk=20, lr=3e-2, ms_ids=ids[:200],
                               ms_chunks=5, warmup=199)
    np.testing.assert_allclose(dyn[:20], static[:20], atol=1e-5)    # first chunk: not yet learnt
    assert L.bits_per_char(dyn) < L.bits_per_char(static)           # repetitive text: it helps
    assert all(torch.equal(a, b) for a, b in zip(before, model.parameters()))


def test_adaptive_ngram_adds_scored_text():
    make = lambda t: L.KneserNey(t, 4, V)  # noqa: E731
    static = L.KneserNey(IDS[:100], 4, V).log2_probs(IDS, 100, 300)
    adapted = L.adaptive_ngram_log2_probs(make, IDS[:100], IDS, 100, 300, chunk=50)
    np.testing.assert_allclose(adapted[:50], static[:50])
    refit = L.KneserNey(IDS[:150], 4, V).log2_probs(IDS, 150, 200)
    np.testing.assert_allclose(adapted[50:100], refit)


def test_decoding():
    probs = torch.tensor([0.1, 0.6, 0.3])
    assert L.greedy(probs) == 1
    np.testing.assert_allclose(L.temperature_probs(probs, 1.0), probs, atol=1e-7)
    t = L.temperature_probs(probs, 0.5)
    np.testing.assert_allclose(t, probs.double() ** 2 / (probs.double() ** 2).sum())
    np.testing.assert_allclose(L.top_k_probs(probs, 2), [0, 2 / 3, 1 / 3])
    with pytest.raises(ValueError, match="temperature"):
        L.temperature_probs(probs, 0)
    model = _tiny_lm()
    prompt = torch.as_tensor(IDS[:10])
    a = L.generate(model, prompt, 15, generator=torch.Generator().manual_seed(3), top_k=3)
    b = L.generate(model, prompt, 15, generator=torch.Generator().manual_seed(3), top_k=3)
    assert torch.equal(a, b) and a.shape == (15,)
    g = L.generate(model, prompt, 5, method="greedy")
    with torch.no_grad():
        first = model(prompt[:, None])[0][-1, 0].argmax().item()
    assert g[0].item() == first
    kn = L.KneserNey(IDS, 5, V)
    out = L.generate(kn, torch.as_tensor(IDS[:10]), 30, method="greedy")
    assert out.shape == (30,)
    with pytest.raises(ValueError, match="method"):
        L.generate(model, prompt, 5, method="beam")


def test_tokenisation():
    assert "".join(L.word_tokens(TEXT)) == TEXT
    rules = L.learn_bpe(TEXT, 20)
    assert rules[0] in {("a", "t"), (" ", "t"), ("t", "h")} or len(rules) == 20
    tokens = L.apply_bpe(TEXT, rules)
    assert "".join(tokens) == TEXT and len(tokens) < len(TEXT)
    table = L.tokenisation_table(TEXT[:300], TEXT[300:] + " xylophone", merges=20)
    assert table["characters"]["tokens_per_char"] == 1.0
    assert table["words"]["oov"] > 0 and table["characters"]["oov"] > 0
    assert table["words"]["tokens"] < table["subwords (BPE)"]["tokens"] \
        < table["characters"]["tokens"]


# ------------------------------------------------------------------------------ self-checks


def test_check_bits_and_perplexity():
    assert ch08.check_bits_and_perplexity(lambda p: (-np.mean(np.log2(p)),
                                                     2 ** -np.mean(np.log2(p))))
    cases = {"nats": lambda p: (-np.mean(np.log(p)), 0.0),
             "total number of bits": lambda p: (-np.sum(np.log2(p)), 0.0),
             "negative": lambda p: (np.mean(np.log2(p)), 0.0),
             "2 \\*\\* bpc": lambda p: (-np.mean(np.log2(p)), np.e ** -np.mean(np.log2(p))),
             "geometric": lambda p: (-np.mean(np.log2(p)), 1 / np.mean(p))}
    for message, fn in cases.items():
        result = ch08.check_bits_and_perplexity(fn)
        assert not result and pytest.approx is not None
        assert __import__("re").search(message, result.message), (message, result.message)
    assert not ch08.check_bits_and_perplexity(lambda p: "x")
    stub = ch08.check_bits_and_perplexity(lambda p: (_ for _ in ()).throw(NotImplementedError))
    assert not stub and not stub.attempted


def _sampler(divide_probs=False, multiply=False, k_off=0, greedy=False, global_rng=False):
    def sample_next(logits, temperature, top_k, generator):
        if greedy:
            return int(torch.argmax(logits))
        if divide_probs:
            probs = torch.softmax(logits.double(), -1) / temperature
        elif multiply:
            probs = torch.softmax(logits.double() * temperature, -1)
        else:
            probs = torch.softmax(logits.double() / temperature, -1)
        if top_k is not None:
            keep = torch.topk(probs, max(top_k + k_off, 1)).indices
            kept = torch.zeros_like(probs)
            kept[keep] = probs[keep]
            probs = kept
        return int(torch.multinomial(probs / probs.sum(), 1,
                                     generator=None if global_rng else generator))
    return sample_next


def test_check_sampler():
    assert ch08.check_sampler(_sampler(), draws=2000)
    for fn, message in [(_sampler(divide_probs=True), "temperature ignored"),
                        (_sampler(multiply=True), "multiply"),
                        (_sampler(k_off=1), "outside the"),
                        (_sampler(k_off=-1), "k - 1"),
                        (_sampler(greedy=True), "greedy"),
                        (_sampler(global_rng=True), "generator")]:
        result = ch08.check_sampler(fn, draws=2000)
        assert not result and message in result.message, (message, result.message)
    assert not ch08.check_sampler(lambda *a: "a")
    state = torch.random.get_rng_state()
    ch08.check_sampler(_sampler(global_rng=True), draws=200)
    assert torch.equal(state, torch.random.get_rng_state())


def _repetition_ok(train, held_out, n):
    seen = {train[i:i + n] for i in range(len(train) - n + 1)}
    s = train[-n:] + held_out
    return sum(s[j - n:j] in seen for j in range(n, len(s))) / len(held_out)


def test_check_repetition(monkeypatch):
    not_yet = ch08.check_repetition(_repetition_ok, None)
    assert not not_yet and not not_yet.attempted and "measured" in not_yet.message
    with_current = lambda tr, ho, n: _repetition_ok(tr, ho, n + 1) * 0 + np.mean(  # noqa: E731
        [(tr[-n:] + ho)[j - n:j + 1] in {tr[i:i + n + 1] for i in range(len(tr) - n)}
         for j in range(n, n + len(ho))])
    result = ch08.check_repetition(with_current, None)
    assert not result and "predicted character" in result.message
    skipped = lambda tr, ho, n: np.mean([ho[j - n:j] in {tr[i:i + n]  # noqa: E731
                                                         for i in range(len(tr) - n + 1)}
                                         for j in range(n, len(ho))])
    result = ch08.check_repetition(skipped, None)
    assert not result and "skipped" in result.message
    result = ch08.check_repetition(lambda tr, ho, n: 100 * _repetition_ok(tr, ho, n), None)
    assert not result and "percentage" in result.message
    # the measured value, on a small stand-in corpus so that the test is fast
    from rnncourse import text
    monkeypatch.setattr(text, "pydoc_corpus", lambda: TEXT * 3)
    train, _, test = text.split_stream(TEXT * 3)
    assert ch08.check_repetition(_repetition_ok, _repetition_ok(train, test, 20))
    result = ch08.check_repetition(_repetition_ok, 0.123)
    assert not result and "measured" in result.message
    assert not ch08.check_repetition(_repetition_ok, "a lot")


def _kn_ok(counts, d):
    counts = np.asarray(counts, float)
    seen = counts > 0
    p_cont = seen.sum(0) / seen.sum()
    total = counts.sum(1, keepdims=True)
    safe = np.where(total > 0, total, 1.0)
    p = np.maximum(counts - d, 0) / safe + d * seen.sum(1, keepdims=True) / safe * p_cont
    return np.where(total > 0, p, p_cont)


def test_check_kn_bigram():
    assert ch08.check_kn_bigram(_kn_ok)
    no_backoff = lambda c, d: np.maximum(c - d, 0) / np.maximum(c.sum(1, keepdims=True), 1)  # noqa
    result = ch08.check_kn_bigram(no_backoff)
    assert not result and "back-off mass" in result.message

    def plain_unigram(c, d):
        c = np.asarray(c, float)
        uni = c.sum(0) / c.sum()
        total = c.sum(1, keepdims=True)
        safe = np.where(total > 0, total, 1.0)
        p = np.maximum(c - d, 0) / safe + d * (c > 0).sum(1, keepdims=True) / safe * uni
        return np.where(total > 0, p, uni)

    result = ch08.check_kn_bigram(plain_unigram)
    assert not result and "continuation" in result.message
    negative = lambda c, d: _kn_ok(c, d) - d * (np.asarray(c) == 0)  # noqa: E731
    result = ch08.check_kn_bigram(negative)
    assert not result and "negative" in result.message
    assert not ch08.check_kn_bigram(lambda c, d: np.zeros(3))
    assert not ch08.check_kn_bigram(lambda c, d: "x")
