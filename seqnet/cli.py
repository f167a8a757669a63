"""The `seqnet` command line: options in, API calls, exit codes out (0 ok, 1 spec errors, 2 usage)."""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
from pathlib import Path

from seqnet.cli_types import count, host_port, temperature
from seqnet.collector import exit_now, off_until_exit

EXIT_OK, EXIT_SPEC, EXIT_USAGE, EXIT_INTERNAL = 0, 1, 2, 3
RUNS_XLA = {"train", "sweep", "eval", "predict", "generate"}  # the commands that run XLA programs


class UsageError(Exception):
    pass


def _overrides(values: list[str] | None) -> dict[str, str]:
    out = {}
    for item in values or []:
        name, sep, value = item.partition("=")
        if not sep or not name.strip() or not name.strip().isidentifier():
            raise UsageError(f"--set expects NAME=VALUE, got {item!r}")
        out[name.strip()] = value.strip()
    return out


def _print_diags(diags, as_json: bool, stream=None) -> None:
    stream = stream or sys.stderr
    if as_json:
        return
    for d in diags:
        print(d.render(), file=stream)
        print(file=stream)


def _compile(path: str, args):
    from seqnet.pipeline import compile_path

    return compile_path(Path(path), _overrides(args.set))


def cmd_check(args) -> int:
    if args.emit:
        return _emit(args)
    status = EXIT_OK
    report = []
    for path in args.files:
        graph, diags, _ = _compile(path, args)
        errors = [d for d in diags if d.severity == "error"]
        if graph is None or errors:
            status = EXIT_SPEC
        _print_diags(diags, args.json)
        report.append({"file": path, "ok": graph is not None, "diagnostics": [d.to_json() for d in diags]})
        if not args.json and not args.quiet:
            if graph is not None:
                warn = [d for d in diags if d.severity == "warning"]
                extra = f" ({len(warn)} warning{'s' if len(warn) != 1 else ''})" if warn else ""
                print(f"{path}: ok, {graph.number_of_nodes()} nodes{extra}")
            else:
                n = len(errors)
                print(f"{path}: {n} error{'s' if n != 1 else ''}", file=sys.stderr)
    if args.json:
        print(json.dumps(report if len(report) > 1 else report[0], indent=2))
    return status


def _emit(args) -> int:
    from seqnet import emit
    from seqnet.pipeline import run

    if len(args.files) != 1:
        raise UsageError("--emit takes one file")
    stage, show = emit.EMITTERS[args.emit]
    c = run(Path(args.files[0]), until=stage, overrides=_overrides(args.set))
    _print_diags(c.diagnostics, False)
    text = show(c)
    if text is None:
        return EXIT_SPEC
    print(text, end="")
    return EXIT_OK


def cmd_explain(args) -> int:
    from seqnet.codes import CODES, explain

    text = explain(args.code)
    if text is None:
        import difflib

        near = difflib.get_close_matches(args.code.upper(), CODES, n=1)
        hint = f" (did you mean {near[0]}?)" if near else ""
        raise UsageError(f"unknown diagnostic code {args.code!r}{hint}; codes: {', '.join(CODES)}")
    print(text, end="")
    return EXIT_OK


def cmd_lsp(args) -> int:
    try:
        from seqnet.lsp.server import main
    except ImportError as e:  # pygls and lsprotocol are the optional `lsp` extra
        raise UsageError(f"the language server needs pygls and lsprotocol ({e}); "
                         "install them with: pip install 'seqnet[lsp]'") from None  # fmt: skip
    return main()


def cmd_fmt(args) -> int:
    from seqnet.grammar.format import format_module
    from seqnet.grammar.parser import parse
    from seqnet.pipeline import read_source

    status = EXIT_OK
    for path in args.files:
        source, err = read_source(Path(path), path)
        if err is not None:
            _print_diags([err], False)
            status = EXIT_SPEC
            continue
        module, diags = parse(source)
        if module is None:
            _print_diags(diags, False)
            status = EXIT_SPEC
            continue
        text = format_module(module)
        if args.stdout:  # the formatted text, changed or not
            sys.stdout.write(text)
        elif text == source.text:
            continue
        elif args.check:
            print(f"{path}: would be reformatted", file=sys.stderr)
            status = EXIT_SPEC
        else:
            from seqnet.atomic import write_text

            try:
                write_text(Path(path), text)
            except OSError as e:  # one file that cannot be written does not stop the others
                print(f"seqnet: error: {e}", file=sys.stderr)
                status = EXIT_SPEC
                continue
            print(f"{path}: formatted")
    return status


