"""2-simplicial attention: seqnet's streamed lowering against a naive einsum, in the same run.

    PYTHONPATH=. python benchmarks/simplicial.py [--n 64 128 256 512 1024] [--variants ...]
                                                 [--batch 2] [--heads 2] [--head-dim 16]

Each variant is one `simplicial_attention` node, compiled from an inline spec with seqnet and
lowered by `seqnet.backends.jax.lower`; the baseline is what a JAX user writes from the formulas
(design/mechanisms.md section 3) with einsum: the same projections and parameters, the whole
(batch, heads, N, S, S) logits, jax.nn.softmax over the pairs, the values contracted as
C = A u, D = sum_j u_j (x) C_j, B : D (triple) or sum_j u_j * (A u2)_j (trilinear), and with
virtual entities B(u_j (x) u_k) once per pair and the same per-example update of the virtual
entities (virtual_mode=paper). Both are checked to agree (float32, relative 1e-4) before timing.

Per N: forward and forward+backward (the gradient of sum(y^2) with respect to the parameters
and x) wall time, the median of interleaved repeats after a warm-up, each to block_until_ready;
and XLA's temporary buffer size (`compiled.memory_analysis().temp_size_in_bytes`) of each
program. Ratios are seqnet / naive (time < 1: faster; memory: naive / seqnet, > 1: less). The
naive one is skipped where its pair tensors alone (batch x heads x N x S x S float32, a few of
them) would pass --naive-limit GB; seqnet still runs there.

Variants: triple and trilinear over all pairs (S = N), trilinear-window (the 2025 form:
j over the last w1 = 64 positions, k over the last w2 = 16; the streamed JAX lowering,
implementation=jax), trilinear-window-pallas (the same with the Pallas kernel,
implementation=pallas: measured only where a GPU is present, reported as skipped otherwise),
triple-virtual (M = 16 virtual entities, paper mode).
"""

from __future__ import annotations

import argparse
import math
import platform
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402

import seqnet  # noqa: E402
from seqnet.backends.jax.lower import lower  # noqa: E402

VARIANTS = {
    "triple": "",
    "trilinear": ", variant=trilinear",
    "trilinear-window": ", variant=trilinear, window=64, window2=16, implementation=jax",
    "trilinear-window-pallas": ", variant=trilinear, window=64, window2=16, implementation=pallas",
    "triple-virtual": ", virtual=16",
}
# Variants that only mean something on a GPU: the Pallas kernel compiles there; on a CPU it
# would run in Pallas interpret mode, which measures the interpreter, not the kernel.
GPU_ONLY = ("trilinear-window-pallas",)


def spec(n: int, width: int, heads: int, head_dim: int, extra: str) -> str:
    return (f"input x : float32[{n}, {width}]\n"
            f"h = simplicial_attention(x, heads={heads}, head_dim={head_dim}{extra})\n"
            f"output y : float32[{n}, {width}] = h\n")  # fmt: skip


# --- the naive einsum baseline -------------------------------------------------------------------


def _split(t, heads):
    return t.reshape(t.shape[:-1] + (heads, -1))


def _sqrt0(square):
    positive = square > 0
    return jnp.where(positive, jnp.sqrt(jnp.where(positive, square, 1.0)), 0.0)


