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
               batch 32, mean-pool + layernorm + dense classification head; two hand-written
               baselines, both as a good JAX engineer writes them (the residual stream kept as a
               (batch * seq, width) matrix, so every projection is one 2-D matmul): "2-D" with
               q, k, v as three matmuls, and "fused qkv" with one matmul against a stored
               [wq | wk | wv]
  lstm         hidden 256, input 256, T = 128, batch 32, many_to_one, dense classification head

Steady-state time: after warm-up, rounds of a few seqnet steps then a few steps of each
hand-written baseline (interleaved, so drift hits all), each step timed to `block_until_ready`; the table gives the
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

        def attention(h, p, b, n):
            # h: (b * n, e), the residual stream kept flat; every projection is one 2-D matmul
            e = h.shape[-1]
            d = e // heads
            if "wqkv" in p:  # one fused matmul against [wq | wk | wv]
                q, k, v = jnp.split(h @ p["wqkv"], 3, axis=-1)
            else:
                q, k, v = h @ p["wq"], h @ p["wk"], h @ p["wv"]
            q, k, v = (t.reshape(b, n, heads, d) for t in (q, k, v))
            w = jax.nn.softmax(jnp.einsum("bihd,bjhd->bhij", q, k) / np.sqrt(d), axis=-1)
            return jnp.einsum("bhij,bjhd->bihd", w, v).reshape(b * n, e) @ p["wo"] + p["bo"]

        def forward(p, x):
            b, n, e = x.shape
            h = x.reshape(b * n, e)
            for layer in p["layers"]:
                h = h + attention(layernorm(h, layer["ln1"]), layer["attn"], b, n)
                f = jax.nn.gelu(layernorm(h, layer["ln2"]) @ layer["w1"] + layer["b1"], approximate=False)
                h = h + f @ layer["w2"] + layer["b2"]
            return layernorm(h, p["ln"]).reshape(b, n, e).mean(axis=1) @ p["w"] + p["b"]
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


def hand_params(name: str, sp: dict, variant: str) -> dict:
    """The hand-written model's parameters, copied from seqnet's tree (same values); the fused-qkv
    transformer stores [wq | wk | wv] as one array, concatenated once here."""
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
                "attn": hand_attention_params(q["attention"], variant),
                "w1": c(q["dense"]["w"]), "b1": c(q["dense"]["b"]),
                "w2": c(q["dense_1"]["w"]), "b2": c(q["dense_1"]["b"]),
            })  # fmt: skip
        return {"layers": layers, "ln": ln(sp["layernorm"]), "w": c(sp["y"]["w"]), "b": c(sp["y"]["b"])}
    lstm = sp["lstm"]
    return {"wx": c(lstm["wx"]), "wh": c(lstm["wh"]), "b": c(lstm["b"]),
            "w_out": c(sp["y"]["w"]), "b_out": c(sp["y"]["b"])}  # fmt: skip


def hand_attention_params(a: dict, variant: str) -> dict:
    import jax.numpy as jnp

    if variant != "fused qkv":
        return {k: jnp.array(v, copy=True) for k, v in a.items()}
    return {"wqkv": jnp.concatenate([a["wq"], a["wk"], a["wv"]], axis=1),
            "wo": jnp.array(a["wo"], copy=True), "bo": jnp.array(a["bo"], copy=True)}  # fmt: skip


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


# The hand-written baselines of each model: for the transformer, the residual stream kept flat so
# that every projection is a 2-D matmul (what a good JAX engineer writes), with q, k, v as three
# matmuls and as one fused matmul against a stored [wq | wk | wv]. Every baseline is timed in the
# same run, interleaved with seqnet.
BASELINES = {"mlp": ("plain",), "transformer": ("2-D", "fused qkv"), "lstm": ("plain",)}


def _timed(step, state, batch):
    import jax

    t = time.perf_counter()
    state, logs = step(state, batch)
    jax.block_until_ready((state, logs))
    return state, time.perf_counter() - t


