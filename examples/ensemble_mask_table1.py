"""Ensemble Mask Networks (Luntzel): Algorithm 1 and Table 1 on a seqnet-compiled model.

    PYTHONPATH=. python examples/ensemble_mask_table1.py                 # n = 5, 10, 20
    PYTHONPATH=. python examples/ensemble_mask_table1.py --n 5 10 20 50 100
    PYTHONPATH=. python examples/ensemble_mask_table1.py --quick         # n = 5, short, < 30 s
    PYTHONPATH=. python examples/ensemble_mask_table1.py --sweep         # the paper's full sweep
    PYTHONPATH=. python examples/ensemble_mask_table1.py --x64           # train/test in float64

The model is specs/ensemble_mask.seqnet compiled with N = n and C = 1: architecture "(1)" of the
paper, h = (A (.) W_1) x, y = W_2 h with W_2 pruned to one weight per node (mask=cluster), no
activations, no biases.

Algorithm 1 (paper section 4), as implemented here:
  * d: |d| = round(36 n^1.3) binary symmetric n x n matrices (diagonal allowed), stratified by
    L1 norm s: round(p(s) |d|) matrices of norm s (largest remainder, so the total is |d|), p(s)
    the share of all binary symmetric matrices having norm s; each one uniform among the matrices
    of that norm. d is stored in the order it is generated (ascending norm).
  * per matrix A of d: k = 8 n vectors x ~ U[0, 1]^n, targets A x; `epochs` passes over those k
    vectors in minibatches of k / 4 (reshuffled each pass), plain SGD, lr 0.1, MSE loss, the first
    layer masked (and scaled) by A; then "merge": first-layer weights of edges that A masks out are
    restored to their values before this matrix (the other layers keep their update).
  * conditions: control (the same d in the same order every meta-epoch), shuffled (d permuted every
    meta-epoch), subsampled (a fresh d every meta-epoch, in generation order).
  * (epochs, meta-epochs): by default the pair Table 1 reports as best for that (n, condition)
    (n not in the paper: (3, 16) for control/shuffled, (2, 8) for subsampled); --sweep runs the
    paper's sweep epochs in {1, 2, 3} x meta-epochs in {1, 2, 4, 8, 16} and reports the minimum,
    which is what Table 1 reports.
  * test: unsymmetric continuous A (seqnet.data.synthetic.matvec with binary=False,
    symmetric=False, sparsity=0.5: A_ij ~ U[0, 1] kept with probability 0.5), x ~ U[0, 1]^n,
    targets in float64; MSE over all outputs. The "floor" column is the test MSE of the exact
    solution (W_1 = 1, W_2 = I: its n stored diagonal weights 1) through the same model in the
    same precision: what rounding alone costs.

The inner loops (all minibatch steps of all matrices of one meta-epoch) are one jitted lax.scan.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

CONDITIONS = ("control", "shuffled", "subsampled")
# Table 1: n -> condition -> (test MSE, (epochs, meta-epochs))
PAPER = {
    5: {"control": (6.36e-14, (1, 16)), "shuffled": (5.32e-14, (3, 16)),
        "subsampled": (0.045, (1, 8))},
    10: {"control": (1.56e-13, (1, 16)), "shuffled": (1.51e-13, (3, 16)),
         "subsampled": (0.052, (2, 8))},
    20: {"control": (4.77e-13, (3, 16)), "shuffled": (1.95e-13, (3, 8)),
         "subsampled": (0.046, (2, 16))},
    40: {"control": (2.065e-12, (2, 8)), "shuffled": (1.98e-12, (1, 8)),
         "subsampled": (0.055, (2, 4))},
    100: {"control": (1.51e-11, (3, 16)), "shuffled": (1.61e-11, (3, 16)),
          "subsampled": (0.16, (2, 1))},
}  # fmt: skip
DEFAULT_PAIR = {"control": (3, 16), "shuffled": (3, 16), "subsampled": (2, 8)}
SWEEP = [(e, m) for e in (1, 2, 3) for m in (1, 2, 4, 8, 16)]


def parse_args(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n", type=int, nargs="+", default=[5, 10, 20])
    ap.add_argument("--conditions", nargs="+", choices=CONDITIONS, default=list(CONDITIONS))
    ap.add_argument(
        "--quick",
        action="store_true",
        help="n = 5, |d| / 4, (epochs, meta-epochs) = (1, 2), 256 test matrices",
    )
    ap.add_argument(
        "--sweep", action="store_true", help="min over the paper's 15 (epochs, meta) pairs"
    )
    ap.add_argument("--epochs", type=int, help="override epochs for every run")
    ap.add_argument("--meta-epochs", type=int, help="override meta-epochs for every run")
    ap.add_argument("--x64", action="store_true", help="float64 params, data and arithmetic")
    ap.add_argument("--test", type=int, default=2000, help="test matrices (one x each)")
    ap.add_argument("--seed", type=int, default=0)
    return ap.parse_args(argv)  # fmt: skip


# --- d: binary symmetric matrices stratified by L1 norm --------------------------------------------


def _log_comb(n, k):
    return math.lgamma(n + 1) - math.lgamma(k + 1) - math.lgamma(n - k + 1)


def sample_d(rng: np.random.Generator, n: int, size: int) -> np.ndarray:
    """`size` binary symmetric n x n matrices, round(p(s) * size) of each L1 norm s."""
    # norm s = a (diagonal ones) + 2 b (off-diagonal pairs), m off-diagonal pairs
    m = n * (n - 1) // 2
    total_log = (n + m) * math.log(2.0)
    smax = n + 2 * m
    # log-weights of (s, a) for every diagonal count a: C(n, a) C(m, b) / 2^(n + m)
    logw = {}
    for a in range(n + 1):
        la = _log_comb(n, a)
        for b in range(m + 1):
            logw.setdefault(a + 2 * b, []).append((a, la + _log_comb(m, b) - total_log))
    ps = np.zeros(smax + 1)
    for s, items in logw.items():
        ps[s] = sum(math.exp(lw) for _, lw in items)
    exact = ps / ps.sum() * size
    counts = np.floor(exact).astype(int)
    rest = size - counts.sum()
    counts[np.argsort(-(exact - counts), kind="stable")[:rest]] += 1  # largest remainder
    iu = np.triu_indices(n, 1)
    out = np.zeros((size, n, n), np.float32)
    r = 0
    for s in np.nonzero(counts)[0]:
        items = logw[s]
        lw = np.array([w for _, w in items])
        pa = np.exp(lw - lw.max())
        pa /= pa.sum()
        for _ in range(counts[s]):
            a = items[rng.choice(len(items), p=pa)][0]
            b = (s - a) // 2
            diag = rng.permutation(n)[:a]
            off = rng.permutation(m)[:b]
            out[r, diag, diag] = 1.0
            out[r, iu[0][off], iu[1][off]] = 1.0
            out[r, iu[1][off], iu[0][off]] = 1.0
            r += 1
    return out


# --- model and training ---------------------------------------------------------------------------


def build(n: int, x64: bool = False):
    """specs/ensemble_mask.seqnet at N = n, C = 1 (float64 inputs and compute under --x64)."""
    import seqnet

    text = (ROOT / "specs" / "ensemble_mask.seqnet").read_text()
    if x64:  # the train block (unused here) ties the inputs to matvec's float32: drop it
        text = text.split("train {")[0].replace("float32", "float64")
    model = seqnet.loads(text, name="ensemble_mask.seqnet", N=n, C=1)
    if not x64:
        return model._jax()
    # model._jax() lowers with compute_dtype="float32": the op rules cast their float arguments
    # and parameters to it, so float64 inputs alone would still compute in float32
    from seqnet.backends.jax.lower import lower

    return lower(model.graph, compute_dtype="float64")


def make_meta_epoch(lowered, n: int, epochs: int, dtype):
    """Jitted: one pass of Algorithm 1's inner loop over the matrices `ds` (M, n, n)."""
    import jax
    import jax.numpy as jnp

    k = 8 * n
    bs = k // 4
    lr = 0.1

    def loss_fn(p, adj, x, t):
        y = lowered.apply(p, {"adj": adj, "x": x})["y"]
        return jnp.mean((y - t) ** 2)

    grad = jax.grad(loss_fn)

    def sgd(p, batch):
        adj, x, t = batch
        g = grad(p, adj, x, t)
        return jax.tree_util.tree_map(lambda w, gw: w - lr * gw, p, g), None

    def per_matrix(p, inp):
        a, key = inp
        kx, kp = jax.random.split(key)
        x = jax.random.uniform(kx, (k, n), dtype)  # rand(k, n, 1)
        t = x @ a.T  # batchmultiply(A, dat)
        prev = p["h"]["w"]  # mask(model): keep the pre-training first layer
        perms = jax.vmap(lambda kk: jax.random.permutation(kk, k))(jax.random.split(kp, epochs))
        idx = perms.reshape(epochs * 4, bs)
        adj = jnp.broadcast_to(a, (bs, n, n))
        p, _ = jax.lax.scan(sgd, p, (jnp.broadcast_to(adj, (epochs * 4, bs, n, n)), x[idx], t[idx]))
        # merge: first-layer edges A masked out return to their pre-training values (h.w is
        # (input node j, output node i), masked by A_ij: the mask is A^T)
        keep = (a.T != 0).reshape(prev.shape)
        p = {**p, "h": {**p["h"], "w": jnp.where(keep, p["h"]["w"], prev)}}
        return p, None

    @jax.jit
    def meta_epoch(p, ds, key):
        keys = jax.random.split(key, ds.shape[0])
        p, _ = jax.lax.scan(per_matrix, p, (ds, keys))
        return p

    return meta_epoch


