"""Step time and per-device memory of one transformer trained replicated, with fsdp, and tensor
parallel, in the same run on the same devices.

    PYTHONPATH=. python benchmarks/sharding.py [--quick] [--devices 8] [--width 256] [--steps 20]

Without accelerators the run re-executes itself on `--devices` forced host devices (XLA's
--xla_force_host_platform_device_count); on GPUs it uses the GPUs (all the layouts need at least
4 devices for model=4). The three layouts, each the runtime's own train step
(`Runtime(model, config).train_step()`, state donated):

  replicated  mesh(data=D): every device holds all parameters and adam's state
  fsdp        mesh(data=D), sharding(fsdp=data, fsdp_min=0): each holds about 1/D of them
  tensor      mesh(data=D/4, model=4), attention by heads, dense layers by columns

Per device: the parameters and optimiser state it holds (its addressable shards), and the
compiled step's argument and temporary bytes (XLA's memory_analysis). Step time: the median of
`--steps` steps after two warm-up steps, each timed to block_until_ready. Ratios are against the
replicated layout of the same run. Host devices share the CPU cores, so their step times say
how the layouts' communication adds up, not how a GPU cluster would scale.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

SPEC = """dim N = {seq}
dim E = {width}
input x : int32[N] vocab 16
block layer(h) {{
  h = h + attention(layernorm(h), heads=4)
  return h + dense(dense(layernorm(h), 4 * E, act=gelu), E)
}}
h = embed(x, E)
h = repeat 2 {{ layer(h) }}
output y : float32[N, 16] = dense(layernorm(h), 16)
train {{
  data = task.sort(N, vocab=16)
  loss = cross_entropy(y, target)
  optimizer = adam(lr=1e-3)
  batch = {batch}
  mesh = mesh({mesh})
  sharding = sharding({rules})
}}
"""

LAYOUTS = {
    "replicated": ("data={d}", ""),
    "fsdp": ("data={d}", "fsdp=data, fsdp_min=0"),
    "tensor": ("data={dm}, model=4", "dense=columns(model), attention=heads(model), nodes=nodes(y=replicated)"),
}


def measure(layout: str, args, devices: int) -> dict:
    import jax
    import numpy as np

    import seqnet
    from seqnet.backends.jax.runtime import Runtime

    mesh, rules = LAYOUTS[layout]
    text = SPEC.format(seq=args.seq, width=args.width, batch=args.batch, rules=rules,
                       mesh=mesh.format(d=devices, dm=devices // 4))  # fmt: skip
    model = seqnet.loads(text)
    rt = Runtime(model, model.train_config)
    params, opt = rt.init_state()
    held = rt.placements.per_device_bytes(params), rt.placements.per_device_bytes(opt)
    state = (params, opt, jax.device_put(np.int32(0), rt.replicated))
    arrays = rt.load_split("train", args.batch)
    batch = rt.put_batch({k: v[: args.batch] for k, v in arrays.items()})
    compiled = rt.train_step().lower(state, batch).compile()
    memory = compiled.memory_analysis()
    times = []
    for i in range(args.steps + 2):
        t0 = time.perf_counter()
        state, logs = compiled(state, batch)
        jax.block_until_ready(logs)
        if i >= 2:
            times.append(time.perf_counter() - t0)
    return {"params": held[0], "opt": held[1], "args": memory.argument_size_in_bytes,
            "temp": memory.temp_size_in_bytes, "ms": 1e3 * statistics.median(times),
            "loss": float(logs["loss"])}  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="a small model and few steps (the smoke test)")
    ap.add_argument("--devices", type=int, default=8, help="forced host devices when there is no accelerator")
    ap.add_argument("--width", type=int, default=256)
    ap.add_argument("--seq", type=int, default=32)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--steps", type=int, default=20)
    args = ap.parse_args()
    if args.quick:
        args.width, args.seq, args.batch, args.steps = 32, 8, 16, 3
    if "SEQNET_SHARDING_BENCH_CHILD" not in os.environ and not _has_accelerator():
        env = {**os.environ, "SEQNET_SHARDING_BENCH_CHILD": "1", "JAX_PLATFORMS": "cpu",
               "XLA_FLAGS": f"--xla_force_host_platform_device_count={args.devices}"}  # fmt: skip
        sys.exit(subprocess.run([sys.executable, *sys.argv], env=env).returncode)
    import jax

    devices = jax.device_count()
    if devices < 4 or devices % 4:
        sys.exit(f"the tensor-parallel layout needs a multiple of 4 devices; there are {devices}")
    print(f"{devices} {jax.devices()[0].platform} devices; transformer width {args.width}, seq {args.seq}, "
          f"batch {args.batch}, 2 layers")  # fmt: skip
    results = {name: measure(name, args, devices) for name in LAYOUTS}
    base = results["replicated"]
    print(f"{'layout':<11} {'params/dev':>11} {'adam/dev':>10} {'step args':>10} {'temp':>10} {'ms/step':>8}"
          f"  ratios vs replicated (params, step args, ms)")  # fmt: skip
    for name, r in results.items():
        print(f"{name:<11} {r['params']:>11,} {r['opt']:>10,} {r['args']:>10,} {r['temp']:>10,} {r['ms']:>8.2f}"
              f"  {r['params'] / base['params']:.3f} {r['args'] / base['args']:.3f} {r['ms'] / base['ms']:.2f}")  # fmt: skip
    spread = max(r["loss"] for r in results.values()) - min(r["loss"] for r in results.values())
    print(f"final losses agree within {spread:.2e}")


def _has_accelerator() -> bool:
    try:
        out = subprocess.run([sys.executable, "-c", "import jax; print(jax.default_backend())"],
                             capture_output=True, text=True, timeout=120)  # fmt: skip
    except (OSError, subprocess.SubprocessError):
        return False
    return out.stdout.strip() in ("gpu", "cuda", "rocm", "tpu")


if __name__ == "__main__":
    main()
