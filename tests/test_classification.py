"""rnncourse.classification (chapter 9) and the chapter's self-checks."""

import hashlib
import importlib
import io
import random
import zipfile

import matplotlib
import pytest
import torch

from rnncourse import classification as C
from rnncourse.download import DownloadError
from rnncourse.exercises import ch09
from rnncourse.validation import ShapeError

matplotlib.use("Agg")


@pytest.fixture(scope="module")
def names():
    return C.load_surnames()


# ------------------------------------------------------------------ surnames

def test_surnames_have_16_disjoint_romanised_languages(names):
    assert len(names) == 16 and set(names) == set(C.LANGUAGES)
    everyone = [n for v in names.values() for n in v]
    assert len(everyone) == len(set(everyone))                   # shared names were dropped
    assert all(len(v) >= 90 for v in names.values())
    assert len(names["Polish"]) > 1000                           # pl_PL's unisex_last_names
    assert not any("\u0370" <= c <= "\u04ff" for n in everyone for c in n)
    assert "Papadopoulos" in names["Greek"] and all(v == sorted(v) for v in names.values())


def test_a_name_under_two_languages_is_dropped_from_both():
    both = C.load_surnames({"Czech": ("cs_CZ",), "German": ("de_DE",)})
    assert "Adam" not in both["Czech"] and "Adam" not in both["German"]


def test_missing_locales_lists_and_faker_are_clear_errors(monkeypatch):
    with pytest.raises(ValueError, match="no person provider for locale 'xx_XX'"):
        C.load_surnames({"A": ("xx_XX",), "B": ("fi_FI",)})
    with pytest.raises(ValueError, match="list is missing"):
        C.load_surnames({"Spanish": ("es",), "B": ("fi_FI",)})   # 'es' holds only "Doe"
    with pytest.raises(ValueError, match="at least two"):
        C.load_surnames({"A": ("fi_FI",)})
    with pytest.raises(ValueError, match="tuple of locales"):
        C.load_surnames({"A": "fi_FI", "B": ("it_IT",)})
    real = importlib.import_module

    def no_faker(name, *args):
        if name.startswith("faker"):
            raise ImportError(name)
        return real(name, *args)

    monkeypatch.setattr(importlib, "import_module", no_faker)
    with pytest.raises(ImportError, match="pip install faker"):
        C.load_surnames({"A": ("fi_FI",), "B": ("it_IT",)})


def test_greek_romanisation():
    assert C.greek_to_latin("Παπαδόπουλος") == "Papadopoulos"
    assert C.greek_to_latin("Μπακογιάννης") == "Bakogiannis"


def test_stratified_split_is_deterministic_and_stratified():
    data = {"a": [f"a{i}" for i in range(100)], "b": [f"b{i}" for i in range(30)]}
    train, val, test = C.stratified_split(data, seed=3)
    assert (len(train), len(val), len(test)) == (104, 13, 13)
    assert torch.bincount(val.labels).tolist() == [10, 3]
    assert not set(train.items) & set(val.items) | set(train.items) & set(test.items)
    shuffled = {k: list(reversed(v)) for k, v in data.items()}
    assert C.stratified_split(shuffled, seed=3)[1].items == val.items   # order-independent
    assert C.stratified_split(data, seed=4)[1].items != val.items
    assert train.classes == ("a", "b") and len(train) == 104
    with pytest.raises(ValueError, match="summing to 1"):
        C.stratified_split(data, fractions=(0.8, 0.3, 0.1))
    with pytest.raises(ValueError, match="at least 3"):
        C.stratified_split({"a": ["x", "y"], "b": ["z", "w", "v"]})


# ------------------------------------------------------------------ batches

def test_encode_batch_pads_and_lengths_come_back_on_the_cpu():
    vocab = C.char_vocab(["Nowak", "Aho"])
    ids = C.encode_batch(vocab, ["Nowak", "Aho", "Zzz"])
    assert ids.shape == (3, 5) and ids[1, 3:].tolist() == [0, 0]
    assert C.lengths_of(ids).tolist() == [5, 3, 3] and C.lengths_of(ids).device.type == "cpu"
    assert vocab.decode(ids[2, :3]) == "???"                     # unseen characters
    words = C.WordVocab(["not", "good"])
    assert C.encode_batch(words, [["not", "good"], ["bad"]]).tolist() == [[3, 2], [1, 0]]
    with pytest.raises(ValueError, match="empty"):
        C.encode_batch(vocab, ["Aho", ""])
    with pytest.raises(ValueError, match="non-empty"):
        C.encode_batch(vocab, [])
    with pytest.raises(ValueError, match="padding symbol"):
        C.encode_batch(vocab, ["A\0b"])