def bench_model(name: str, s: dict, folder: Path, steps: int, per_round: int, warmup: int) -> list[dict]:
    """One row per hand-written baseline of `name`, all measured in one interleaved loop."""
    import jax

    model = compile_spec(name, s, folder)
    rt, sq_step, sq_state = seqnet_step(model)
    host = make_batch(name, s, seed=1)
    sq_batch = rt.put_batch(host)
    hw_batch = jax.device_put(host)
    sq_trace, sq_compile = compile_times(sq_step, sq_state, sq_batch)

    hands = {}
    for variant in BASELINES[name]:
        hw_step, tx = hand_step(name, s)
        hp = hand_params(name, sq_state[0], variant)
        hw_state = (hp, tx.init(hp))
        hands[variant] = {"step": hw_step, "state": hw_state, "times": [], "paired": [],
                          "compile": compile_times(hw_step, hw_state, hw_batch)}  # fmt: skip

    # First step from identical parameters: the losses must agree (same math).
    sq_state, sq_logs = sq_step(sq_state, sq_batch)
    sq_loss = float(sq_logs["loss"])
    for variant, h in hands.items():
        h["state"], hw_logs = h["step"](h["state"], hw_batch)
        h["loss_diff"] = abs(sq_loss - float(hw_logs["loss"]))
        if not np.isclose(sq_loss, float(hw_logs["loss"]), rtol=1e-4, atol=1e-5):
            raise SystemExit(f"{name} ({variant}): seqnet loss {sq_loss} != hand-written loss "
                             f"{float(hw_logs['loss'])}: not the same model")  # fmt: skip
    for _ in range(warmup):
        sq_state, _ = sq_step(sq_state, sq_batch)
        for h in hands.values():
            h["state"], _ = h["step"](h["state"], hw_batch)
    jax.block_until_ready((sq_state, [h["state"] for h in hands.values()]))

    sq_times = []
    while len(sq_times) < steps:
        sq_round = []
        for _ in range(per_round):
            sq_state, t = _timed(sq_step, sq_state, sq_batch)
            sq_round.append(t)
        sq_times += sq_round
        for h in hands.values():
            hw_round = []
            for _ in range(per_round):
                h["state"], t = _timed(h["step"], h["state"], hw_batch)
                hw_round.append(t)
            h["times"] += hw_round
            h["paired"].append(statistics.median(sq_round) / statistics.median(hw_round))
    sq_ms = statistics.median(sq_times) * 1e3
    rows = []
    for variant, h in hands.items():
        hw_ms = statistics.median(h["times"]) * 1e3
        rows.append({"model": name, "baseline": variant, "seqnet_ms": sq_ms, "hand_ms": hw_ms,
                     "ratio": sq_ms / hw_ms, "paired": statistics.median(h["paired"]),
                     "steps": len(sq_times), "seqnet_trace_s": sq_trace, "seqnet_compile_s": sq_compile,
                     "hand_trace_s": h["compile"][0], "hand_compile_s": h["compile"][1],
                     "loss_diff": h["loss_diff"]})  # fmt: skip
    return rows


def describe(row: dict, s: dict) -> str:
    name = row["model"]
    if name == "mlp":
        return f"mlp {s['inp']}-{s['hidden']}-{s['hidden']}-{NCLASS} b{s['batch']}"
    if name == "transformer":
        return f"transformer 2x{s['width']} h{s['heads']} n{s['seq']} b{s['batch']}, {row['baseline']}"
    return f"lstm {s['inp']}->{s['hidden']} T{s['T']} b{s['batch']}"


def _ratio_text(rows: list[dict], model: str) -> str:
    mine = [r for r in rows if r["model"] == model]
    if len(mine) == 1:
        return f"{model} {mine[0]['ratio']:.3f}"
    return f"{model} " + " / ".join(f"{r['ratio']:.3f} ({r['baseline']})" for r in mine)


def print_table(rows: list[dict], all_sizes: dict) -> None:
    head = (f"{'model, baseline':<42} {'seqnet ms':>9} {'hand ms':>8} {'ratio':>6} {'paired':>6} "
            f"{'sq trace s':>10} {'sq XLA s':>8} {'hw trace s':>10} {'hw XLA s':>8} {'|dloss|':>8}")  # fmt: skip
    print(head)
    print("-" * len(head))
    for r in rows:
        print(f"{describe(r, all_sizes[r['model']]):<42} {r['seqnet_ms']:>9.2f} "
              f"{r['hand_ms']:>8.2f} {r['ratio']:>6.3f} {r['paired']:>6.3f} "
              f"{r['seqnet_trace_s']:>10.3f} {r['seqnet_compile_s']:>8.3f} "
              f"{r['hand_trace_s']:>10.3f} {r['hand_compile_s']:>8.3f} {r['loss_diff']:>8.1e}")  # fmt: skip
    models = list(dict.fromkeys(r["model"] for r in rows))
    print("ratio seqnet/hand-written (median ms/step): "
          + ", ".join(_ratio_text(rows, m) for m in models) + " (target <= 1.02)")  # fmt: skip


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
            rows += bench_model(name, all_sizes[name], Path(d), steps, per_round, warmup)
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
