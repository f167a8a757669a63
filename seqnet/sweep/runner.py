"""Running a sweep: every point checked up front by the front end, then each point x seed
trained by its own `seqnet train` process (a crash of one never takes the sweep down; each is
forked from a warm process that has the imports done: launch.py), at most `jobs` at once, into
OUT/<point id>/seed<k>.

Resuming: a finished run is skipped, a half-finished one continues with `--resume`, one that
logged but never checkpointed is retrained with `--overwrite`. The children run in sessions of
their own: the sweep hands each exactly one Ctrl-C (SIGINT, on which train writes a checkpoint)
when it is interrupted or terminated, and on Linux a child also gets it when the sweep is killed
outright, so no orphan keeps training or holds its folder's lock.

OUT/results.jsonl (one record per run), OUT/results.md and OUT/curves.png: report.py."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from seqnet import atomic
from seqnet.backends.jax.runfolder import RunLock
from seqnet.errors import UserError
from seqnet.sweep import report
from seqnet.sweep.launch import Launcher
from seqnet.sweep.points import Point
from seqnet.sweep.runs import FINISHED, Run, final_eval, quantities, read_history

RESULTS, TABLE, CURVES = "results.jsonl", "results.md", "curves.png"
EXIT_OK, EXIT_SOME_FAILED, EXIT_INTERRUPTED = 0, 1, 130


class SweepError(UserError):
    """A sweep that cannot start (its folder, its points)."""


def check_points(spec: Path, points: list[Point], seeds: int, out: Path, say) -> tuple[list[Run], list[dict]]:
    """The runs of the valid points, and an 'invalid' record per seed of each point the front
    end rejects (its diagnostics printed with their locations)."""
    from seqnet.pipeline import compile_path

    runs, invalid = [], []
    for point in points:
        graph, diags, _ = compile_path(spec, dict(point.settings))
        errors = [d for d in diags if d.severity == "error"]
        config = graph.graph.get("train") if graph is not None else None
        if graph is None or errors or config is None:
            first = errors[0].message if errors else f"{spec} has no train section"
            say(f"sweep: point {point.id} ({point.where}) is invalid and is skipped:")
            for d in errors:
                say(d.render())
            invalid += [_record_base(point, k, None) | {"status": "invalid", "error": first}
                        for k in range(seeds)]  # fmt: skip
            continue
        for k in range(seeds):
            runs.append(Run(point, k, int(config.seed) + k, int(config.steps), out / point.id / f"seed{k}"))
    return runs, invalid


def _record_base(point: Point, index: int, seed: int | None) -> dict:
    return {"point": point.id, "settings": point.settings, "seed_index": index, "seed": seed,
            "run": f"{point.id}/seed{index}"}  # fmt: skip


def run_record(run: Run, exit_code: int | None, wall_s: float | None, resumed: bool) -> dict:
    """A run's record, read back from its own metrics.jsonl."""
    last = final_eval(read_history(run.folder))
    ok = exit_code in (0, None) and run.state() == FINISHED
    rec = _record_base(run.point, run.index, run.seed) | {
        "status": "ok" if ok else "failed", "steps": last["step"] if last else None,
        "metrics": quantities(last) if last else {}, "wall_s": None if wall_s is None else round(wall_s, 3),
        "exit": exit_code, "resumed": resumed, "log": str(run.log),
    }  # fmt: skip
    if not ok:
        rec["error"] = _last_line(run.log) or f"seqnet train exited with {exit_code}"
    return rec


def _last_line(log: Path) -> str:
    try:
        lines = [ln.strip() for ln in log.read_text(errors="replace").splitlines() if ln.strip()]
    except OSError:
        return ""
    return lines[-1][:300] if lines else ""


def read_results(out: Path) -> dict[str, dict]:
    path = out / RESULTS
    found = {}
    if path.is_file():
        for line in path.read_text(errors="replace").splitlines():
            try:
                rec = json.loads(line)
            except ValueError:
                continue
            if isinstance(rec, dict) and isinstance(rec.get("run"), str):
                found[rec["run"]] = rec
    return found


