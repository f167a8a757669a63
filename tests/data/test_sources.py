"""The built-in data sources: declarations match the arrays, labels match independent checks."""

from __future__ import annotations

import itertools
import math
import subprocess
import sys
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

import seqnet.data as D
from seqnet.compiler.types import TensorType
from seqnet.data import DataArgError, get_source
from seqnet.data.synthetic import S5_TABLE

ROOT = Path(__file__).resolve().parents[2]

# Small arguments for every source (npz's path is filled in by the `npz_file` fixture).
EXAMPLE_ARGS = {
    "parity": {"n": 12},
    "sum_mod": {"n": 7, "k": 3},
    "count_mod": {"n": 7, "length": 3},
    "s5": {"n": 6},
    "brackets": {"n": 10},
    "copy": {"n": 9, "vocab": 4},
    "sort": {"n": 9, "vocab": 4},
    "reverse": {"n": 9, "vocab": 5, "min_len": 2},
    "sine": {"n": 16, "horizon": 3},
    "matvec": {"n": 5},
    "relational": {"n": 6, "d": 5},
    "digits": {},
    "text": {"seq_len": 32},
    "npz": {"path": "data/mine.npz"},
}
GENERATED = [name for name, s in D.SOURCES.items() if not s.finite]


@pytest.fixture
def npz_file(tmp_path):
    (tmp_path / "data").mkdir()
    g = np.random.default_rng(0)
    np.savez(
        tmp_path / "data" / "mine.npz",
        x=g.normal(size=(50, 3, 4)).astype(np.float32),
        tokens=g.integers(0, 7, size=(50, 6)).astype(np.int32),
        tokens__vocab=np.int64(7),
        label=np.arange(50, dtype=np.int64),
    )
    return tmp_path


def _args(name, base_dir=None):
    args = dict(EXAMPLE_ARGS[name])
    if name == "npz":
        args["base_dir"] = str(base_dir)
    return args


def _check_against_fields(arrays, fields: dict[str, TensorType]):
    assert set(arrays) == set(fields)
    lengths = {len(a) for a in arrays.values()}
    assert len(lengths) == 1 and lengths.pop() > 0
    for key, t in fields.items():
        a = arrays[key]
        assert str(a.dtype) == t.dtype, key
        assert a.shape[1:] == t.dims, key
        if t.vocab is not None:
            assert a.min() >= 0 and a.max() < t.vocab, key


def test_every_source_has_example_args():
    assert set(EXAMPLE_ARGS) == set(D.SOURCES)


@pytest.mark.parametrize("name", sorted(D.SOURCES))
@pytest.mark.parametrize("split", ["train", "eval"])
def test_fields_match_loaded_arrays(name, split, npz_file):
    source = get_source(name)
    args = _args(name, npz_file)
    fields = source.fields(**args)
    n = None if source.finite else 64
    arrays = source.load(split, n, seed=3, **args)
    _check_against_fields(arrays, fields)
    if not source.finite:
        assert len(next(iter(arrays.values()))) == 64


@pytest.mark.parametrize("name", GENERATED)
def test_generated_sources_are_seeded(name):
    source = get_source(name)
    args = EXAMPLE_ARGS[name]
    a = source.load("train", 200, seed=1, **args)
    b = source.load("train", 200, seed=1, **args)
    c = source.load("train", 200, seed=2, **args)
    e = source.load("eval", 200, seed=1, **args)
    for k in a:
        np.testing.assert_array_equal(a[k], b[k])
    assert any(not np.array_equal(a[k], c[k]) for k in a)
    assert any(not np.array_equal(a[k], e[k]) for k in a)


@pytest.mark.parametrize("name", GENERATED)
def test_generated_default_size(name):
    arrays = get_source(name).load("eval", None, 0, **EXAMPLE_ARGS[name])
    assert 256 <= len(next(iter(arrays.values()))) <= 10_000