def test_set(n: int, count: int, seed: int):
    from seqnet.data.synthetic import matvec

    adj = matvec("eval", count, seed, n, 0.5, False, False)["adj"]
    x = np.random.default_rng([seed, n, 7]).random((count, n)).astype(np.float32)
    target = np.einsum("bij,bj->bi", adj.astype(np.float64), x.astype(np.float64))
    return adj, x, target


def test_mse(lowered, p, test, dtype) -> float:
    import jax.numpy as jnp

    adj, x, target = test
    y = lowered.apply(p, {"adj": jnp.asarray(adj, dtype), "x": jnp.asarray(x, dtype)})["y"]
    return float(np.mean((np.asarray(y, np.float64) - target) ** 2))


def run_condition(lowered, n, cond, epochs, metas, size, seed, test, dtype, fns):
    import jax

    if epochs not in fns:
        fns[epochs] = make_meta_epoch(lowered, n, epochs, dtype)
    meta_epoch = fns[epochs]
    rng = np.random.default_rng([seed, n, CONDITIONS.index(cond)])
    key = jax.random.PRNGKey(seed)
    p = jax.tree_util.tree_map(lambda w: w.astype(dtype), lowered.init(key))
    d = sample_d(rng, n, size)
    for i in range(metas):
        if cond == "subsampled" and i > 0:
            d = sample_d(rng, n, size)
        order = rng.permutation(size) if cond == "shuffled" else np.arange(size)
        p = meta_epoch(p, jax.numpy.asarray(d[order], dtype), jax.random.fold_in(key, i + 1))
    return test_mse(lowered, p, test, dtype)


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.x64:
        os.environ["JAX_ENABLE_X64"] = "1"
    import jax
    import jax.numpy as jnp

    if args.x64:
        jax.config.update("jax_enable_x64", True)
    dtype = jnp.float64 if args.x64 else jnp.float32
    ns = [5] if args.quick else args.n
    n_test = 256 if args.quick else args.test
    print(f"precision {'float64' if args.x64 else 'float32'}; architecture (1); SGD lr 0.1; "
          f"k = 8n, batch k/4; test: {n_test} unsymmetric A in [0,1] at sparsity 0.5, x in [0,1]")  # fmt: skip
    header = (f"{'n':>4} {'|d|':>6} {'condition':<11} {'(ep,meta)':>9} {'test MSE':>10} "
              f"{'floor':>9} {'paper':>9} {'paper (ep,meta)':>15} {'time s':>7}")  # fmt: skip
    print(header)
    print("-" * len(header))
    for n in ns:
        lowered = build(n, args.x64)
        size = round(36 * n**1.3)
        if args.quick:
            size //= 4
        test = test_set(n, n_test, args.seed)
        exact = {"h": {"w": jnp.ones((n, n), dtype)}, "y": {"w": jnp.ones((n, 1, 1), dtype)}}
        floor = test_mse(lowered, exact, test, dtype)
        fns: dict = {}
        for cond in args.conditions:
            paper_mse, paper_pair = PAPER.get(n, {}).get(cond, (None, None))
            if args.quick:
                pairs = [(1, 2)]
            elif args.sweep:
                pairs = SWEEP
            else:
                pairs = [paper_pair or DEFAULT_PAIR[cond]]
            pairs = [(args.epochs or e, args.meta_epochs or m) for e, m in pairs]
            t0 = time.perf_counter()
            results = [
                (run_condition(lowered, n, cond, e, m, size, args.seed, test, dtype, fns), (e, m))
                for e, m in pairs
            ]
            mse, (e, m) = min(results)
            dt = time.perf_counter() - t0
            ps = f"{paper_mse:9.3g}" if paper_mse is not None else f"{'-':>9}"
            pp = f"({paper_pair[0]},{paper_pair[1]})" if paper_pair else "-"
            print(f"{n:>4} {size:>6} {cond:<11} {f'({e},{m})':>9} {mse:10.3g} {floor:9.2g} "
                  f"{ps} {pp:>15} {dt:7.1f}", flush=True)  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
