"""Rebuild a docs/results.md table from sweeps' results.jsonl files (no training here).

    PYTHONPATH=. python examples/results_tables.py table1 sweeps/table1/results.jsonl
    PYTHONPATH=. python examples/results_tables.py wormholes sweeps/wormhole_sine/results.jsonl \
        sweeps/wormhole_digits/results.jsonl
    PYTHONPATH=. python examples/results_tables.py match3 sweeps/match3/results.jsonl

table1: the ensemble mask network's Table 1 (section 5), from
    seqnet sweep specs/ensemble_mask.seqnet --points docs/sweeps/ensemble_mask_table1.jsonl ...
one row per (N, condition, epochs, meta-epochs), the float32 and float64 eval mse side by side
(mean over the seeds that finished, with the spread when there are several), Table 1's value.
wormholes: section 3, from one `--set WORMHOLE=true,false --seeds 3` sweep per spec (the sweep's
folder, or a copy's name: docs/sweeps/wormhole_sine_results.jsonl, names its rows); the eval
metric, the wormhole's fixed-point iterations and wall time.
match3: section 4, from `seqnet sweep specs/simplicial_block.seqnet --set BLOCK=...` (with any
other settings: M=28, VIRTUAL=4, examples=200000): the eval accuracy per seed and over seeds, with
each point's parameters (the spec compiled at its settings, not trained).

    PYTHONPATH=. python examples/results_tables.py claims docs/sweeps/fen_tasks.jsonl docs/sweeps/lstm_tasks.jsonl
    PYTHONPATH=. python examples/results_tables.py variants docs/sweeps/fen_variants.jsonl

claims: section 6, FEN local vs FEN end-to-end (a sweep over `mode` of specs/fen_parity.seqnet)
vs the LSTM (specs/lstm_parity.seqnet, a sweep without `mode`): one row per (task, N), eval
accuracy mean ± sample sd over the seeds (the count when fewer than 3), and chance (1 / classes).
variants: one row per point (every setting but the seed): eval accuracy and loss, mean ± sd.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "examples"))


def _cell(values: list[float]) -> str:
    if not values:
        return "-"
    mean = sum(values) / len(values)
    if len(values) < 2:
        return f"{mean:.2g}"
    sd = math.sqrt(sum((v - mean) ** 2 for v in values) / (len(values) - 1))
    return f"{mean:.2g} ± {sd:.1g} ({len(values)} seeds)"


def table1(records: list[dict]) -> str:
    from ensemble_mask_table1 import PAPER

    cells: dict[tuple, dict[str, list[float]]] = {}
    walls: dict[tuple, float] = {}
    for r in records:
        s = r["settings"]
        key = (int(s["N"]), s["condition"], int(s["epochs"]), int(s["meta_epochs"]))
        dtype = s.get("dtype", "float32")
        if r["status"] == "ok":
            cells.setdefault(key, {}).setdefault(dtype, []).append(r["metrics"]["mse"])
            if dtype == "float32":
                walls[key] = walls.get(key, 0.0) + r["wall_s"]
    lines = ["| n | condition | (ep, meta) | test MSE float32 | test MSE float64 | paper (Table 1) | wall s f32 |",
             "|---|---|---|---|---|---|---|"]  # fmt: skip
    for key in sorted(cells, key=lambda k: (k[0], ("control", "shuffled", "subsampled").index(k[1]))):
        n, cond, e, m = key
        paper = PAPER.get(n, {}).get(cond, (None,))[0]
        lines.append(f"| {n} | {cond} | ({e},{m}) | {_cell(cells[key].get('float32', []))} | "
                     f"{_cell(cells[key].get('float64', []))} | {paper if paper is not None else '-'} | "
                     f"{walls.get(key, 0):.0f} |")  # fmt: skip
    return "\n".join(lines)


def _mean_sd(values: list[float], fmt: str) -> str:
    if not values:
        return "-"
    mean = sum(values) / len(values)
    if len(values) < 2:
        return format(mean, fmt)
    sd = math.sqrt(sum((v - mean) ** 2 for v in values) / (len(values) - 1))
    return f"{format(mean, fmt)} ± {format(sd, fmt)}"


def _ok_by_point(records: list[dict]) -> dict[str, list[dict]]:
    """The finished runs of each point, in the order the points first appear, by seed."""
    points: dict[str, list[dict]] = {}
    for r in records:
        points.setdefault(r["point"], [])
        if r["status"] == "ok":
            points[r["point"]].append(r)
    return {p: sorted(rs, key=lambda r: r["seed"]) for p, rs in points.items()}


def wormholes(records: list[dict]) -> str:
    """Section 3: wormhole on and off per spec; mean ± sd over seeds."""
    lines = ["| spec | WORMHOLE | seeds | eval metric | fwd iterations mean (max) | converged | wall s per run |",
             "|---|---|---|---|---|---|---|"]  # fmt: skip
    for (sweep, _point), runs in _ok_by_point(records).items():
        if not runs:
            continue
        metric = "mse" if "mse" in runs[0]["metrics"] else "accuracy"
        fmt = ".4f" if metric == "mse" else ".3f"
        it = [v for r in runs for k, v in r["metrics"].items() if k.endswith("/iterations")]
        top = [v for r in runs for k, v in r["metrics"].items() if k.endswith("/iterations_max")]
        conv = [v for r in runs for k, v in r["metrics"].items() if k.endswith("/converged")]
        iters = f"{_mean_sd(it, '.1f')} ({max(top):.0f})" if it else "-"
        converged = f"{100 * min(conv):.0f} %" if conv else "-"
        lines.append(f"| {sweep} | {runs[0]['settings']['WORMHOLE']} | {len(runs)} | {metric} "
                     f"{_mean_sd([r['metrics'][metric] for r in runs], fmt)} | {iters} | {converged} | "
                     f"{_mean_sd([r['wall_s'] for r in runs], '.0f')} |")  # fmt: skip
    return "\n".join(lines)


MATCH3 = ROOT / "specs" / "simplicial_block.seqnet"
BLOCK_LABELS = {"triple": "2-simplicial, triple product", "trilinear": "2-simplicial, trilinear",
                "attention": "1-simplicial (2 ordinary attentions)"}  # fmt: skip


def match3(records: list[dict]) -> str:
    """Section 4: one row per point (BLOCK and any other setting the sweep set, such as M or
    VIRTUAL), the eval accuracy of each seed and mean ± sd, and the parameters of the spec
    compiled at the point's spec settings (not trained: the train settings are left out)."""
    import seqnet
    from seqnet.compiler.graph import total_params
    from seqnet.compiler.overrides import TRAIN_OVERRIDABLE

    lines = []
    for (_sweep, _point), runs in _ok_by_point(records).items():
        if not runs:
            continue
        settings = runs[0]["settings"]
        block = settings["BLOCK"]
        spec_settings = {k: v for k, v in settings.items() if k not in TRAIN_OVERRIDABLE}
        params = total_params(seqnet.load(MATCH3, **spec_settings).graph)
        shown = "".join(f", {k}={v}" for k, v in settings.items() if k not in ("BLOCK", "eval_batches"))
        accs = [r["metrics"]["accuracy"] for r in runs]
        if not lines:
            seeds = " / ".join(f"s{r['seed']}" for r in runs)
            lines = [f"| block (BLOCK) | params | eval acc ({seeds}) | mean ± sd | eval loss | wall s per run |",
                     "|---|---|---|---|---|---|"]  # fmt: skip
        lines.append(f"| {BLOCK_LABELS.get(block, block)} ({block}{shown}) | {params:,} | "
                     f"{' / '.join(f'{a:.3f}' for a in accs)} | {_mean_sd(accs, '.3f')} | "
                     f"{_mean_sd([r['metrics']['loss'] for r in runs], '.3f')} | "
                     f"{_mean_sd([r['wall_s'] for r in runs], '.0f')} |")  # fmt: skip
    return "\n".join(lines)