def cmd_summary(args) -> int:
    graph, diags, _ = _compile(args.file, args)
    _print_diags(diags, args.json)
    if graph is None:
        return EXIT_SPEC
    from seqnet.compiler.summary import per_device, summarize, summary_table

    data = summarize(graph)
    if args.devices is not None:
        problem = per_device(graph, data, args.devices)
        if problem is not None:
            print(f"seqnet summary: {problem}", file=sys.stderr)
            return EXIT_USAGE if problem.startswith("--devices") else EXIT_SPEC
    if args.xla:
        from seqnet.backends.jax.xla_check import xla_cross_check

        data["xla"] = xla_cross_check(graph)
    if args.json:
        print(json.dumps(data, indent=2))
    else:
        print(summary_table(data))
        if args.xla:
            x = data["xla"]
            print(f"XLA check (batch 1): FLOPs {x['xla_flops']:,.0f} vs registry {x['registry_flops']:,} "
                  f"(ratio {x['ratio']:.2f}); temp memory {x.get('temp_bytes', 0):,} B")  # fmt: skip
            if x.get("note"):
                print(f"  note: {x['note']}")
    return EXIT_OK


RENDER_SUFFIXES = (".svg", ".png", ".pdf", ".dot", ".gv", ".html")


def cmd_render(args) -> int:
    if Path(args.output).suffix.lower() not in RENDER_SUFFIXES:
        raise UsageError(f"cannot tell the format of {args.output!r}: end it in "
                         + ", ".join(RENDER_SUFFIXES))  # fmt: skip
    graph, diags, _ = _compile(args.file, args)
    _print_diags(diags, False)
    if graph is None:
        return EXIT_SPEC
    import subprocess

    from seqnet.backends.graphviz import DotMissing, render

    options = dict(rankdir=args.rankdir, depth=args.depth, show_shapes=not args.no_shapes,
                   resolve_dims=args.resolve_dims, theme=args.theme)  # fmt: skip
    if args.show_segments:
        options["show_segments"] = True
    if args.unroll:
        options["unroll"] = args.unroll
    if args.color_by != "family":
        if Path(args.output).suffix.lower() == ".html":
            print("seqnet render: --color-by sharding draws .svg .png .pdf .dot; the .html page "
                  "colours by op family", file=sys.stderr)  # fmt: skip
            return EXIT_USAGE
        options["color_by"] = args.color_by
    if Path(args.output).suffix.lower() == ".html":  # the interactive page: no graphviz needed
        from seqnet.backends.viewer import write_html

        print(f"wrote {write_html(graph, Path(args.output), **options)}")
        return EXIT_OK
    try:
        out = render(graph, Path(args.output), **options)
    except DotMissing as e:
        print(f"seqnet: {e}", file=sys.stderr)
        return EXIT_USAGE
    except subprocess.CalledProcessError as e:  # graphviz itself failed (or crashed)
        err = (e.stderr or b"").decode(errors="replace").strip().splitlines()
        print(f"seqnet: error: graphviz `dot` failed (exit {e.returncode})"
              + (f": {err[-1]}" if err else "")
              + "\n  hint: try --depth 1 to collapse blocks, or write .dot and lay it out yourself",
              file=sys.stderr)  # fmt: skip
        return EXIT_SPEC
    print(f"wrote {out}")
    return EXIT_OK


def _model(args):
    from seqnet.model import Model

    graph, diags, _ = _compile(args.file, args)
    _print_diags(diags, False)
    if graph is None:
        return None
    return Model(graph, diags, Path(args.file))