def test_declarations_do_not_import_numpy():
    code = (
        "import sys, seqnet\n"
        "before = 'numpy' in sys.modules\n"
        "import seqnet.data as D\n"
        "for name, s in D.SOURCES.items():\n"
        "    if name != 'npz':\n"
        "        s.fields(**{a.name: 4 for a in s.args if a.required})\n"
        "D.describe()\n"
        "assert before or 'numpy' not in sys.modules, 'numpy imported'\n"
        "assert 'sklearn' not in sys.modules\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT,
                   env={"PYTHONPATH": str(ROOT), "PATH": ""})  # fmt: skip


# --- labels against independent computations --------------------------------------------------


def test_parity_labels():
    a = D.load("parity", "train", 300, seed=5, n=11)
    for x, y in zip(a["x"].tolist(), a["label"].tolist(), strict=True):
        total = 0
        for bit in x:
            assert bit in (0, 1)
            total += bit
        assert y == total % 2
    assert 0.4 < a["label"].mean() < 0.6


def test_sum_mod_labels():
    a = D.load("sum_mod", "train", 300, seed=5, n=6, k=7)
    for x, y in zip(a["x"].tolist(), a["label"].tolist(), strict=True):
        assert y == sum(x) % 7
    assert set(a["x"].ravel().tolist()) == set(range(7))


def test_count_mod_labels():
    a = D.load("count_mod", "train", 300, seed=5, n=9)  # k = 5: the number of ones mod 5
    for x, y in zip(a["x"].tolist(), a["label"].tolist(), strict=True):
        assert set(x) <= {0, 1} and y == sum(x) % 5
    assert set(a["label"].tolist()) == set(range(5))
    assert get_source("count_mod").fields(n=9)["x"] == TensorType.of("int32", (9,), 2)
    assert get_source("count_mod").fields(n=9, k=3)["label"] == TensorType.of("int32", (), 3)


def _label_alone(name: str, x: np.ndarray) -> int:
    """The task's label of the tokens x alone, computed here step by step."""
    if name == "s5":
        acc = int(x[0])
        for t in x[1:]:
            acc = int(S5_TABLE[acc, t])
        return acc
    return int(x.sum()) % (2 if name == "parity" else 5)


@pytest.mark.parametrize("name,vocab", [("parity", 2), ("sum_mod", 5), ("count_mod", 2), ("s5", 120)])
def test_length_draws_a_prefix_and_pads_with_the_identity(name, vocab):
    """length = L: the first L tokens are drawn, the rest are 0 (each task's identity element),
    so the label is the label of the first L tokens alone; L = 0 or n is the full task, as before."""
    short = D.load(name, "train", 200, seed=3, n=8, length=3)
    assert (short["x"][:, 3:] == 0).all() and short["x"][:, :3].max() == vocab - 1
    for x, y in zip(short["x"][:, :3], short["label"], strict=True):
        assert y == _label_alone(name, x)
    full = D.load(name, "train", 50, seed=3, n=8)
    np.testing.assert_array_equal(D.load(name, "train", 50, seed=3, n=8, length=8)["x"], full["x"])
    assert (full["x"][:, 3:] != 0).any()
    other = D.load(name, "train", 50, seed=3, n=8, length=7)["x"]  # each length its own draws
    assert not np.array_equal(other[:, :3], full["x"][:, :3])


def test_s5_labels_compose_permutations():
    perms = list(itertools.permutations(range(5)))
    assert perms[0] == (0, 1, 2, 3, 4)
    a = D.load("s5", "train", 200, seed=5, n=5)
    for x, y in zip(a["x"].tolist(), a["label"].tolist(), strict=True):
        # x_1 o x_2 o ... o x_n: the map i -> x_1(x_2(...x_n(i))); x_n acts first.
        composed = []
        for i in range(5):
            v = i
            for p in reversed(x):
                v = perms[p][v]
            composed.append(v)
        assert perms[y] == tuple(composed)


def test_s5_single_element_is_itself():
    a = D.load("s5", "train", 50, seed=0, n=1)
    np.testing.assert_array_equal(a["x"][:, 0], a["label"])


def _balanced(s) -> bool:
    depth = 0
    for c in s:
        depth += 1 if c == 0 else -1
        if depth < 0:
            return False
    return depth == 0


