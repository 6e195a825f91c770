"""Tests of rnncourse.seq2seq and the chapter-10 self-checks."""

from itertools import product

import pytest
import torch

from rnncourse import seq2seq
from rnncourse.exercises import ch10


# ---------------------------------------------------------------------------------- data
def test_number_words_and_split():
    assert seq2seq.number_words(42, "de") == "zweiundvierzig"
    assert seq2seq.number_words(42) == "forty-two"
    assert seq2seq.number_words(42, "fr") == "quarante-deux"
    with pytest.raises(ValueError, match="lang"):
        seq2seq.number_words(3, "xx")
    with pytest.raises(ValueError, match="non-negative int"):
        seq2seq.number_words(-1)
    splits = [seq2seq.split_of(n) for n in range(5000)]
    assert 0.08 < splits.count("test") / 5000 < 0.12
    assert 0.03 < splits.count("valid") / 5000 < 0.07
    train = seq2seq.numbers_in_split(300, (1, 4), "train", seed=0)
    test = seq2seq.numbers_in_split(100, (1, 4), "test", seed=0)
    assert len(train) == 300 and len(test) == 100 and not set(train) & set(test)
    assert train == seq2seq.numbers_in_split(300, (1, 4), "train", seed=0)
    assert all(seq2seq.split_of(n) == "test" for n in test)


def test_vocab_and_pairs():
    pairs, sv, tv = seq2seq.make_pairs([5, 42, 1000])
    assert sv.itos[:3] == list(seq2seq.SPECIALS)
    assert pairs.tgt[:, 0].eq(seq2seq.BOS).all()
    ids = tv.encode("zwei", bos=True)
    assert ids[0] == seq2seq.BOS and ids[-1] == seq2seq.EOS
    assert tv.decode(ids + [seq2seq.PAD]) == "zwei"
    assert pairs.src_len.tolist() == [len(t) + 1 for t in pairs.src_text]
    with pytest.raises(ValueError, match="not in the vocabulary"):
        tv.encode("Q")
    src, src_len, tgt = pairs.batch(torch.tensor([0]))
    assert src.shape == (1, len("five") + 1) and tgt.shape == (1, len("fünf") + 2)


# ----------------------------------------------------------------------------- attention
def test_attention_weights_mask_and_sum():
    gen = torch.Generator().manual_seed(0)
    scores = torch.randn(3, 4, 5, generator=gen)
    mask = torch.tensor([[1, 1, 1, 1, 1], [1, 1, 0, 0, 0], [1, 0, 0, 0, 0]], dtype=torch.bool)
    w = seq2seq.attention_weights(scores, mask)
    assert torch.equal(w[1, :, 2:], torch.zeros(4, 3)) and torch.equal(w[2, :, 0], torch.ones(4))
    assert torch.allclose(w.sum(-1), torch.ones(3, 4))


def test_additive_and_multiplicative_scores_by_hand():
    gen = torch.Generator().manual_seed(1)
    q, k = torch.randn(2, 3, 4, generator=gen), torch.randn(2, 5, 6, generator=gen)
    W_q, W_k, v = (torch.randn(7, 4, generator=gen), torch.randn(7, 6, generator=gen),
                   torch.randn(7, generator=gen))
    s = seq2seq.additive_scores(q, k, W_q, W_k, v)
    assert s.shape == (2, 3, 5)
    assert torch.allclose(s[1, 2, 3], v @ torch.tanh(W_q @ q[1, 2] + W_k @ k[1, 3]), atol=1e-5)
    W = torch.randn(4, 6, generator=gen)
    m = seq2seq.multiplicative_scores(q, k, W)
    assert torch.allclose(m[0, 1, 4], q[0, 1] @ W @ k[0, 4], atol=1e-5)


def test_attention_module_gradcheck():
    torch.manual_seed(0)
    for kind in ("additive", "multiplicative"):
        att = seq2seq.Attention(4, 6, 5, kind).double()
        q = torch.randn(2, 3, 4, dtype=torch.float64, requires_grad=True)
        k = torch.randn(2, 5, 6, dtype=torch.float64, requires_grad=True)
        mask = torch.tensor([[1, 1, 1, 0, 0], [1, 1, 1, 1, 1]], dtype=torch.bool)
        assert torch.autograd.gradcheck(lambda a, b, att=att, mask=mask: att(a, b, mask)[0], (q, k))
    with pytest.raises(ValueError, match="kind"):
        seq2seq.Attention(4, 4, kind="dot")