def cmd_train(args) -> int:
    model = _model(args)
    if model is None:
        return EXIT_SPEC
    if model.train_config is None:
        from seqnet.errors import Diagnostic

        print(Diagnostic("SQN0110", f"{args.file} has no train section: nothing says how to train it",
                         None, hint="add a section: 'train {', then 'data = ...', 'loss = ...' and "
                         "any other settings one per line, then '}' (docs/language.md)").render(),
              file=sys.stderr)  # fmt: skip
        return EXIT_SPEC
    if args.distributed or args.coordinator:
        _start_distributed(args, model)
    from seqnet.backends.jax.train import train

    if args.out is not None and not args.out.strip():
        raise UsageError("--out needs a folder name (an empty one would write into the current folder)")
    if args.resume and args.overwrite:
        raise UsageError("--resume continues the run in --out, --overwrite replaces it: pick one")
    try:
        result = train(model, out=args.out, resume=args.resume, progress=not args.no_progress,
                       overwrite=args.overwrite)  # fmt: skip
    except Exception as e:
        from seqnet.backends.jax.cluster import PeerLost, leave

        if not isinstance(e, PeerLost):
            raise
        print(f"seqnet: error: {e}", file=sys.stderr)
        leave(EXIT_SPEC)  # not through jax.distributed's shutdown, which waits for the dead peer
    print(train_report(result))
    for path in (result.checkpoint, result.metrics_path, result.plot_path):
        if path and result.step > result.start_step:
            print(f"  wrote {path}")
    return EXIT_OK


def train_report(result) -> str:
    """One line on what a train call did: the steps it ran, how fast, the final evaluation."""
    metrics = ", ".join(f"{k} {v:.4f}" for k, v in result.metrics.items())
    ran = result.step - result.start_step
    if ran == 0 and result.step == 0:
        return f"steps = 0: nothing to train; eval: {metrics}"
    if ran == 0:
        return f"the run is already at step {result.step}: nothing to train; eval: {metrics}"
    steps = f"steps {result.start_step}-{result.step}" if result.start_step else f"{ran} steps"
    speed = f", then {result.steps_per_s:,.0f} steps/s" if result.steps_per_s else ""
    return f"trained {steps} in {result.wall_s:.1f} s (compiling included{speed}); eval: {metrics}"


def _start_distributed(args, model) -> None:
    """Multi-host training: every host runs the same `seqnet train` with its --process-id. With
    --coordinator, the processes first meet in seqnet's own handshake (rendezvous.py), which
    refuses two processes with one id, or with different settings, before JAX would hang."""
    if args.coordinator:
        if args.num_processes is None or args.process_id is None:
            raise UsageError("--coordinator needs --num-processes and --process-id")
        if args.process_id >= args.num_processes:
            raise UsageError(f"--process-id {args.process_id} is not one of the {args.num_processes} "
                             f"processes (0 to {args.num_processes - 1})")  # fmt: skip
    from seqnet.backends.jax import cluster

    cluster.start(args.coordinator, args.num_processes, args.process_id, _what_runs(args, model),
                  join_timeout_s=args.join_timeout, heartbeat_s=args.heartbeat_timeout)  # fmt: skip


def _what_runs(args, model) -> tuple[dict, str]:
    """What every process of a multi-host run must agree on: the train settings with the --set
    options given, and the spec file's hash."""
    sets = {f"--set {k}": v for k, v in _overrides(args.set).items()}
    settings = {**model.train_config.model_dump(mode="json"), **sets}
    return settings, hashlib.sha256(Path(args.file).read_bytes()).hexdigest()


def cmd_eval(args) -> int:
    model = _model(args)
    if model is None:
        return EXIT_SPEC
    from seqnet.backends.jax.train import evaluate

    metrics = evaluate(model, args.checkpoint)
    print(json.dumps(metrics, indent=2))
    return EXIT_OK


def cmd_predict(args) -> int:
    model = _model(args)
    if model is None:
        return EXIT_SPEC
    from seqnet.backends.jax import wormhole_report
    from seqnet.backends.jax.train import predict

    outputs, stats = predict(model, args.checkpoint, args.input, args.output,
                             allow_nonfinite=args.allow_nonfinite, with_stats=True)  # fmt: skip
    shapes = ", ".join(f"{k}: {v.dtype}{list(v.shape)}" for k, v in outputs.items())
    print(f"wrote {args.output} ({shapes})")
    lines = wormhole_report.summary_lines(wormhole_report.summary(stats, model.graph))
    if lines:  # how each wormhole's fixed point went on these inputs
        print("\n".join(lines))
    return EXIT_OK