def naive(p, x, heads: int, variant: str, window: int = 0, window2: int = 0, virtual: int = 0):
    b, n = x.shape[:2]
    q = _split(x @ p["wp"], heads)
    d = q.shape[-1]
    entities = x
    if virtual:  # the paper's per-example update, written out
        f = jnp.broadcast_to(p["virtual"], (b,) + p["virtual"].shape)
        qv, kv, vv = (_split(t @ p[w], heads) for t, w in ((f, "vq"), (x, "vk"), (x, "vv")))
        a = jax.nn.softmax(jnp.einsum("bzhd,bjhd->bhzj", qv, kv) / math.sqrt(d), axis=-1)
        att = jnp.einsum("bhzj,bjhd->bzhd", a, vv).reshape(b, virtual, -1)
        entities = f + jnp.concatenate([att, f @ p["wu"]], -1) @ p["vo"]
    l1, l2, u = (_split(entities @ p[w], heads) for w in ("wl1", "wl2", "wu"))
    if variant == "triple":
        pa = jnp.einsum("bihd,bjhd->bhij", q, l1)[..., :, None]
        pb = jnp.einsum("bihd,bkhd->bhik", q, l2)[..., None, :]
        ab = jnp.einsum("bjhd,bkhd->bhjk", l1, l2)[:, :, None]
        pp = jnp.einsum("bihd,bihd->bhi", q, q)[..., None, None]
        aa = jnp.einsum("bjhd,bjhd->bhj", l1, l1)[:, :, None, :, None]
        bb = jnp.einsum("bkhd,bkhd->bhk", l2, l2)[:, :, None, None, :]
        s = _sqrt0(pa**2 * bb + ab**2 * pp + pb**2 * aa - 2 * pa * pb * ab)
    else:
        s = jnp.einsum("bihd,bjhd,bkhd->bhijk", q, l1, l2)
    s = s / math.sqrt(d)
    if window:
        i, j, k = np.arange(n)[:, None, None], np.arange(n)[None, :, None], np.arange(n)[None, None]
        s = jnp.where((j <= i) & (j > i - window) & (k <= i) & (k > i - window2), s, -jnp.inf)
    shape = s.shape
    a = jax.nn.softmax(s.reshape(shape[:3] + (-1,)), axis=-1).reshape(shape)
    if virtual:
        values = jnp.einsum("haec,bjhe,bkhc->bhjka", p["B"], u, u)
        out = jnp.einsum("bhijk,bhjka->biha", a, values)
    elif variant == "triple":
        c = jnp.einsum("bhijk,bkhd->bhijd", a, u)
        dd = jnp.einsum("bhijc,bjhe->bhiec", c, u)
        out = jnp.einsum("haec,bhiec->biha", p["B"], dd)
    else:
        u2 = _split(entities @ p["wu2"], heads)
        out = jnp.einsum("bhijd,bjhd->bihd", jnp.einsum("bhijk,bkhd->bhijd", a, u2), u)
    return out.reshape(b, n, -1) @ p["wo"]


# --- measuring -----------------------------------------------------------------------------------


def _programs(apply):
    def loss(p, x):
        return jnp.sum(apply(p, x) ** 2)

    return jax.jit(apply), jax.jit(jax.grad(loss, argnums=(0, 1)))


def _temp_bytes(fn, *args) -> int:
    return fn.lower(*args).compile().memory_analysis().temp_size_in_bytes


def _time(fns, args, repeats: int) -> list[float]:
    for f in fns:
        jax.block_until_ready(f(*args))
    samples = [[] for _ in fns]
    for _ in range(repeats):
        for f, out in zip(fns, samples, strict=True):
            t = time.perf_counter()
            jax.block_until_ready(f(*args))
            out.append(time.perf_counter() - t)
    return [statistics.median(s) for s in samples]


def measure(name: str, n: int, args) -> dict:
    extra = VARIANTS[name]
    width = args.heads * args.head_dim
    g = seqnet.loads(spec(n, width, args.heads, args.head_dim, extra)).graph
    low = lower(g)
    params = low.init(jax.random.key(0))["h"]
    x = jax.random.normal(jax.random.key(1), (args.batch, n, width), jnp.float32)
    attrs = dict(window=64 if "window" in name else 0, window2=16 if "window" in name else 0,
                 virtual=16 if "virtual" in name else 0)  # fmt: skip
    variant = "trilinear" if name.startswith("trilinear") else "triple"

    def ours(p, x):
        return low.apply({"h": p}, {"x": x})["y"]

    def theirs(p, x):
        return naive(p, x, args.heads, variant, **attrs)

    s = min(n, 64) * min(n, 16) if attrs["window"] else (16 * 16 if attrs["virtual"] else n * n)
    naive_s = 16 * 16 if attrs["virtual"] else n * n  # the naive window masks all N^2 pairs
    naive_bytes = args.batch * args.heads * n * naive_s * 4 * 6
    run_naive = naive_bytes <= args.naive_limit * 2**30
    row = {"variant": name, "n": n}
    ours_f, ours_g = _programs(ours)
    row["mem_fwd"], row["mem_grad"] = _temp_bytes(ours_f, params, x), _temp_bytes(ours_g, params, x)
    repeats = max(3, min(args.repeats, int(1e9 / (args.batch * args.heads * n * s * 8) + 1)))
    if run_naive:
        naive_f, naive_g = _programs(theirs)
        got, want = np.asarray(ours_f(params, x)), np.asarray(naive_f(params, x))
        err = np.linalg.norm(got - want) / np.linalg.norm(want)
        assert err < 1e-4, f"{name} N={n}: seqnet and naive differ by {err:.2e}"
        row["naive_mem_fwd"] = _temp_bytes(naive_f, params, x)
        row["naive_mem_grad"] = _temp_bytes(naive_g, params, x)
        row["fwd"], row["naive_fwd"] = _time([ours_f, naive_f], (params, x), repeats)
        row["grad"], row["naive_grad"] = _time([ours_g, naive_g], (params, x), repeats)
    else:
        row["fwd"], row["grad"] = (t for t in (*_time([ours_f, ours_g], (params, x), 3),))
    return row