def test_brackets_labels_and_balance():
    a = D.load("brackets", "train", 4000, seed=5, n=12)
    labels = a["label"].tolist()
    for x, y in zip(a["x"].tolist(), labels, strict=True):
        assert y == int(_balanced(x))
    assert 0.45 < np.mean(labels) < 0.55
    # Most negatives have as many '(' as ')': counting alone does not decide the label.
    neg = a["x"][a["label"] == 0]
    assert np.mean(neg.sum(axis=1) == 6) > 0.6


def test_brackets_balanced_strings_are_uniform():
    a = D.load("brackets", "train", 6000, seed=1, n=6)
    pos = Counter(tuple(x) for x in a["x"][a["label"] == 1].tolist())
    assert len(pos) == 5  # the Catalan number C_3
    counts = np.array(list(pos.values()))
    assert counts.min() > 0.8 * counts.mean() and counts.max() < 1.2 * counts.mean()


def test_brackets_shortest():
    a = D.load("brackets", "train", 400, seed=0, n=2)
    strings = {tuple(x): y for x, y in zip(a["x"].tolist(), a["label"].tolist(), strict=True)}
    assert strings[(0, 1)] == 1 and all(v == 0 for k, v in strings.items() if k != (0, 1))


def test_copy_and_sort():
    c = D.load("copy", "train", 100, seed=0, n=8, vocab=5)
    np.testing.assert_array_equal(c["x"], c["target"])
    s = D.load("sort", "train", 100, seed=0, n=8, vocab=5)
    for x, t in zip(s["x"].tolist(), s["target"].tolist(), strict=True):
        assert t == sorted(x)


def test_sine_target_is_the_shifted_wave():
    h, n = 3, 20
    a = D.load("sine", "train", 200, seed=0, n=n, horizon=h)
    x, t = a["x"][..., 0], a["target"][..., 0]
    np.testing.assert_allclose(x[:, h:], t[:, :-h], atol=1e-6, rtol=1e-6)
    assert np.abs(x).max() <= 1.5 + 1e-6
    assert np.abs(x).max(axis=1).min() > 0.2  # non-trivial waves
    # One wave, a sin(w t + phi): the three-term recurrence x[t+1] + x[t-1] = 2 cos(w) x[t].
    wave = np.concatenate([x, t[:, -h:]], axis=1).astype(np.float64)
    for row in wave[:20]:
        lhs, mid = row[2:] + row[:-2], row[1:-1]
        c = np.dot(lhs, mid) / np.dot(mid, mid)
        np.testing.assert_allclose(lhs, c * mid, atol=1e-5, rtol=1e-5)  # float32 samples
        freq = np.arccos(c / 2) * n / (2 * np.pi)  # cycles per window
        assert 0.5 - 1e-3 <= freq <= 2 + 1e-3


@pytest.mark.parametrize("binary", [False, True])
@pytest.mark.parametrize("symmetric", [False, True])
def test_matvec(binary, symmetric):
    n = 6
    a = D.load("matvec", "train", 400, seed=2, n=n, sparsity=0.3, binary=binary,
               symmetric=symmetric)  # fmt: skip
    adj, x, target = a["adj"], a["x"], a["target"]
    expect = np.einsum("bij,bj->bi", adj.astype(np.float64), x.astype(np.float64))
    np.testing.assert_allclose(target, expect, rtol=1e-6, atol=1e-6)
    assert -1 <= x.min() and x.max() <= 1 and x.min() < -0.9 and x.max() > 0.9
    assert adj.min() >= 0 and adj.max() <= 1
    if binary:
        assert set(np.unique(adj).tolist()) == {0.0, 1.0}
    if symmetric:
        np.testing.assert_array_equal(adj, np.swapaxes(adj, 1, 2))
        zero = (np.triu(adj) == 0)[:, np.triu_indices(n)[0], np.triu_indices(n)[1]]
    else:
        zero = adj == 0
    assert abs(zero.mean() - 0.3) < 0.03


def test_matvec_sparsity_extremes():
    dense = D.load("matvec", "train", 20, seed=0, n=4, sparsity=0.0, binary=True)
    assert (dense["adj"] == 1).all()
    empty = D.load("matvec", "train", 20, seed=0, n=4, sparsity=1.0)
    assert (empty["adj"] == 0).all() and (empty["target"] == 0).all()


