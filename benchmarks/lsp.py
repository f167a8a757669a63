"""Language-server latency: an edit to a 1,000-node spec -> its diagnostics back in the client.

    PYTHONPATH=. python benchmarks/lsp.py [--nodes N] [--edits K] [--debounce-ms MS]

Starts `seqnet lsp` in a subprocess, talks to it over stdio with pygls's client, opens the spec
(the cold check), then makes K edits one at a time, each waiting for its diagnostics: the median
and best round trip, warm, and the CPU time the server spent on each (from /proc: a figure the
machine's load hardly moves, where wall time under load is several times the idle one). The
baseline is the same check done in-process (frontend.py's compile, K times): the difference is
what the protocol, the process boundary, the debounce and the server's own shortcuts (the
statements an edit did not touch are not parsed again, the name index is built after the
diagnostics are out) add or save. The target is under 300 ms warm at 1,000 nodes with the
debounce at 0.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

from lsprotocol import types as lsp
from pygls.lsp.client import LanguageClient

sys.path.insert(0, str(Path(__file__).resolve().parent))
from frontend import compile_once, make_spec  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


def cpu_seconds(pid: int) -> float | None:
    """The CPU time a process has used (all its threads, user + system), from /proc; None where
    there is no /proc. Unlike wall time it hardly moves with the machine's load."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def edit(text: str, k: int) -> str:
    """The k-th edit: a different width, so every node's type changes and is checked again."""
    return text.replace("dim W = 32", f"dim W = {32 + k % 2}", 1)


async def round_trips(text: str, edits: int, debounce_ms: float) -> tuple[float, list, list]:
    client = LanguageClient("seqnet-bench", "0")
    arrived: dict[int, asyncio.Future] = {}

    @client.feature(lsp.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS)
    def _published(params: lsp.PublishDiagnosticsParams):
        fut = arrived.get(params.version)
        if fut is not None and not fut.done():
            fut.set_result(list(params.diagnostics))

    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    await client.start_io(sys.executable, "-m", "seqnet", "lsp", env=env)
    await client.initialize_async(lsp.InitializeParams(
        capabilities=lsp.ClientCapabilities(), initialization_options={"debounce_ms": debounce_ms}))  # fmt: skip
    client.initialized(lsp.InitializedParams())
    with tempfile.TemporaryDirectory() as tmp:
        uri = (Path(tmp) / "bench.seqnet").as_uri()
        loop = asyncio.get_running_loop()

        pid = client._server.pid  # pygls's subprocess (no public accessor)
        cpu: list[float] = []

        async def send(version: int, send_it) -> float:
            arrived[version] = loop.create_future()
            start, cpu0 = time.perf_counter(), cpu_seconds(pid)
            send_it()
            diags = await asyncio.wait_for(arrived[version], 600)
            assert diags == [], diags
            took, cpu1 = time.perf_counter() - start, cpu_seconds(pid)
            if cpu0 is not None and cpu1 is not None:
                cpu.append(cpu1 - cpu0)
            return took

        cold = await send(1, lambda: client.text_document_did_open(
            lsp.DidOpenTextDocumentParams(lsp.TextDocumentItem(uri, "seqnet", 1, text))))  # fmt: skip
        warm = []
        for k in range(edits):
            version = k + 2
            change = lsp.DidChangeTextDocumentParams(
                lsp.VersionedTextDocumentIdentifier(version=version, uri=uri),
                [lsp.TextDocumentContentChangeWholeDocument(edit(text, k + 1))],
            )
            warm.append(await send(version, lambda c=change: client.text_document_did_change(c)))
    await client.shutdown_async(None)
    client.exit(None)
    await client.stop()
    return cold, warm, cpu[1:]  # the warm ones


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--nodes", type=int, default=1000)
    p.add_argument("--edits", type=int, default=10)
    p.add_argument("--debounce-ms", type=float, default=0.0)
    args = p.parse_args()
    size = args.nodes
    text = make_spec(size)
    while (nodes := compile_once(text).number_of_nodes()) < args.nodes:  # at least --nodes nodes
        size += max(args.nodes // 10, 8)
        text = make_spec(size)
    baseline = []
    for k in range(args.edits + 1):  # one warm-up, as the server's first check is its warm-up
        start = time.perf_counter()
        compile_once(edit(text, k))
        baseline.append(time.perf_counter() - start)
    cold, warm, cpu = asyncio.run(round_trips(text, args.edits, args.debounce_ms))
    ms = lambda xs: f"median {statistics.median(xs) * 1e3:.0f} ms, best {min(xs) * 1e3:.0f} ms"
    print(f"spec: {nodes} nodes, {len(text):,} bytes; debounce {args.debounce_ms:g} ms; {args.edits} edits")
    print(f"in-process check (baseline): {ms(baseline[1:])}")
    print(f"lsp diagnostics round trip, warm: {ms(warm)}")
    print(f"lsp diagnostics, cold (open, first check): {cold * 1e3:.0f} ms")
    if cpu:  # CPU seconds the server spent per warm round trip: what an idle machine would take
        print(f"server CPU per warm round trip: {ms(cpu)} (clock ticks of "
              f"{1e3 / os.sysconf('SC_CLK_TCK'):.0f} ms)")  # fmt: skip
    extra = statistics.median(warm) - statistics.median(baseline[1:])
    print(f"server overhead over the in-process check (median): {extra * 1e3:+.0f} ms")


if __name__ == "__main__":
    main()