def _mb(b) -> str:
    return f"{b / 2**20:.1f}"


HEAD = ("variant", "N", "fwd ms", "naive", "ratio", "fwd+bwd ms", "naive", "ratio",
        "grad temp MB", "naive", "less")  # fmt: skip


def report(rows, header: bool = True) -> None:
    if header:
        print("| " + " | ".join(HEAD) + " |")
        print("|" + "---|" * len(HEAD))
    for r in rows:
        cells = [r["variant"], str(r["n"]), f"{r['fwd'] * 1e3:.1f}"]
        if "naive_fwd" in r:
            cells += [f"{r['naive_fwd'] * 1e3:.1f}", f"{r['fwd'] / r['naive_fwd']:.2f}x",
                      f"{r['grad'] * 1e3:.1f}", f"{r['naive_grad'] * 1e3:.1f}",
                      f"{r['grad'] / r['naive_grad']:.2f}x", _mb(r["mem_grad"]),
                      _mb(r["naive_mem_grad"]), f"{r['naive_mem_grad'] / max(r['mem_grad'], 1):.1f}x"]  # fmt: skip
        else:
            cells += ["-", "-", f"{r['grad'] * 1e3:.1f}", "-", "-", _mb(r["mem_grad"]), "-", "-"]
        print("| " + " | ".join(cells) + " |", flush=True)


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n", type=int, nargs="+", default=[64, 128, 256, 512, 1024])
    ap.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=list(VARIANTS))
    ap.add_argument("--batch", type=int, default=2)
    ap.add_argument("--heads", type=int, default=2)
    ap.add_argument("--head-dim", type=int, default=16)
    ap.add_argument("--repeats", type=int, default=10)
    ap.add_argument("--naive-limit", type=float, default=4.0, help="GB of naive pair tensors")
    ap.add_argument("--max-pairs", type=float, default=0.3,
                    help="skip all-pairs variants above this many G pair elements (time)")
    args = ap.parse_args(argv)
    print(f"# {platform.node()} {platform.processor() or platform.machine()}, "
          f"{jax.devices()[0].device_kind}, jax {jax.__version__}, {time.strftime('%Y-%m-%d')}; "
          f"batch {args.batch}, heads {args.heads}, head_dim {args.head_dim}", flush=True)  # fmt: skip
    rows = []
    for name in args.variants:
        if name in GPU_ONLY and jax.default_backend() != "gpu":
            print(f"# {name}: skipped: no GPU here ({jax.default_backend()}); the Pallas kernel "
                  "is measured compiled on a GPU only (on a CPU it runs in interpret mode, which "
                  "times the interpreter)", flush=True)  # fmt: skip
            continue
        for n in args.n:
            full = not ("window" in name or "virtual" in name)
            if full and args.batch * args.heads * n**3 > args.max_pairs * 1e9:
                print(f"# {name} N={n}: skipped (over --max-pairs)", flush=True)
                continue
            rows.append(measure(name, n, args))
            report(rows[-1:], header=len(rows) == 1)
    print()
    report(rows)


if __name__ == "__main__":
    main()