def default_jobs() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:
        return max(1, os.cpu_count() or 1)


class Sweep:
    def __init__(self, spec: Path, points: list[Point], seeds: int, out: Path, *, jobs: int | None,
                 resume: bool, say=None):  # fmt: skip
        self.spec, self.points, self.seeds, self.out = Path(spec), points, seeds, Path(out)
        self.jobs, self.resume = jobs, resume
        self.say = say or (lambda text: print(text, file=sys.stderr, flush=True))
        self.records: dict[str, dict] = {}
        self.plan: list[Run] = []
        self._launcher = Launcher()

    def run(self) -> int:
        out = self.out
        if out.exists() and not out.is_dir():
            raise SweepError(f"the sweep folder {out} is a file; choose another with --out DIR")
        if not self.resume and out.is_dir() and any(out.iterdir()):
            raise SweepError(f"{out} holds an earlier sweep (or other files); nothing was changed. "
                             "Continue it with --resume, or sweep into another folder (--out DIR)")  # fmt: skip
        out.mkdir(parents=True, exist_ok=True)
        with RunLock(out):
            try:
                return self._run_locked()
            finally:
                self._launcher.close()

    def _run_locked(self) -> int:
        runs, invalid = check_points(self.spec, self.points, self.seeds, self.out, self.say)
        previous = read_results(self.out) if self.resume else {}
        ours = {r.name for r in runs} | {r["run"] for r in invalid}
        self.records = {k: v for k, v in previous.items() if k not in ours}  # another plan's runs stay
        self.records.update({r["run"]: r for r in invalid})
        todo = []
        for run in runs:
            if run.state() == FINISHED:
                old = previous.get(run.name, {})
                self.records[run.name] = run_record(run, None, old.get("wall_s"), old.get("resumed", False))
            else:
                todo.append(run)
        self.plan = runs
        jobs = max(1, min(self.jobs or default_jobs(), len(todo) or 1))
        skipped = len(runs) - len(todo)
        self.say(f"sweep: {len(self.points)} points x {self.seeds} seeds = {len(runs) + len(invalid)} "
                 f"runs ({len(invalid)} invalid, {skipped} finished earlier, {len(todo)} to run, "
                 f"{jobs} at once)")  # fmt: skip
        self._write()
        status = self._schedule(todo, jobs)
        self._write(plot=status != EXIT_INTERRUPTED)
        self.say(f"sweep: wrote {self.out / RESULTS}, {self.out / TABLE}"
                 + (f", {self.out / CURVES}" if (self.out / CURVES).exists() else ""))  # fmt: skip
        if status == EXIT_INTERRUPTED:
            return status
        return EXIT_OK if all(r["status"] == "ok" for r in self.records.values()) else EXIT_SOME_FAILED

    def _train_args(self, run: Run) -> list[str]:
        sets = [a for k, v in run.point.settings.items() if k != "seed" for a in ("--set", f"{k}={v}")]
        return ["train", str(self.spec), *sets, "--set", f"seed={run.seed}", "--out", str(run.folder),
                "--no-progress", *run.train_flags()]  # fmt: skip

    def _env(self, jobs: int) -> dict[str, str]:
        env = dict(os.environ)
        root = str(Path(__file__).resolve().parents[2])  # the children run this same seqnet
        env["PYTHONPATH"] = os.pathsep.join([root, *filter(None, [env.get("PYTHONPATH")])])
        if jobs > 1:  # GPUs: several processes must not each take most of the memory up front
            env.setdefault("XLA_PYTHON_CLIENT_PREALLOCATE", "false")
        return env

    def _schedule(self, todo: list[Run], jobs: int) -> int:
        env, live, queue = self._env(jobs), {}, list(todo)
        t0, finished = time.perf_counter(), 0
        old_term = signal.signal(signal.SIGTERM, _raise_interrupt) if _main_thread() else None
        try:
            while queue or live:
                while queue and len(live) < jobs:
                    run = queue.pop(0)
                    resumed = "--resume" in run.train_flags()
                    run.folder.parent.mkdir(parents=True, exist_ok=True)
                    args = self._train_args(run)
                    with open(run.log, "ab") as log:
                        log.write(f"$ {' '.join(self._launcher.command(args))}\n".encode())
                    proc = self._launcher.start(args, run.log, env)
                    live[proc] = (run, time.perf_counter(), resumed)
                time.sleep(0.1)
                for proc in [p for p in live if p.poll() is not None]:
                    run, started, resumed = live.pop(proc)
                    rec = run_record(run, proc.returncode, time.perf_counter() - started, resumed)
                    self.records[run.name] = rec
                    finished += 1
                    self._write()
                    if rec["status"] != "ok":
                        self.say(f"sweep: run {run.name} failed (exit {proc.returncode}): {rec['error']}; "
                                 f"its output: {run.log}")  # fmt: skip
                    self._progress(finished, len(queue) + len(live), time.perf_counter() - t0)
        except KeyboardInterrupt:
            self.say(f"sweep: interrupted; stopping {len(live)} run(s) (each writes a checkpoint)")
            _stop(live)
            self.say("sweep: continue it with the same command and --resume")
            return EXIT_INTERRUPTED
        finally:
            if old_term is not None:
                signal.signal(signal.SIGTERM, old_term)
        return EXIT_OK

    def _progress(self, finished: int, left: int, elapsed: float) -> None:
        done = sum(1 for r in self.records.values() if r.get("status") in ("ok", "failed"))
        failed = sum(1 for r in self.records.values() if r.get("status") == "failed")
        total = len(self.plan)
        by_point: dict[str, bool] = {}
        for run in self.plan:
            by_point[run.point.id] = by_point.get(run.point.id, True) and run.name in self.records
        eta = f"eta {_duration(elapsed / finished * left)}" if left else "all done"
        self.say(f"sweep: {done}/{total} runs, {sum(by_point.values())}/{len(by_point)} points done"
                 + (f", {failed} failed" if failed else "") + f"; {eta}")  # fmt: skip

    def _write(self, plot: bool = False) -> None:
        order = {r.name: i for i, r in enumerate(self.plan)}
        records = sorted(self.records.values(), key=lambda r: (order.get(r["run"], len(order)), r["run"]))
        atomic.write_text(self.out / RESULTS, "".join(json.dumps(r) + "\n" for r in records), within=self.out)
        atomic.write_text(self.out / TABLE, report.table(records), within=self.out)
        if plot:
            histories: dict[str, list] = {}
            for run in self.plan:
                if self.records.get(run.name, {}).get("status") == "ok":
                    histories.setdefault(run.point.id, []).append(read_history(run.folder))
            try:
                report.plot_curves(histories, self.out / CURVES)
            except Exception as e:  # a plot is a convenience: never fail a sweep over it
                self.say(f"sweep: warning: could not draw {CURVES}: {e}")


def _raise_interrupt(signum, frame):
    raise KeyboardInterrupt


def _main_thread() -> bool:
    import threading

    return threading.current_thread() is threading.main_thread()


def _stop(live: dict, grace_s: float = 120.0) -> None:
    """One SIGINT to each live child (train checkpoints on it), then wait; kill what hangs."""
    for proc in live:
        try:
            proc.send_signal(signal.SIGINT)
        except OSError:
            pass
    deadline = time.monotonic() + grace_s
    for proc in live:
        try:
            proc.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _duration(seconds: float) -> str:
    seconds = int(round(seconds))
    return f"{seconds // 60}m{seconds % 60:02d}s" if seconds >= 60 else f"{seconds}s"