# --------------------------------------------------------------------------------- model
@pytest.fixture(scope="module")
def small():
    torch.manual_seed(0)
    pairs, sv, tv = seq2seq.make_pairs([3, 42, 1234, 77])
    models = {kind: seq2seq.Seq2Seq(len(sv), len(tv), 16, 8, kind, 8)
              for kind in (None, "additive", "multiplicative")}
    return pairs, tv, models


def test_encoder_ignores_padding(small):
    pairs, _, models = small
    for model in models.values():
        full = model.encode(*pairs.batch(torch.arange(4))[:2])
        for b in range(4):
            alone = model.encode(*pairs.batch(torch.tensor([b]))[:2])
            L = int(pairs.src_len[b])
            assert torch.allclose(full[0][b, :L], alone[0][0, :L], atol=1e-6)
            assert torch.allclose(full[2][b], alone[2][0], atol=1e-6)


def test_model_rejects_bad_inputs(small):
    pairs, _, models = small
    src, src_len, tgt = pairs.batch(torch.arange(4))
    model = models["additive"]
    with pytest.raises(Exception, match="src must have 2 dimensions"):
        model(src[0], src_len, tgt)
    with pytest.raises(Exception, match="src_len must have shape"):
        model(src, src_len[:2], tgt)
    with pytest.raises(Exception, match="tgt_in must have shape"):
        model(src, src_len, tgt[:3])
    with pytest.raises(TypeError, match="tgt_in must be a torch.Tensor"):
        model(src, src_len, [1, 2])


def test_masked_loss_ignores_padding():
    logits = torch.randn(2, 4, 5)
    target = torch.tensor([[3, 4, 2, 0], [3, 2, 0, 0]])
    by_hand = torch.cat([torch.nn.functional.cross_entropy(logits[0, :3], target[0, :3],
                                                           reduction="none"),
                         torch.nn.functional.cross_entropy(logits[1, :2], target[1, :2],
                                                           reduction="none")]).mean()
    assert torch.allclose(seq2seq.masked_cross_entropy(logits, target), by_hand)


def test_greedy_equals_beam_one_and_decoding_is_consistent(small):
    pairs, tv, models = small
    src, src_len, _ = pairs.batch(torch.arange(4))
    for model in models.values():
        greedy = seq2seq.greedy_decode(model, src, src_len, max_len=12)
        beam1 = seq2seq.beam_search(model, src, src_len, beam=1, max_len=12)
        assert [tv.decode(r) for r in greedy] == [tv.decode(r) for r in beam1]
        beam3 = seq2seq.beam_search(model, src, src_len, beam=3, max_len=12)
        assert beam3.shape[0] == 4


def test_beam_step_matches_brute_force():
    gen = torch.Generator().manual_seed(3)
    scores = torch.tensor([0.0, -1.0, -2.5])
    logp = torch.log_softmax(torch.randn(3, 4, generator=gen), -1)
    new, parent, token = seq2seq.beam_step(scores, logp, 5)
    cands = sorted(((scores[k] + logp[k, v]).item(), k, v)
                   for k, v in product(range(3), range(4)))[::-1][:5]
    assert [(k, v) for _, k, v in cands] == list(zip(parent.tolist(), token.tolist()))
    assert torch.allclose(new, torch.tensor([c[0] for c in cands]))


def test_length_normalised_and_metrics():
    lp, n = torch.tensor([-2.0, -3.0]), torch.tensor([2, 6])
    assert torch.equal(seq2seq.length_normalised(lp, n, 0.0), lp)
    assert torch.allclose(seq2seq.length_normalised(lp, n, 1.0), torch.tensor([-1.0, -0.5]))
    assert seq2seq.exact_match(["a", "b"], ["a", "c"]) == 0.5
    with pytest.raises(ValueError, match="predictions"):
        seq2seq.exact_match(["a"], ["a", "b"])
    scores = seq2seq.corpus_scores(["zweiundvierzig"], ["zweiundvierzig"])
    assert scores["chrF"] == pytest.approx(100) and scores["BLEU"] == pytest.approx(100)
    assert scores["word BLEU"] == 0.0          # one compound word: no word 2-, 3-, 4-grams


def test_train_runs_and_logs(small):
    pairs, tv, _ = small
    torch.manual_seed(0)
    model = seq2seq.Seq2Seq(40, len(tv), 16, 8, "additive", 8)
    log = seq2seq.train(model, pairs, 4, pairs, tv, batch_size=4, eval_every=2)
    assert log.steps == [2, 4] and len(log.train_loss) == 4 and len(log.valid_em) == 2
    with pytest.raises(ValueError):
        seq2seq.train(model, pairs, 0)