def test_masked_mean_and_last_step_match_loops():
    gen = torch.Generator().manual_seed(0)
    out = torch.randn(4, 6, 3, generator=gen)
    lengths = torch.tensor([6, 1, 3, 4])
    mean = C.masked_mean(out, lengths)
    last = C.last_step(out, lengths)
    for b, n in enumerate(lengths.tolist()):
        assert torch.allclose(mean[b], out[b, :n].mean(0))
        assert torch.equal(last[b], out[b, n - 1])
    assert C.length_mask(lengths, 6).sum(1).tolist() == lengths.tolist()
    with pytest.raises(ShapeError, match="batch=4"):
        C.masked_mean(out, torch.tensor([1, 2]))
    with pytest.raises(ShapeError, match="seq_len, H"):
        C.last_step(out[0], lengths)
    with pytest.raises(ValueError, match=r"\[1, seq_len=6\]"):
        C.last_step(out, torch.tensor([7, 1, 1, 1]))
    with pytest.raises(ShapeError, match="integer"):
        C.masked_mean(out, lengths.float())


# ------------------------------------------------------------------ models

@pytest.mark.parametrize("rnn", ["gru", "lstm"])
@pytest.mark.parametrize("bidirectional", [False, True])
@pytest.mark.parametrize("readout", ["last", "mean"])
def test_packed_classifier_scores_a_sequence_as_if_it_were_alone(rnn, bidirectional, readout):
    torch.manual_seed(0)
    model = C.SequenceClassifier(20, 3, 4, 5, rnn=rnn, bidirectional=bidirectional,
                                 readout=readout).eval()
    ids = torch.tensor([[3, 4, 5, 6, 7, 8], [9, 10, 0, 0, 0, 0], [11, 12, 13, 0, 0, 0]])
    with torch.no_grad():
        together = model(ids)
        for b in range(3):
            n = int((ids[b] != 0).sum())
            assert torch.allclose(together[b], model(ids[b:b + 1, :n])[0], atol=1e-6)


def test_padded_last_readout_depends_on_the_batch_and_mean_uses_the_mask():
    torch.manual_seed(0)
    buggy = C.SequenceClassifier(20, 3, 4, 5, readout="padded_last").eval()
    with torch.no_grad():
        alone = buggy(torch.tensor([[3, 4]]))
        beside = buggy(torch.tensor([[3, 4, 0, 0], [5, 6, 7, 8]]))[:1]
    assert not torch.allclose(alone, beside, atol=1e-4)


def test_classifier_rejects_bad_arguments():
    with pytest.raises(ValueError, match="'gru' or 'lstm'"):
        C.SequenceClassifier(10, 2, rnn="rnn")
    with pytest.raises(ValueError, match="readout must be one of"):
        C.SequenceClassifier(10, 2, readout="first")
    model = C.SequenceClassifier(10, 2, 4, 5)
    with pytest.raises(ShapeError, match=r"\(batch, T\) torch.long"):
        model(torch.zeros(2, 3))
    with pytest.raises(ValueError, match="at least one real"):
        model(torch.tensor([[1, 2], [0, 0]]))
    with pytest.raises(ShapeError, match="torch.long"):
        C.BagOfWords(10, 2)(torch.zeros(3))


def test_bag_of_words_is_blind_to_order_and_padding():
    torch.manual_seed(0)
    bow = C.BagOfWords(10, 2)
    a = bow(torch.tensor([[3, 4, 5, 0]]))
    b = bow(torch.tensor([[5, 3, 4]]))
    assert torch.equal(a, b)
    assert bow.counts(torch.tensor([[3, 3, 0]]))[0].tolist() == [0, 0, 0, 2] + [0] * 6


def test_class_weights():
    labels = torch.tensor([0, 0, 0, 1])
    w = C.class_weights(labels, 2)
    assert torch.allclose(w, torch.tensor([4 / 6, 2.0]))
    assert torch.isclose(w[labels].mean(), torch.tensor(1.0))
    with pytest.raises(ValueError, match=r"classes \[2\] have no examples"):
        C.class_weights(labels, 3)


def test_metrics_on_a_known_example():
    target = torch.tensor([0, 0, 1, 1, 2, 2])
    pred = torch.tensor([0, 1, 1, 1, 0, 0])
    cm = C.confusion_matrix(pred, target, 3)
    assert cm.tolist() == [[1, 1, 0], [0, 2, 0], [2, 0, 0]]
    precision, recall = C.precision_recall(pred, target, 3)
    assert precision.tolist() == pytest.approx([1 / 3, 2 / 3, 0.0])
    assert recall.tolist() == pytest.approx([0.5, 1.0, 0.0])
    assert C.accuracy(pred, target) == pytest.approx(0.5)
    assert C.macro_accuracy(pred, target, 3) == pytest.approx(0.5)
    with pytest.raises(ShapeError, match="same non-empty shape"):
        C.confusion_matrix(pred[:2], target, 3)
    with pytest.raises(ShapeError, match="integer tensor"):
        C.confusion_matrix(pred.float(), target, 3)
    with pytest.raises(ValueError, match=r"\[0, 2\)"):
        C.confusion_matrix(pred, target, 2)