CLASSES = {"parity": 2, "sum_mod": 5, "count_mod": 5, "s5": 120}
MODELS = ("FEN local", "FEN end-to-end", "LSTM")


def _seeds(values: list[float]) -> str:
    """mean ± sd over seeds, saying how many where fewer than three finished."""
    few = f" ({len(values)} seed{'s' if len(values) > 1 else ''})" if 0 < len(values) < 3 else ""
    return _mean_sd(values, ".3f") + few


def _model(settings: dict) -> str:
    mode = settings.get("mode")
    if mode is None:
        return "LSTM"
    return "FEN local" if mode == "local" else "FEN end-to-end"


def claims(records: list[dict]) -> str:
    """Section 6: per (task, N), FEN local, FEN end-to-end and the LSTM side by side."""
    acc: dict[tuple, dict[str, list[float]]] = {}
    for r in records:
        if r["status"] != "ok":
            continue
        s = r["settings"]
        key = (list(CLASSES).index(s["TASK"]), int(s["N"]))
        acc.setdefault(key, {}).setdefault(_model(s), []).append(r["metrics"]["accuracy"])
    lines = ["| task | N | chance | " + " | ".join(MODELS) + " |", "|---|---|---|" + "---|" * len(MODELS)]
    for key in sorted(acc):
        task, n = list(CLASSES)[key[0]], key[1]
        cells = " | ".join(_seeds(acc[key].get(m, [])) for m in MODELS)
        lines.append(f"| {task} | {n} | {1 / CLASSES[task]:.3f} | {cells} |")
    return "\n".join(lines)


def variants(records: list[dict]) -> str:
    """One row per point: its settings, eval accuracy and loss over the seeds that finished."""
    lines = ["| settings | eval acc | eval loss |", "|---|---|---|"]
    for point, runs in _ok_by_point(records).items():
        settings = runs[0]["settings"] if runs else {}
        shown = ", ".join(f"{k}={v}" for k, v in settings.items()) or str(point)
        lines.append(f"| {shown} | {_seeds([r['metrics']['accuracy'] for r in runs])} | "
                     f"{_seeds([r['metrics']['loss'] for r in runs])} |")  # fmt: skip
    return "\n".join(lines)


TABLES = {"table1": table1, "wormholes": wormholes, "match3": match3, "claims": claims, "variants": variants}


def sweep_name(path: Path) -> str:
    """A results file's sweep: its folder's name for a sweep's own results.jsonl, else its
    name without `_results` (docs/sweeps/wormhole_sine_results.jsonl: wormhole_sine)."""
    return path.parent.name if path.name == "results.jsonl" else path.stem.removesuffix("_results")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("table", choices=sorted(TABLES))
    ap.add_argument("results", nargs="+", help="sweeps' results.jsonl (a row's sweep: sweep_name)")
    args = ap.parse_args(argv)
    records = []
    for path in map(Path, args.results):
        for line in path.read_text().splitlines():
            if line.strip():
                r = json.loads(line)
                r["point"] = (sweep_name(path), r["point"])
                records.append(r)
    print(TABLES[args.table](records))
    return 0


if __name__ == "__main__":
    sys.exit(main())