def test_plot_helpers_draw():
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 3)
    seq2seq.draw_encoder_decoder(axes[0], attention=False)
    seq2seq.draw_encoder_decoder(axes[1], attention=True)
    seq2seq.plot_attention(axes[2], torch.rand(5, 4), "abc", "xyzw")
    with pytest.raises(Exception, match="weights"):
        seq2seq.plot_attention(axes[2], torch.rand(5), "abc", "xyzw")
    plt.close(fig)


# ---------------------------------------------------------------------------- self-checks
def _masked_ref(scores, mask):
    return torch.softmax(scores.masked_fill(~mask[:, None], float("-inf")), -1)


def test_check_masked_attention():
    assert ch10.check_masked_attention(_masked_ref)
    cases = {
        "the mask is not used": lambda s, m: torch.softmax(s, -1),
        "e^0 = 1": lambda s, m: torch.softmax(s * m[:, None], -1),
        "renormalise": lambda s, m: torch.softmax(s, -1) * m[:, None],
        "the last axis": lambda s, m: torch.softmax(s.masked_fill(~m[:, None], float("-inf")), 1),
        "sum to 1": lambda s, m: torch.softmax(s, 1) * m[:, None],
    }
    for message, wrong in cases.items():
        result = ch10.check_masked_attention(wrong)
        assert not result and message in result.message, (message, result.message)
    assert not ch10.check_masked_attention(lambda s, m: "no")
    stub = ch10.check_masked_attention(lambda s, m: (_ for _ in ()).throw(NotImplementedError))
    assert not stub and not stub.attempted


def test_check_beam_step():
    assert ch10.check_beam_step(seq2seq.beam_step)

    def alone(scores, logp, beam):
        best, flat = logp.flatten().topk(beam)
        return best, flat // logp.shape[1], flat % logp.shape[1]

    def per_hypothesis(scores, logp, beam):
        k = torch.arange(beam) % logp.shape[0]
        tok = logp.argmax(-1)[k]
        return scores[k] + logp[k, tok], k, tok

    def wrong_split(scores, logp, beam):
        best, flat = (scores[:, None] + logp).flatten().topk(beam)
        return best, flat // logp.shape[0], flat % logp.shape[0]

    def reversed_order(scores, logp, beam):
        return tuple(t.flip(0) for t in seq2seq.beam_step(scores, logp, beam))

    def probabilities(scores, logp, beam):
        new, parent, token = seq2seq.beam_step(scores, logp, beam)
        return new.exp(), parent, token

    for fn, message in ((alone, "alone"), (per_hypothesis, "its own best token"),
                        (reversed_order, "best first"), (probabilities, "sums of logs")):
        result = ch10.check_beam_step(fn)
        assert not result and message in result.message, (message, result.message)
    result = ch10.check_beam_step(wrong_split)
    assert not result
    assert not ch10.check_beam_step(lambda s, lp, b: None)


def test_check_swap_experiment():
    refs = [seq2seq.number_words(n, "de") for n in ch10._SWAP_NUMBERS]
    swapped = [ch10._swap(r) for r in refs]
    assert all(s != r for s, r in zip(swapped, refs))
    assert ch10._swap("zweiundvierzig") == "vierzigundzwei"
    scores = seq2seq.corpus_scores(swapped, refs)
    assert ch10.check_swap_experiment(0.0, scores["chrF"], scores["BLEU"])
    result = ch10.check_swap_experiment(None, None, None)
    assert not result and not result.attempted
    result = ch10.check_swap_experiment(0.0, scores["chrF"] / 100, scores["BLEU"])
    assert not result and "0–100" in result.message
    result = ch10.check_swap_experiment(0.0, scores["BLEU"], scores["chrF"])
    assert not result and "swapped chrF and BLEU" in result.message
    assert not ch10.check_swap_experiment(1.0, scores["chrF"], scores["BLEU"])
    assert not ch10.check_swap_experiment("a", scores["chrF"], scores["BLEU"])


def test_check_score_gradient():
    def ref(w, values, g):
        gh = (values @ g[..., None])[..., 0]                  # (B, S): g · h_j
        return w * (gh - (w * gh).sum(-1, keepdim=True))

    assert ch10.check_score_gradient(ref)
    result = ch10.check_score_gradient(lambda w, v, g: w * (v @ g[..., None])[..., 0])
    assert not result and "subtract" in result.message
    result = ch10.check_score_gradient(lambda w, v, g: ref(w, v, g) + 0.1 * (w == 0))
    assert not result and "exactly zero gradient" in result.message
    assert not ch10.check_score_gradient(lambda w, v, g: 3)