def _has_triple(types, m) -> bool:
    return any((a + b + c) % m == 0 for a, b, c in itertools.combinations(types, 3))


@pytest.mark.parametrize("n,m", [(8, 0), (5, 7), (3, 3), (12, 0), (6, 400)])
def test_relational_labels_and_balance(n, m):
    a = D.load("relational", "train", 1500, seed=4, n=n, m=m, d=4)
    mod = get_source("relational").fields(n=n, m=m, d=4)["types"].vocab
    assert mod == (m or max(3, math.ceil(math.comb(n, 3) / 2)))
    types, labels = a["types"], a["label"]
    for t, y in zip(types.tolist(), labels.tolist(), strict=True):
        assert y == int(_has_triple(t, mod))
    assert 0.45 < labels.mean() < 0.55
    angle = 2 * np.pi * types / mod
    np.testing.assert_allclose(a["x"][..., 0], np.cos(angle), atol=1e-6, rtol=1e-6)
    np.testing.assert_allclose(a["x"][..., 1], np.sin(angle), atol=1e-6, rtol=1e-6)
    assert np.abs(a["x"][..., 2:]).max() <= 1


def test_relational_no_single_type_decides():
    # Every type occurs among both labels' entities at similar rates: the label is not a
    # property of any one entity.
    a = D.load("relational", "train", 6000, seed=0)
    mod = get_source("relational").fields()["types"].vocab
    pos = np.bincount(a["types"][a["label"] == 1].ravel(), minlength=mod)
    neg = np.bincount(a["types"][a["label"] == 0].ravel(), minlength=mod)
    assert (pos > 0).all() and (neg > 0).all()


def test_digits_are_read_without_importing_scikit_learn_and_equal_its_loader(monkeypatch):
    """The CSV is read straight from scikit-learn's package folder (importing sklearn.datasets
    costs 2 s of CPU per process); where it is missing, scikit-learn's loader gives the same."""
    code = ("import sys\nfrom seqnet.data.fixed import _digits_all\nimages, labels = _digits_all()\n"
            "assert images.shape == (1797, 8, 8) and 'sklearn' not in sys.modules, sorted(sys.modules)\n")  # fmt: skip
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT, env={"PYTHONPATH": str(ROOT), "PATH": ""})
    from seqnet.data import fixed

    direct = fixed._digits_table()
    monkeypatch.setattr(fixed.importlib.util, "find_spec", lambda name: None)
    np.testing.assert_array_equal(fixed._digits_table(), direct)


def test_digits_split():
    from sklearn.datasets import load_digits

    from seqnet.data.fixed import digits_split_indices

    ref = load_digits()
    train = D.load("digits", "train", seed=0)
    evals = D.load("digits", "eval", seed=99)
    assert len(train["x"]) + len(evals["x"]) == 1797
    tr_idx, ev_idx = digits_split_indices("train"), digits_split_indices("eval")
    assert not set(tr_idx.tolist()) & set(ev_idx.tolist())
    assert len(set(tr_idx.tolist()) | set(ev_idx.tolist())) == 1797
    np.testing.assert_array_equal(train["x"][..., 0] * 16, ref.images[tr_idx])  # k/16: exact in float32
    np.testing.assert_array_equal(evals["label"], ref.target[ev_idx])
    assert train["x"].min() == 0 and train["x"].max() == 1
    # The split ignores the run seed; flat is the same pixels.
    again = D.load("digits", "train", seed=7, flat=True)
    np.testing.assert_array_equal(again["x"], train["x"].reshape(-1, 64))
    assert len(D.load("digits", "eval", 10)["x"]) == 10
    assert sorted(set(train["label"].tolist())) == list(range(10))


