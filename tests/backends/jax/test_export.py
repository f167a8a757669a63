"""Export to StableHLO (jax.export) with the parameters, and loading it back."""

from __future__ import annotations

import sys
from pathlib import Path

import jax.numpy as jnp
import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).parent))
from test_train import make_model  # noqa: E402

from seqnet.backends.jax import train as T  # noqa: E402
from seqnet.backends.jax.export import ExportError, export, load_exported  # noqa: E402

pytest.importorskip("flatbuffers", reason="jax.export serialisation needs flatbuffers")


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    out = tmp_path_factory.mktemp("export_run")
    model = make_model()
    result = T.train(model, out=out, steps=5, progress=False)
    return model, result


def _expected(model, params, x):
    return np.asarray(model._jax().apply(params, {"x": jnp.asarray(x)}, rng=None, train=False)["y"])


@pytest.mark.parametrize("target", ["exported", "exported.zip"])
def test_round_trip_symbolic_batch(run, tmp_path, target):
    model, r = run
    path = export(model, r.out_dir, tmp_path / target)
    loaded = load_exported(path)
    assert loaded.manifest["batch"] == "symbolic"
    assert loaded.inputs == {"x": {"dtype": "float32", "shape": [None, 64]}}
    assert loaded.outputs["y"]["shape"] == [None, 10]
    for n in (1, 7, 32):  # any batch size runs
        x = np.random.default_rng(n).random((n, 64), dtype=np.float32)
        got = loaded(x=x)["y"]
        np.testing.assert_allclose(got, _expected(model, r.params, x), atol=1e-6, rtol=1e-6)
    if path.is_dir():
        assert {"model.jaxexport", "model.mlir", "params.safetensors", "manifest.json"} <= {
            p.name for p in path.iterdir()}  # fmt: skip
        assert "stablehlo" in (path / "model.mlir").read_text()


def test_fixed_batch_and_input_checks(run, tmp_path):
    model, r = run
    loaded = load_exported(export(model, r.out_dir, tmp_path / "fixed", batch=4))
    x = np.random.default_rng(0).random((4, 64), dtype=np.float32)
    np.testing.assert_allclose(loaded(x=x)["y"], _expected(model, r.params, x), atol=1e-6, rtol=1e-6)
    with pytest.raises(ExportError, match="fixed batch of 4"):
        loaded(x=x[:3])
    with pytest.raises(ExportError, match=r"input 'x'.*expected float32\[batch, 64\]"):
        loaded(x=np.zeros((4, 8), np.float32))
    with pytest.raises(ExportError, match="missing"):
        loaded(z=x)


def test_not_an_export(tmp_path):
    (tmp_path / "junk.zip").write_bytes(b"nope")
    with pytest.raises(ExportError, match="not a seqnet export"):
        load_exported(tmp_path / "junk.zip")


@pytest.mark.parametrize("target", ["again", "again.zip"])
def test_export_replaces_only_an_earlier_export(run, tmp_path, target):
    model, r = run
    first = export(model, r.out_dir, tmp_path / target, batch=2)
    second = export(model, r.out_dir, tmp_path / target)  # an earlier export: replaced
    assert load_exported(second).manifest["batch"] == "symbolic"
    assert first == second


@pytest.mark.parametrize("kind", ["folder", "file", "zip", "run"])
def test_export_never_overwrites_other_things(run, tmp_path, kind):
    """A user's folder, file, foreign zip or the training run itself is left exactly as it was."""
    model, r = run
    if kind == "folder":
        out = tmp_path / "notes"
        out.mkdir()
        (out / "notes.txt").write_text("mine")
    elif kind == "file":
        out = tmp_path / "model.bin"
        out.write_text("mine")
    elif kind == "zip":
        import zipfile

        out = tmp_path / "photos.zip"
        with zipfile.ZipFile(out, "w") as z:
            z.writestr("a.jpg", b"mine")
    else:
        out = Path(r.out_dir)
    before = sorted((p.relative_to(out), p.read_bytes()) for p in out.rglob("*") if p.is_file()) \
        if out.is_dir() else out.read_bytes()  # fmt: skip
    with pytest.raises(ExportError, match="already exists and is not a seqnet export"):
        export(model, r.out_dir, out)
    after = sorted((p.relative_to(out), p.read_bytes()) for p in out.rglob("*") if p.is_file()) \
        if out.is_dir() else out.read_bytes()  # fmt: skip
    assert after == before


def test_exported_token_inputs_check_the_vocabulary(tmp_path):
    import seqnet

    model = seqnet.loads("""
input x : int32[4] vocab 2
output y : float32[2] = dense(mean(embed(x, 4)), 2)
train {
  data = task.parity(4)
  loss = cross_entropy(y, label)
  steps = 2
  batch = 8
}
""")
    r = T.train(model, out=tmp_path / "run", progress=False)
    loaded = load_exported(export(model, r.out_dir, tmp_path / "exp"))
    assert loaded.inputs["x"]["vocab"] == 2
    ok = loaded(x=np.array([[0, 1, 1, 0]], np.int32))["y"]
    assert ok.shape == (1, 2) and np.isfinite(ok).all()
    with pytest.raises(ExportError, match=r"token ids must lie in 0..1, but example 1 holds 5"):
        loaded(x=np.array([[0, 1, 1, 0], [0, 5, 0, 0]], np.int32))