def cmd_generate(args) -> int:
    model = _model(args)
    if model is None:
        return EXIT_SPEC
    from seqnet.backends.jax.generate import generate_ids, plan, text_codec

    plan(model)  # not an autoregressive spec: say so before reading the checkpoint
    encode, decode = text_codec(model)
    params = model.load_checkpoint(args.checkpoint)
    out = generate_ids(model, params, encode(args.prompt), args.steps, temperature=args.temperature,
                       top_k=args.top_k, seed=args.seed)  # fmt: skip
    if not out.cached:
        print("seqnet: generating uncached (the window is re-run for every token): "
              + "; ".join(map(str, out.refusals)), file=sys.stderr)  # fmt: skip
    print(args.prompt + decode(out.new))
    return EXIT_OK


def cmd_export(args) -> int:
    model = _model(args)
    if model is None:
        return EXIT_SPEC
    from seqnet.backends.jax.export import export

    out = export(model, args.checkpoint, args.output, batch=args.batch)
    print(f"wrote {out}")
    return EXIT_OK


def cmd_sweep(args) -> int:
    from seqnet.sweep.points import PointsError, grid, read_points
    from seqnet.sweep.runner import Sweep

    if not args.out.strip():
        raise UsageError("--out needs a folder name")
    if args.points and args.set:
        raise UsageError("give the points as --set lists or as a --points file, not both")
    if args.seeds > 1 and any(s.partition("=")[0].strip() == "seed" for s in args.set or []):
        raise UsageError("--set seed=... with --seeds: the seeds are the point's seed + 0..N-1; "
                         "give one of them")  # fmt: skip
    try:
        points = read_points(args.points) if args.points else grid(args.set)
    except PointsError as e:
        if args.points:
            raise
        raise UsageError(str(e)) from None
    return Sweep(Path(args.file), points, args.seeds, Path(args.out), jobs=args.jobs,
                 resume=args.resume).run()  # fmt: skip


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="seqnet", description="Check, draw, compile and train sequence-model specs.")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True

    def with_set(sp):
        sp.add_argument("--set", action="append", metavar="NAME=VALUE",
                        help="override a dim, const or train setting (repeatable)")  # fmt: skip
        return sp

    c = with_set(sub.add_parser("check", help="parse and validate specs"))
    c.add_argument("files", nargs="+", metavar="FILE")
    c.add_argument("--json", action="store_true", help="diagnostics as JSON")
    c.add_argument("-q", "--quiet", action="store_true", help="print only diagnostics")
    from seqnet.emit import EMITTERS

    c.add_argument("--emit", choices=list(EMITTERS),
                   help="print what a stage produced: the syntax tree, the graph IR, or the "
                        "StableHLO of apply (op locations name the spec's nodes)")  # fmt: skip
    c.set_defaults(run=cmd_check)

    e = sub.add_parser("explain", help="what a diagnostic code means")
    e.add_argument("code", metavar="CODE")
    e.set_defaults(run=cmd_explain)

    ls = sub.add_parser("lsp", help="the language server, over stdin and stdout (for editors)")
    ls.add_argument("--stdio", action="store_true", help="accepted for editors that pass it; stdio is the only transport")
    ls.set_defaults(run=cmd_lsp)

    f = sub.add_parser("fmt", help="rewrite specs in canonical style")
    f.add_argument("files", nargs="+", metavar="FILE")
    f.add_argument("--check", action="store_true", help="exit 1 if a file would change")
    f.add_argument("--stdout", action="store_true", help="print instead of rewriting")
    f.set_defaults(run=cmd_fmt)

    s = with_set(sub.add_parser("summary", help="table of nodes, shapes, parameters, FLOPs"))
    s.add_argument("file", metavar="FILE")
    s.add_argument("--json", action="store_true")
    s.add_argument("--xla", action="store_true", help="cross-check FLOPs and memory with XLA")
    s.add_argument("--devices", type=int, metavar="N",
                   help="per-device memory under the train section's mesh and sharding on N devices")
    s.set_defaults(run=cmd_summary)

    r = with_set(sub.add_parser("render", help="draw the architecture (.svg .png .pdf .dot, or .html to explore)"))
    r.add_argument("file", metavar="FILE")
    r.add_argument("-o", "--output", required=True, metavar="OUT")
    r.add_argument("--rankdir", choices=["TB", "LR"], default="TB")
    r.add_argument("--depth", type=count(0), default=None, metavar="K",
                   help="collapse blocks deeper than K (0: every block is one node)")
    r.add_argument("--no-shapes", action="store_true")
    r.add_argument("--resolve-dims", action="store_true")
    r.add_argument("--theme", choices=["light", "dark"], default="light")
    r.add_argument("--show-segments", action="store_true", help="list the segment set S")
    r.add_argument("--color-by", choices=["family", "sharding"], default="family",
                   help="fill nodes by op family, or by how the train section's sharding splits their parameters")
    r.add_argument("--unroll", type=count(0, 64), default=0, metavar="K",
                   help="draw recurrent cells unrolled over K time steps (at most 64)")  # fmt: skip
    r.set_defaults(run=cmd_render)

    t = with_set(sub.add_parser("train", help="train with the spec's train section"))
    t.add_argument("file", metavar="FILE")
    t.add_argument("--out", default=None, metavar="DIR")
    t.add_argument("--resume", action="store_true", help="continue the run in --out from its newest checkpoint")
    t.add_argument("--overwrite", action="store_true",
                   help="replace an earlier run in --out (refused otherwise)")
    t.add_argument("--no-progress", action="store_true")
    t.add_argument("--distributed", action="store_true",
                   help="multi-host: jax.distributed.initialize() with the cluster discovered")  # fmt: skip
    t.add_argument("--coordinator", type=host_port, metavar="HOST:PORT", help="multi-host: the coordinator address")
    t.add_argument("--num-processes", type=count(1), metavar="N")
    t.add_argument("--process-id", type=count(0), metavar="I")
    t.add_argument("--join-timeout", type=count(1), default=300, metavar="S",
                   help="multi-host: seconds to wait for every process to join (default 300)")  # fmt: skip
    from seqnet.backends.jax.cluster import HEARTBEAT_S  # no JAX import: the parser stays quick

    t.add_argument("--heartbeat-timeout", type=count(1), default=HEARTBEAT_S, metavar="S",
                   help="multi-host: seconds without a heartbeat after which a process counts as dead "
                   f"and the run stops (default {HEARTBEAT_S})")  # fmt: skip
    t.set_defaults(run=cmd_train)

    w = sub.add_parser("sweep", help="train a grid of settings x seeds, one process a run")
    w.add_argument("file", metavar="FILE")
    w.add_argument("--set", action="append", metavar="NAME=V1,V2,...",
                   help="a setting and its values; the sweep is every combination (repeatable)")
    w.add_argument("--points", metavar="FILE", help="the points as a JSON list of objects or JSONL")
    w.add_argument("--seeds", type=count(1), default=1, metavar="N",
                   help="runs per point, with the point's seed + 0..N-1 (default 1)")
    w.add_argument("--out", required=True, metavar="DIR")
    w.add_argument("--jobs", type=count(1), default=None, metavar="J",
                   help="runs at once (default: the cores, never more than the runs)")
    w.add_argument("--resume", action="store_true",
                   help="continue the sweep in --out: skip finished runs, resume half-finished ones")
    w.set_defaults(run=cmd_sweep)

    v = with_set(sub.add_parser("eval", help="metrics on the evaluation split"))
    v.add_argument("file", metavar="FILE")
    v.add_argument("--checkpoint", required=True, metavar="DIR")
    v.set_defaults(run=cmd_eval)

    pr = with_set(sub.add_parser("predict", help="run the model on inputs from an .npz"))
    pr.add_argument("file", metavar="FILE")
    pr.add_argument("--checkpoint", required=True, metavar="DIR")
    pr.add_argument("--input", required=True, metavar="X.npz")
    pr.add_argument("-o", "--output", default="predictions.npz", metavar="OUT.npz")
    pr.add_argument("--allow-nonfinite", action="store_true",
                    help="predict on inputs that hold NaN or Inf (refused otherwise)")
    pr.set_defaults(run=cmd_predict)

    gen = with_set(sub.add_parser("generate", help="sample text from an autoregressive spec"))
    gen.add_argument("file", metavar="FILE")
    gen.add_argument("--checkpoint", required=True, metavar="RUN",
                     help="a run folder, its checkpoints folder, or one checkpoint file")
    gen.add_argument("--prompt", required=True, metavar="TEXT", help="the text to continue")
    gen.add_argument("--steps", type=count(0), default=200, metavar="N",
                     help="how many tokens to generate (default 200)")
    gen.add_argument("--temperature", type=temperature, default=1.0, metavar="T",
                     help="divides the logits; 0 takes the most likely token (default 1)")
    gen.add_argument("--top-k", type=count(1), default=None, metavar="K",
                     help="draw from the K most likely tokens only")
    gen.add_argument("--seed", type=count(0), default=0, metavar="S",
                     help="the sampling seed: the same seed gives the same text (default 0)")
    gen.set_defaults(run=cmd_generate)

    x = with_set(sub.add_parser("export", help="serialised StableHLO with the parameters"))
    x.add_argument("file", metavar="FILE")
    x.add_argument("--checkpoint", required=True, metavar="DIR")
    x.add_argument("-o", "--output", required=True, metavar="OUT",
                   help="a new folder or .zip (an earlier export there is replaced, nothing else)")
    x.add_argument("--batch", type=count(1), default=None, metavar="N",
                   help="a fixed batch size (default: a symbolic batch axis)")
    x.set_defaults(run=cmd_export)
    return p


