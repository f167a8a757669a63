"""seqnet's training-step overhead against hand-written JAX, and the persistent compilation cache.

    PYTHONPATH=. python benchmarks/overhead.py [--quick] [--models mlp transformer lstm]
                                               [--steps N] [--no-cache-demo]

For each model the spec is written inline, compiled with `seqnet.load`, and its train step is the
runtime's own: `seqnet.backends.jax.train.Runtime(model, config).train_step()` (the function
`seqnet.train` runs: value_and_grad of the lowered apply + cross-entropy, global grad norm,
accuracy metric, optax adam, jit with the state donated). The hand-written equivalent is plain
jnp with the same math and parameter shapes (initialised from the same values), optax adam, jit
with (params, opt_state) donated, and it returns the same logs (loss, grad_norm, accuracy).

  mlp          784-512-512-10 (relu), batch 256
  transformer  2 pre-norm encoder layers, width 128, 4 heads, ff 512 (exact gelu), seq 64,
               batch 32, mean-pool + layernorm + dense classification head
  lstm         hidden 256, input 256, T = 128, batch 32, many_to_one, dense classification head

Steady-state time: after warm-up, rounds of a few seqnet steps then a few hand-written steps
(interleaved, so drift hits both), each step timed to `block_until_ready`; the table gives the
median ms/step of each, their ratio, and the median of the per-round ratios ("paired"). Trace
and XLA compile times come from `jit(...).lower(...)` and `.compile()` in this process (no
persistent cache here). The cache demo then compiles the seqnet step in two fresh subprocesses
sharing a temporary cache folder set the way `seqnet.train` sets it
(`enable_compilation_cache`: `jax_compilation_cache_dir`, entries kept when compiling took
>= 0.5 s); the second one reads the executable back instead of compiling.

--quick (the smoke test) times only the MLP by default, with fewer steps, and shrinks the other
models when they are asked for (transformer seq 16, lstm T 16); its cache demo uses the MLP.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402

NCLASS = 10

TRAIN = """
train {
  data = npz("data.npz")
  loss = cross_entropy(y, label)
  optimizer = adam(lr=1e-3)
  batch = %(batch)d
  steps = 100
  metrics = [accuracy(y, label)]
}
"""


def sizes(quick: bool) -> dict:
    return {
        "mlp": {"batch": 256, "inp": 784, "hidden": 512},
        "transformer": {"batch": 32, "seq": 16 if quick else 64, "width": 128, "heads": 4},
        "lstm": {"batch": 32, "T": 16 if quick else 128, "inp": 256, "hidden": 256},
    }


# --- the specs -----------------------------------------------------------------------------------


def spec_text(name: str, s: dict) -> str:
    if name == "mlp":
        body = f"""
input x : float32[{s['inp']}]
h = dense(x, {s['hidden']}, act=relu)
h = dense(h, {s['hidden']}, act=relu)
output y : float32[{NCLASS}] = dense(h, {NCLASS})
"""
    elif name == "transformer":
        body = f"""
block encoder_block(x, width, heads) {{
  h = x + attention(layernorm(x), heads=heads)
  return h + dense(dense(layernorm(h), 4 * width, act=gelu), width)
}}

input x : float32[{s['seq']}, {s['width']}]
h = x
h = repeat 2 {{ encoder_block(h, {s['width']}, heads={s['heads']}) }}
output y : float32[{NCLASS}] = dense(mean(layernorm(h)), {NCLASS})
"""
    else:
        body = f"""
input x : float32[{s['T']}, {s['inp']}]
output y : float32[{NCLASS}] = dense(lstm(x, {s['hidden']}, mode=many_to_one), {NCLASS})
"""
    return body + TRAIN % {"batch": s["batch"]}


def x_shape(name: str, s: dict) -> tuple[int, ...]:
    if name == "mlp":
        return (s["inp"],)
    if name == "transformer":
        return (s["seq"], s["width"])
    return (s["T"], s["inp"])


def make_batch(name: str, s: dict, seed: int = 0) -> dict[str, np.ndarray]:
    g = np.random.default_rng(seed)
    return {"x": g.standard_normal((s["batch"], *x_shape(name, s)), dtype=np.float32),
            "label": g.integers(0, NCLASS, s["batch"]).astype(np.int32)}  # fmt: skip


def compile_spec(name: str, s: dict, folder: Path):
    """seqnet.load of the inline spec (written beside a small npz the train section names)."""
    import seqnet

    batch = make_batch(name, s)
    np.savez(folder / "data.npz", **batch, label__vocab=np.int32(NCLASS))
    path = folder / f"{name}.seqnet"
    path.write_text(spec_text(name, s))
    return seqnet.load(path)


def seqnet_step(model):
    """The runtime's jitted, state-donating train step and its initial state."""
    import jax

    from seqnet.backends.jax.train import Runtime, resolve_config

    rt = Runtime(model, resolve_config(model, None, {}))
    params, opt_state = rt.init_state()
    state = (params, opt_state, jax.device_put(np.int32(0), rt.replicated))
    return rt, rt.train_step(), state