def test_text_corpus_and_split():
    from seqnet.data.fixed import corpus_ids, corpus_text, text_split

    text = corpus_text()
    assert len(text) > 100_000 and "def " in text
    ids = corpus_ids()
    train = D.load("text", "train", seq_len=16)
    evals = D.load("text", "eval", seq_len=16)
    np.testing.assert_array_equal(train["x"][:, 1:], train["target"][:, :-1])
    (t0, t1), (e0, e1) = text_split("train"), text_split("eval")
    assert t0 == 0 and t1 == e0 and e1 == len(ids)
    assert abs(t1 / len(ids) - 0.9) < 1e-3
    # Consecutive windows tile each split, so the two never share a position.
    np.testing.assert_array_equal(train["x"].ravel(), ids[: len(train["x"]) * 16])
    np.testing.assert_array_equal(evals["x"].ravel(), ids[e0 : e0 + len(evals["x"]) * 16])
    assert t1 - 32 <= len(train["x"]) * 16 < t1 and e1 - 32 <= e0 + len(evals["x"]) * 16 < e1
    assert D.decode(train["x"][100]) in text
    # Random windows: seeded, inside their split.
    r1 = D.load("text", "eval", 50, seed=1, seq_len=16)
    r2 = D.load("text", "eval", 50, seed=1, seq_len=16)
    np.testing.assert_array_equal(r1["x"], r2["x"])
    starts = _window_starts(r1["x"], ids)
    assert all(e0 <= s and s + 17 <= e1 for s in starts)