def test_training_is_deterministic_and_learns():
    data = {"x": ["ab", "aab", "abab", "ba"], "y": ["cd", "ccd", "dcd", "dc"]}
    train = C.Split([n for v in data.values() for n in v], torch.tensor([0] * 4 + [1] * 4),
                    ("x", "y"))
    vocab = C.char_vocab(train.items)
    runs = []
    for _ in range(2):
        torch.manual_seed(0)
        model = C.SequenceClassifier(len(vocab), 2, 4, 8)
        runs.append(C.train_classifier(model, vocab, train, steps=60, batch_size=8, lr=1e-2,
                                       device=torch.device("cpu")))
    assert runs[0] == runs[1] and runs[0][-1] < 0.5 * runs[0][0]
    pred = C.predict(model, vocab, train.items).argmax(1)
    assert C.accuracy(pred, train.labels) == 1.0 and not model.training


# ------------------------------------------------------------------ reviews

def test_review_labels_follow_the_rules():
    rng = random.Random(0)
    pos, neg = set(C.REVIEW_WORDS["positive"]), set(C.REVIEW_WORDS["negative"])
    pairs = [(n, a) for n in C.REVIEW_WORDS["nouns"] for a in sorted(pos | neg)]
    for kind in ("plain", "negated", "contrast"):
        for _ in range(50):
            r = C.make_review(rng, kind, pairs)
            clauses = " ".join(r.tokens).split(" but ")
            assert len(clauses) == (2 if kind == "contrast" else 1)

            def sentiment(clause):
                words = clause.split()
                return int(words[-1] in pos) ^ int(any(w in ("not", "never") for w in words))

            assert r.label == sentiment(clauses[-1])
            if kind == "contrast":
                assert sentiment(clauses[0]) != r.label
    with pytest.raises(ValueError, match="kind must be"):
        C.make_review(rng, "sarcastic", pairs)


def test_review_corpus_is_deterministic_with_unseen_pairs():
    a, b = C.review_corpus(n_train=300, n_test=90, seed=1), C.review_corpus(300, 90, seed=1)
    assert [r.tokens for r in a[2].items] == [r.tokens for r in b[2].items]
    adjectives = set(C.REVIEW_WORDS["positive"] + C.REVIEW_WORDS["negative"])

    def pairs(split):
        out = set()
        for r in split.items:
            t = r.tokens
            for i, w in enumerate(t):
                if w == "the":
                    out.add((t[i + 1], next(x for x in t[i:] if x in adjectives)))
        return out

    assert not pairs(a[0]) & pairs(a[2]) and pairs(a[1]) <= pairs(a[0]) | pairs(a[1])
    assert [r.kind for r in a[0].items[:3]] == ["plain", "negated", "contrast"]
    assert a[0].labels.tolist() == [r.label for r in a[0].items]


def test_parse_and_tokenize():
    assert C.parse_labelled_sentences("Good.\t1\n\nBad!\t0\n") == [("Good.", 1), ("Bad!", 0)]
    with pytest.raises(ValueError, match="line 2"):
        C.parse_labelled_sentences("Good.\t1\nno label here\n")
    assert C.tokenize("Not good, isn't it?") == ["not", "good", ",", "isn't", "it", "?"]


# ------------------------------------------------------------------ optional download

TEXT = b"A fine film.\t1\nDull.\t0\n"
ZIP = io.BytesIO()
with zipfile.ZipFile(ZIP, "w") as archive:
    archive.writestr("sentences/imdb_labelled.txt", "Great!\t1\n")
    archive.writestr("sentences/amazon_labelled.txt", "Broken.\t0\n")
    archive.writestr("sentences/readme.txt", "not data")
    archive.writestr("__MACOSX/sentences/._imdb_labelled.txt", "junk")
ZIP = ZIP.getvalue()
FILES = {"/corpus.txt": TEXT, "/corpus.zip": ZIP}


@pytest.fixture
def server(serve):
    return serve(FILES)