# --- the hand-written equivalents ----------------------------------------------------------------


def hand_forward(name: str, s: dict):
    import jax
    import jax.numpy as jnp
    from jax import lax

    def layernorm(x, p):
        mean = x.mean(-1, keepdims=True)
        var = jnp.square(x - mean).mean(-1, keepdims=True)
        return (x - mean) * lax.rsqrt(var + 1e-5) * p["scale"] + p["bias"]

    if name == "mlp":
        def forward(p, x):
            h = jax.nn.relu(x @ p["w1"] + p["b1"])
            h = jax.nn.relu(h @ p["w2"] + p["b2"])
            return h @ p["w3"] + p["b3"]
        return forward

    if name == "transformer":
        heads = s["heads"]

        def attention(x, p):
            b, n, e = x.shape
            d = e // heads
            q = (x @ p["wq"]).reshape(b, n, heads, d)
            k = (x @ p["wk"]).reshape(b, n, heads, d)
            v = (x @ p["wv"]).reshape(b, n, heads, d)
            w = jax.nn.softmax(jnp.einsum("bihd,bjhd->bhij", q, k) / np.sqrt(d), axis=-1)
            return jnp.einsum("bhij,bjhd->bihd", w, v).reshape(b, n, e) @ p["wo"] + p["bo"]

        def forward(p, x):
            h = x
            for layer in p["layers"]:
                h = h + attention(layernorm(h, layer["ln1"]), layer["attn"])
                f = jax.nn.gelu(layernorm(h, layer["ln2"]) @ layer["w1"] + layer["b1"], approximate=False)
                h = h + f @ layer["w2"] + layer["b2"]
            return layernorm(h, p["ln"]).mean(axis=1) @ p["w"] + p["b"]
        return forward

    def forward(p, x):
        hidden = p["wh"].shape[0]
        zs = jnp.swapaxes(x @ p["wx"], 0, 1)  # (T, batch, 4h): input projections in one matmul

        def cell(carry, z):
            h, c = carry
            i, f, g, o = jnp.split(z + h @ p["wh"] + p["b"], 4, axis=-1)
            c = jax.nn.sigmoid(f) * c + jax.nn.sigmoid(i) * jnp.tanh(g)
            h = jax.nn.sigmoid(o) * jnp.tanh(c)
            return (h, c), None

        zero = jnp.zeros((x.shape[0], hidden), x.dtype)
        (h, _), _ = lax.scan(cell, (zero, zero), zs)
        return h @ p["w_out"] + p["b_out"]
    return forward


def hand_params(name: str, sp: dict) -> dict:
    """The hand-written model's parameters, copied from seqnet's tree (same values)."""
    import jax.numpy as jnp

    c = lambda a: jnp.array(a, copy=True)  # noqa: E731  (seqnet's buffers get donated)
    if name == "mlp":
        return {"w1": c(sp["h"]["w"]), "b1": c(sp["h"]["b"]), "w2": c(sp["h_1"]["w"]),
                "b2": c(sp["h_1"]["b"]), "w3": c(sp["y"]["w"]), "b3": c(sp["y"]["b"])}  # fmt: skip
    if name == "transformer":
        ln = lambda p: {"scale": c(p["scale"]), "bias": c(p["bias"])}  # noqa: E731
        layers = []
        for i in sorted(sp["h"], key=int):
            q = sp["h"][i]["encoder_block"]
            layers.append({
                "ln1": ln(q["layernorm"]), "ln2": ln(q["layernorm_1"]),
                "attn": {k: c(v) for k, v in q["attention"].items()},
                "w1": c(q["dense"]["w"]), "b1": c(q["dense"]["b"]),
                "w2": c(q["dense_1"]["w"]), "b2": c(q["dense_1"]["b"]),
            })  # fmt: skip
        return {"layers": layers, "ln": ln(sp["layernorm"]), "w": c(sp["y"]["w"]), "b": c(sp["y"]["b"])}
    lstm = sp["lstm"]
    return {"wx": c(lstm["wx"]), "wh": c(lstm["wh"]), "b": c(lstm["b"]),
            "w_out": c(sp["y"]["w"]), "b_out": c(sp["y"]["b"])}  # fmt: skip