def _window_starts(windows, ids):
    corpus = ids.tobytes()
    out = []
    for w in windows:
        positions = []
        pos = corpus.find(w.tobytes())
        while pos != -1:
            if pos % 4 == 0:
                positions.append(pos // 4)
            pos = corpus.find(w.tobytes(), pos + 1)
        assert positions
        out.append(max(positions))
    return out


def test_text_vocabulary():
    assert D.TEXT_VOCAB == 97 and D.TEXT_UNKNOWN == 96
    s = "def f(x):\n    return x ~ 1\t"
    ids = D.encode(s)
    assert ids.dtype == np.int32 and ids[-1] == D.TEXT_UNKNOWN and ids[3] == 1  # ' ' -> 1
    assert D.decode(ids[:-1]) == s[:-1]
    assert D.decode([0, 96]) == "\n\ufffd"
    assert D.decode(np.array([[34, 35]])) == "AB"
    with pytest.raises(ValueError):
        D.decode([97])
    x = D.load("text", "train", seq_len=64)["x"]
    assert (x != D.TEXT_UNKNOWN).mean() > 0.99


# --- npz ---------------------------------------------------------------------------------------


def test_npz_fields_from_headers(npz_file):
    f = get_source("npz").fields(path="data/mine.npz", base_dir=str(npz_file))
    assert f == {
        "x": TensorType.of("float32", (3, 4)),
        "tokens": TensorType.of("int32", (6,), 7),
        "label": TensorType.of("int64", ()),
    }
    assert f["tokens"].vocab == 7 and f["label"].vocab is None


def test_npz_splits(npz_file):
    src, base = get_source("npz"), str(npz_file)
    train = src.load("train", path="data/mine.npz", base_dir=base)
    evals = src.load("eval", path="data/mine.npz", base_dir=base)
    np.testing.assert_array_equal(train["label"], np.arange(45))
    np.testing.assert_array_equal(evals["label"], np.arange(45, 50))
    assert "tokens__vocab" not in train
    # An eval file beside the data is used instead.
    g = np.random.default_rng(1)
    np.savez(npz_file / "data" / "mine_eval.npz", x=g.normal(size=(8, 3, 4)).astype(np.float32),
             tokens=np.zeros((8, 6), np.int32), tokens__vocab=np.int64(7),
             label=np.arange(100, 108))  # fmt: skip
    assert len(src.load("train", path="data/mine.npz", base_dir=base)["label"]) == 50
    np.testing.assert_array_equal(
        src.load("eval", path="data/mine.npz", base_dir=base)["label"], np.arange(100, 108)
    )
    np.savez(npz_file / "data" / "mine_eval.npz", x=np.zeros((8, 3, 5), np.float32))
    with pytest.raises(DataArgError, match="does not match"):
        src.load("eval", path="data/mine.npz", base_dir=base)


def test_npz_refuses_bad_paths_and_files(npz_file, tmp_path):
    src, base = get_source("npz"), str(npz_file / "data")
    for path in ["../outside.npz", str(tmp_path / "elsewhere.npz"), "missing.npz"]:
        with pytest.raises(DataArgError) as e:
            src.fields(path=path, base_dir=base)
        assert e.value.arg == "path"
    (npz_file / "outside.npz").write_bytes((npz_file / "data" / "mine.npz").read_bytes())
    with pytest.raises(DataArgError, match="outside"):
        src.fields(path="../outside.npz", base_dir=base)
    np.savez(npz_file / "data" / "bad.npz", a=np.zeros((3, 2)), b=np.zeros((4,)))
    with pytest.raises(DataArgError, match="example count"):
        src.fields(path="bad.npz", base_dir=base)
    np.savez(npz_file / "data" / "c.npz", a=np.zeros((3, 2), np.complex64))
    with pytest.raises(DataArgError, match="dtype"):
        src.fields(path="c.npz", base_dir=base)
    (npz_file / "data" / "junk.npz").write_bytes(b"not a zip")
    with pytest.raises(DataArgError, match="cannot read"):
        src.fields(path="junk.npz", base_dir=base)


# --- declarations: binding and errors ----------------------------------------------------------


@pytest.mark.parametrize(
    "name,pos,kw,arg",
    [
        ("parity", (), {}, "n"),
        ("parity", (0,), {}, "n"),
        ("parity", (True,), {}, "n"),
        ("parity", (2.5,), {}, "n"),
        ("sum_mod", (4,), {"k": 1}, "k"),
        ("brackets", (7,), {}, "n"),
        ("matvec", (4,), {"sparsity": 1.5}, "sparsity"),
        ("matvec", (4,), {"binary": 1}, "binary"),
        ("sine", (8,), {"horizon": 0}, "horizon"),
        ("relational", (16,), {"m": 24}, "m"),
        ("relational", (), {"m": 1}, "m"),
        ("text", (), {"seq_len": "64"}, "seq_len"),
        ("copy", (4,), {"vocabulary": 3}, "vocabulary"),
        ("parity", (4,), {"n": 4}, "n"),
        ("parity", (4, 2, 1), {}, None),
        ("parity", (4, 5), {}, "length"),
        ("s5", (3,), {"length": -1}, "length"),
    ],
)
def test_bad_arguments(name, pos, kw, arg):
    with pytest.raises(DataArgError) as e:
        get_source(name).bind(*pos, **kw)
    assert e.value.arg == arg
    if name == "copy":
        assert e.value.hint == "did you mean 'vocab'?"


def test_bind_fills_defaults_and_converts():
    assert get_source("sum_mod").bind(6) == {"n": 6, "k": 5, "length": 0}
    assert get_source("matvec").bind(3, sparsity=1) == {
        "n": 3, "sparsity": 1.0, "binary": False, "symmetric": False, "low": -1.0,
    }  # fmt: skip
    x = get_source("matvec").load("eval", 50, 0, n=3, low=0)["x"]  # the ensemble mask paper's x
    assert x.min() >= 0 and x.max() <= 1 and x.min() < 0.2
    assert get_source("parity").bind(4.0) == {"n": 4, "length": 0}
    assert get_source("digits").fields(flat=True)["x"] == TensorType.of("float32", (64,))
    with pytest.raises(DataArgError):
        get_source("brackets").load("train", 10, 0, n=5)


def test_registry_names():
    assert get_source("task.parity") is get_source("data.parity") is D.SOURCES["parity"]
    with pytest.raises(D.UnknownSourceError) as e:
        get_source("parrity")
    assert e.value.suggestions == ("parity",) and "did you mean 'parity'" in str(e.value)
    text = D.describe()
    for source in D.SOURCES.values():
        assert source.signature() in text and source.doc
    assert "x_n is applied first" in D.describe("s5")


def test_load_checks_split_and_counts():
    with pytest.raises(ValueError):
        D.load("parity", "test", 10, n=4)
    with pytest.raises(DataArgError):
        D.load("parity", "train", 0, n=4)