def main(argv: list[str] | None = None) -> int:
    """argv None: this process is the command (the console script, `python -m seqnet`); a check
    then ends the process itself, without the interpreter's teardown (seqnet/collector.py)."""
    if argv is None and sys.argv[1:2] and sys.argv[1] in RUNS_XLA:
        from seqnet.hugepages import reexec_with_hugepages

        reexec_with_hugepages()  # once, before anything is imported or parsed: seqnet/hugepages.py
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as e:  # argparse has printed the usage message
        return EXIT_USAGE if e.code else EXIT_OK
    if argv is None and args.run is cmd_check and args.emit != "stablehlo":
        off_until_exit()  # this process is one short check, not a caller's: seqnet/collector.py
        # the train section's pydantic models need no plugin, and finding none reads the metadata
        # of every installed package (a twenty-fifth of a small check's instructions)
        os.environ.setdefault("PYDANTIC_DISABLE_PLUGINS", "__all__")
        exit_now(_command(args))
    return _command(args)


def _command(args) -> int:
    """Run the parsed command: its exit code, every failure one line (no traceback)."""
    try:
        return args.run(args)
    except UsageError as e:
        print(f"seqnet: {e}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("seqnet: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # `seqnet summary FILE | head`: the reader left; that is fine
        sys.stderr = open(os.devnull, "w")  # noqa: SIM115 - silence the flush at exit
        return EXIT_OK
    except Exception as e:  # a bug or an environment problem: one clear line, no traceback
        from seqnet.errors import SpecError

        if isinstance(e, SpecError):
            print(e.render(), file=sys.stderr)
            return EXIT_SPEC
        if os.environ.get("SEQNET_DEBUG"):
            raise
        if is_user_error(e):
            print(f"seqnet: error: {e}", file=sys.stderr)
            return EXIT_SPEC
        print(f"seqnet: internal error ({type(e).__name__}: {e}); rerun with SEQNET_DEBUG=1 for "
              "details", file=sys.stderr)  # fmt: skip
        return EXIT_INTERNAL


def is_user_error(e: BaseException) -> bool:
    """Whether `e` is the person's to fix (exit 1): a seqnet.errors.UserError, or the file system
    saying no (an OSError: read-only, full, not a folder, ...). Anything else is a bug (exit 3)."""
    from seqnet.errors import UserError

    return isinstance(e, (UserError, OSError))

if __name__ == "__main__":
    sys.exit(main())