def hand_step(name: str, s: dict, lr: float = 1e-3):
    import jax
    import jax.numpy as jnp
    import optax

    forward = hand_forward(name, s)
    tx = optax.adam(lr)

    def step(state, batch):
        params, opt_state = state

        def objective(p):
            logits = forward(p, batch["x"])
            logp = jax.nn.log_softmax(logits, axis=-1)
            loss = -jnp.take_along_axis(logp, batch["label"][:, None], axis=-1).mean()
            return loss, logits

        (loss, logits), grads = jax.value_and_grad(objective, has_aux=True)(params)
        gnorm = optax.global_norm(grads)
        updates, opt_state = tx.update(grads, opt_state, params)
        params = optax.apply_updates(params, updates)
        acc = (jnp.argmax(logits, -1) == batch["label"]).astype(jnp.float32).mean()
        return (params, opt_state), {"loss": loss, "grad_norm": gnorm, "accuracy": acc}

    return jax.jit(step, donate_argnums=(0,)), tx


# --- measurement ---------------------------------------------------------------------------------


def compile_times(fn, *args) -> tuple[float, float]:
    """(trace + lower seconds, XLA compile seconds) of jitted `fn` on `args` (AOT, not run)."""
    t0 = time.perf_counter()
    lowered = fn.lower(*args)
    t1 = time.perf_counter()
    lowered.compile()
    return t1 - t0, time.perf_counter() - t1


def bench_model(name: str, s: dict, folder: Path, steps: int, per_round: int, warmup: int) -> dict:
    import jax

    model = compile_spec(name, s, folder)
    rt, sq_step, sq_state = seqnet_step(model)
    hw_step, tx = hand_step(name, s)
    hp = hand_params(name, sq_state[0])
    hw_state = (hp, tx.init(hp))
    host = make_batch(name, s, seed=1)
    sq_batch = rt.put_batch(host)
    hw_batch = jax.device_put(host)

    sq_trace, sq_compile = compile_times(sq_step, sq_state, sq_batch)
    hw_trace, hw_compile = compile_times(hw_step, hw_state, hw_batch)

    # First step from identical parameters: the losses must agree (same math).
    sq_state, sq_logs = sq_step(sq_state, sq_batch)
    hw_state, hw_logs = hw_step(hw_state, hw_batch)
    sq_loss, hw_loss = float(sq_logs["loss"]), float(hw_logs["loss"])
    if not np.isclose(sq_loss, hw_loss, rtol=1e-4, atol=1e-5):
        raise SystemExit(f"{name}: seqnet loss {sq_loss} != hand-written loss {hw_loss}: not the same model")
    for _ in range(warmup):
        sq_state, _ = sq_step(sq_state, sq_batch)
        hw_state, _ = hw_step(hw_state, hw_batch)
    jax.block_until_ready((sq_state, hw_state))

    sq_times, hw_times, paired = [], [], []
    while len(sq_times) < steps:
        sq_round, hw_round = [], []
        for _ in range(per_round):
            t = time.perf_counter()
            sq_state, logs = sq_step(sq_state, sq_batch)
            jax.block_until_ready((sq_state, logs))
            sq_round.append(time.perf_counter() - t)
        for _ in range(per_round):
            t = time.perf_counter()
            hw_state, logs = hw_step(hw_state, hw_batch)
            jax.block_until_ready((hw_state, logs))
            hw_round.append(time.perf_counter() - t)
        sq_times += sq_round
        hw_times += hw_round
        paired.append(statistics.median(sq_round) / statistics.median(hw_round))
    sq_ms, hw_ms = statistics.median(sq_times) * 1e3, statistics.median(hw_times) * 1e3
    return {"model": name, "seqnet_ms": sq_ms, "hand_ms": hw_ms, "ratio": sq_ms / hw_ms,
            "paired": statistics.median(paired), "steps": len(sq_times),
            "seqnet_trace_s": sq_trace, "seqnet_compile_s": sq_compile,
            "hand_trace_s": hw_trace, "hand_compile_s": hw_compile,
            "loss_diff": abs(sq_loss - hw_loss)}  # fmt: skip


def describe(name: str, s: dict) -> str:
    if name == "mlp":
        return f"mlp {s['inp']}-{s['hidden']}-{s['hidden']}-{NCLASS} b{s['batch']}"
    if name == "transformer":
        return f"transformer 2x{s['width']} h{s['heads']} n{s['seq']} b{s['batch']}"
    return f"lstm {s['inp']}->{s['hidden']} T{s['T']} b{s['batch']}"