def test_fetch_labelled_sentences_text_zip_cache_and_checksum(server, tmp_path):
    sha = hashlib.sha256(TEXT).hexdigest()
    assert C.fetch_labelled_sentences(f"{server}/corpus.txt", sha, directory=tmp_path) == [
        ("A fine film.", 1), ("Dull.", 0)]
    hits = server.hits.total()
    C.fetch_labelled_sentences(f"{server}/corpus.txt", sha, directory=tmp_path)
    assert server.hits.total() == hits                                  # served from the cache
    zsha = hashlib.sha256(ZIP).hexdigest()
    assert C.fetch_labelled_sentences(f"{server}/corpus.zip", zsha, directory=tmp_path) == [
        ("Broken.", 0), ("Great!", 1)]
    with pytest.raises(DownloadError, match="checksum mismatch"):
        C.fetch_labelled_sentences(f"{server}/corpus.zip", sha, directory=tmp_path / "other")
    assert not (tmp_path / "other" / "corpus.zip").exists()
    with pytest.raises(DownloadError, match="404"):
        C.fetch_labelled_sentences(f"{server}/missing.txt", sha, directory=tmp_path)


# ------------------------------------------------------------------ diagrams

def test_diagrams_draw():
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2)
    C.draw_classifier(axes[0], "Aho", pad=1)
    C.draw_packing(axes[1], [3, 1, 2])
    assert len(axes[0].patches) > 10 and len(axes[1].patches) == 9
    plt.close(fig)


# ------------------------------------------------------------------ self-checks

def _stub(*args):
    raise NotImplementedError


def test_check_batch_sizes():
    good = ch09.check_batch_sizes(lambda L: [sum(n > t for n in L) for t in range(max(L))])
    assert good, good.message
    assert "sorted lengths" in ch09.check_batch_sizes(lambda L: sorted(L, reverse=True)).message
    shifted = ch09.check_batch_sizes(lambda L: [sum(n >= t for n in L) for t in range(max(L))])
    assert "shifted by one" in shifted.message
    assert not ch09.check_batch_sizes(_stub).attempted
    assert "list of ints" in ch09.check_batch_sizes(lambda L: "no").message


def test_check_masked_mean():
    def good(out, lengths):
        mask = torch.arange(out.shape[1])[None, :] < lengths[:, None]
        return (out * mask[..., None]).sum(1) / lengths[:, None]

    assert ch09.check_masked_mean(good)
    assert "averages the padded steps" in ch09.check_masked_mean(lambda o, L: o.mean(1)).message

    def by_t(out, lengths):
        mask = torch.arange(out.shape[1])[None, :] < lengths[:, None]
        return (out * mask[..., None]).sum(1) / out.shape[1]

    assert "divides the masked sum by seq_len" in ch09.check_masked_mean(by_t).message

    def wide(out, lengths):
        mask = torch.arange(out.shape[1])[None, :] <= lengths[:, None]
        return (out * mask[..., None]).sum(1) / lengths[:, None]

    assert "includes step lengths[b]" in ch09.check_masked_mean(wide).message

    def in_place(out, lengths):
        out[:] = 0
        return good(out, lengths)

    assert "in place" in ch09.check_masked_mean(in_place).message
    assert not ch09.check_masked_mean(_stub).attempted
    assert "should return a tensor" in ch09.check_masked_mean(lambda o, L: 3).message
    assert "shape" in ch09.check_masked_mean(lambda o, L: o).message


def test_check_last_real_step():
    def good(out, lengths):
        return out[torch.arange(out.shape[0]), lengths - 1]

    assert ch09.check_last_real_step(good)
    assert "padded last step" in ch09.check_last_real_step(lambda o, L: o[:, -1]).message
    broadcast = ch09.check_last_real_step(lambda o, L: o[:, L - 1])
    assert "picks every listed step" in broadcast.message
    off = ch09.check_last_real_step(
        lambda o, L: o[torch.arange(o.shape[0]), L.clamp(max=o.shape[1] - 1)])
    assert "counted from 0" in off.message
    assert not ch09.check_last_real_step(_stub).attempted
    assert "should return a tensor" in ch09.check_last_real_step(lambda o, L: None).message


def test_check_shuffled_experiment():
    assert ch09.check_shuffled_experiment(0.95, 0.5)
    assert not ch09.check_shuffled_experiment(None, None).attempted
    assert "did you shuffle" in ch09.check_shuffled_experiment(1.0, 1.0).message
    assert "percentage" in ch09.check_shuffled_experiment(95, 50).message
    assert "did you shuffle" in ch09.check_shuffled_experiment(0.9, 0.9).message
    assert "a GRU sees the whole set" in ch09.check_shuffled_experiment(0.5, 0.5).message
    assert "about 1/2" in ch09.check_shuffled_experiment(0.95, 0.2).message
    assert "a number" in ch09.check_shuffled_experiment("0.9", 0.5).message
    assert not ch09.check_shuffled_experiment(float("nan"), 0.5)


def test_checks_do_not_raise_on_nonsense():
    for check in (ch09.check_batch_sizes, ch09.check_masked_mean, ch09.check_last_real_step):
        assert not check(None)
        assert "ZeroDivisionError" in check(lambda *a: 1 / 0).message