def print_table(rows: list[dict], all_sizes: dict) -> None:
    head = (f"{'model':<30} {'seqnet ms':>9} {'hand ms':>8} {'ratio':>6} {'paired':>6} "
            f"{'sq trace s':>10} {'sq XLA s':>8} {'hw trace s':>10} {'hw XLA s':>8} {'|dloss|':>8}")  # fmt: skip
    print(head)
    print("-" * len(head))
    for r in rows:
        print(f"{describe(r['model'], all_sizes[r['model']]):<30} {r['seqnet_ms']:>9.2f} "
              f"{r['hand_ms']:>8.2f} {r['ratio']:>6.3f} {r['paired']:>6.3f} "
              f"{r['seqnet_trace_s']:>10.3f} {r['seqnet_compile_s']:>8.3f} "
              f"{r['hand_trace_s']:>10.3f} {r['hand_compile_s']:>8.3f} {r['loss_diff']:>8.1e}")  # fmt: skip
    print("ratio seqnet/hand-written (median ms/step): "
          + ", ".join(f"{r['model']} {r['ratio']:.3f}" for r in rows) + " (target <= 1.02)")  # fmt: skip


# --- the persistent compilation cache ------------------------------------------------------------


def cache_child(name: str, quick: bool, cache_dir: str) -> None:
    """One fresh process: enable the cache as seqnet.train does, compile the seqnet step."""
    t = time.perf_counter()
    import jax

    from seqnet.backends.jax.train import enable_compilation_cache

    import_s = time.perf_counter() - t
    enable_compilation_cache(cache_dir)  # what train() calls first (default 0.5 s threshold)
    s = sizes(quick)[name]
    with tempfile.TemporaryDirectory() as d:
        model = compile_spec(name, s, Path(d))
        rt, step, state = seqnet_step(model)
        batch = rt.put_batch(make_batch(name, s))
        trace_s, compile_s = compile_times(step, state, batch)
    print(json.dumps({"import_s": import_s, "trace_s": trace_s, "compile_s": compile_s,
                      "cache_dir": jax.config.jax_compilation_cache_dir}))  # fmt: skip


def cache_demo(name: str, quick: bool) -> None:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    results = []
    with tempfile.TemporaryDirectory() as cache:
        for _ in range(2):
            cmd = [sys.executable, __file__, "--cache-child", name, "--cache-dir", cache]
            cmd += ["--quick"] if quick else []
            out = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=300)
            if out.returncode != 0:
                raise SystemExit(f"cache child failed:\n{out.stderr}")
            results.append(json.loads(out.stdout.strip().splitlines()[-1]))
        entries = sum(1 for p in Path(cache).rglob("*") if p.is_file())
    first, second = results
    print(f"persistent compilation cache, seqnet {name} step, two fresh processes "
          f"({entries} cache entries):")
    print(f"  run 1: trace {first['trace_s']:.3f} s, XLA compile {first['compile_s']:.3f} s")
    print(f"  run 2: trace {second['trace_s']:.3f} s, XLA compile {second['compile_s']:.3f} s "
          f"({first['compile_s'] / max(second['compile_s'], 1e-9):.1f}x faster)")
    if first["compile_s"] < 0.5:
        print("  (run 1 compiled in under 0.5 s, below seqnet's cache threshold: nothing was cached)")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="small models, few steps (smoke test)")
    ap.add_argument("--models", nargs="*", default=None, choices=["mlp", "transformer", "lstm"],
                    help="default: all three (--quick: mlp only)")  # fmt: skip
    ap.add_argument("--steps", type=int, default=None, help="timed steps per side (default 60; quick 10)")
    ap.add_argument("--no-cache-demo", action="store_true")
    ap.add_argument("--cache-model", default=None, help="model of the cache demo (default: transformer)")
    ap.add_argument("--cache-child", default=None, help=argparse.SUPPRESS)
    ap.add_argument("--cache-dir", default=None, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.cache_child:
        cache_child(args.cache_child, args.quick, args.cache_dir)
        return

    import jax

    steps = args.steps or (10 if args.quick else 60)
    per_round = 5
    warmup = 3 if args.quick else 10
    all_sizes = sizes(args.quick)
    cpu = _cpu_name()
    print(f"jax {jax.__version__}, {jax.devices()[0].platform}: {jax.devices()[0].device_kind}; "
          f"{os.cpu_count()} cores ({cpu}); median of {steps} steps each after {warmup} warm-up, "
          f"interleaved in rounds of {per_round}")  # fmt: skip
    models = args.models or (["mlp"] if args.quick else ["mlp", "transformer", "lstm"])
    rows = []
    for name in models:
        with tempfile.TemporaryDirectory() as d:
            rows.append(bench_model(name, all_sizes[name], Path(d), steps, per_round, warmup))
    print()
    print_table(rows, all_sizes)
    if not args.no_cache_demo:
        print()
        cache_demo(args.cache_model or ("mlp" if args.quick else "transformer"), args.quick)


def _cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "unknown cpu"


if __name__ == "__main__":
    main()
