"""The handshake of a multi-host run, before JAX's own: every process says who it is and what
it runs, and process 0 refuses the run if two processes hold one --process-id or differ in their
settings or spec.

Why not after `jax.distributed.initialize`: JAX's coordination service never returns from
initialize when two processes register one task id (one of them aborts in C++, the other waits
out the 300 s init timeout and aborts too), and it compares nothing else. So process 0 listens
on the coordinator's own port first, collects one line of JSON from each process (itself
included, through the coordinator address, which also proves it is the coordinator host),
answers all of them with one verdict, and closes the port for JAX to bind. A process that
arrives after the verdict meets JAX's gRPC server instead of an answer: with all ids taken, it
can only be a duplicate, and it says so. No JAX import here: this runs before JAX starts.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import select
import socket
import threading
import time

from seqnet.backends.jax.failures import TrainingError

PROTOCOL = "seqnet-rendezvous/1"
_POLL_S = 0.2


class RendezvousError(TrainingError):
    """The processes of one run do not agree (or never met): nothing was started."""


def identity(process_id: int, num_processes: int, settings: dict, spec_hash: str) -> dict:
    """What one process tells the others: its id, where it runs, and what it would train."""
    return {"protocol": PROTOCOL, "process_id": process_id, "num_processes": num_processes,
            "host": socket.gethostname(), "pid": os.getpid(), "settings": settings,
            "spec": spec_hash}  # fmt: skip


def _who(hello: dict) -> str:
    return f"pid {hello.get('pid')} on host {hello.get('host')}"


def _flat(value, prefix: str = "") -> dict:
    if isinstance(value, dict):
        out = {}
        for k, v in value.items():
            out.update(_flat(v, f"{prefix}{k}."))
        return out
    return {prefix[:-1]: value}


def differences(mine: dict, theirs: dict) -> list[str]:
    """The settings (dotted paths) that differ between two processes' settings dicts."""
    a, b = _flat(mine), _flat(theirs)
    return sorted(k for k in a.keys() | b.keys() if a.get(k, "<unset>") != b.get(k, "<unset>"))


def problem(own: dict, hello: dict, claimed: dict[int, dict]) -> str | None:
    """Why process 0 (whose identity is `own`) refuses `hello`, or None."""
    pid, n = hello.get("process_id"), own["num_processes"]
    if hello.get("num_processes") != n:
        return (f"process {pid} ({_who(hello)}) was started with --num-processes "
                f"{hello.get('num_processes')}, process 0 with {n}")  # fmt: skip
    if pid in claimed:
        return (f"two processes were given --process-id {pid}: {_who(claimed[pid])} and "
                f"{_who(hello)}; give each process its own id, 0 to {n - 1}")  # fmt: skip
    if hello.get("spec") != own["spec"]:
        return f"process {pid} ({_who(hello)}) runs a different spec file than process 0"
    diff = differences(own["settings"], hello.get("settings") or {})
    if diff:
        a, b = _flat(own["settings"]), _flat(hello.get("settings") or {})
        shown = "; ".join(f"{k}: {a.get(k, '<unset>')!r} in process 0, {b.get(k, '<unset>')!r} "
                          f"in process {pid}" for k in diff[:5])  # fmt: skip
        more = f" (and {len(diff) - 5} more)" if len(diff) > 5 else ""
        return (f"process {pid} ({_who(hello)}) has other train settings than process 0: "
                f"{shown}{more}; give every process the same spec and --set options")  # fmt: skip
    return None


class Coordinator(threading.Thread):
    """Process 0's side: listens on the coordinator port until every id has said hello (or one
    problem is found, or the deadline passes), then answers every connection and closes."""

    def __init__(self, own: dict, listener: socket.socket, deadline: float):
        super().__init__(name="seqnet-rendezvous", daemon=True)
        self.own, self.listener, self.deadline = own, listener, deadline
        self.error: str | None = None
        self.done = threading.Event()

    def run(self) -> None:
        conns: list[socket.socket] = []
        try:
            self.error = self._collect(conns)
            verdict = {"ok": self.error is None, "error": self.error}
            for c in conns:
                with contextlib.suppress(OSError):
                    c.sendall((json.dumps(verdict) + "\n").encode())
        finally:
            for c in conns:
                c.close()
            self.listener.close()
            self.done.set()

    def _collect(self, conns: list[socket.socket]) -> str | None:
        claimed: dict[int, dict] = {}
        n = self.own["num_processes"]
        while len(claimed) < n:
            left = self.deadline - time.monotonic()
            if left <= 0:
                missing = ", ".join(str(i) for i in range(n) if i not in claimed)
                return (f"waited for the other processes of the run: process(es) {missing} never "
                        "reached the coordinator; start every process with the same --coordinator")  # fmt: skip
            ready, _, _ = select.select([self.listener], [], [], min(left, _POLL_S))
            if not ready:
                continue
            conn, _ = self.listener.accept()
            conns.append(conn)
            hello = _read_line(conn, min(10.0, max(left, 0.1)))
            if not isinstance(hello, dict) or hello.get("protocol") != PROTOCOL:
                conns.remove(conn)
                conn.close()  # not one of ours (a port scanner, an old seqnet): ignore it
                continue
            why = problem(self.own, hello, claimed)
            if why is not None:
                return why
            claimed[hello["process_id"]] = hello
        return None


def _read_line(conn: socket.socket, timeout: float):
    """One JSON line from `conn`, or None on EOF, garbage or timeout."""
    conn.settimeout(timeout)
    data = b""
    try:
        while b"\n" not in data and len(data) < 1 << 20:
            chunk = conn.recv(65536)
            if not chunk:
                break
            data += chunk
    except OSError:
        return None
    try:
        return json.loads(data.split(b"\n", 1)[0])
    except ValueError:
        return None


def _listen(port: int) -> socket.socket | None:
    """The coordinator port, bound like JAX binds it (all interfaces); None if it is taken."""
    try:
        if socket.has_dualstack_ipv6():
            return socket.create_server(("", port), family=socket.AF_INET6, dualstack_ipv6=True,
                                        reuse_port=False)  # fmt: skip
        return socket.create_server(("", port))
    except OSError as e:
        if e.errno == errno.EADDRINUSE:
            return None
        raise RendezvousError(f"cannot listen on the coordinator port {port}: {e.strerror}") from None


def join(address: str, own: dict, timeout_s: float) -> None:
    """Meet the other processes of the run at `address` (HOST:PORT); raise RendezvousError with
    the reason if they do not agree or do not all arrive within `timeout_s`."""
    host, _, port = address.rpartition(":")
    deadline = time.monotonic() + timeout_s
    server = None
    if own["process_id"] == 0:
        listener = _listen(int(port))
        if listener is not None:  # taken: maybe another process 0 here; our hello will tell
            server = Coordinator(own, listener, deadline)
            server.start()
    try:
        verdict = _ask(host, int(port), own, deadline, server)
    finally:
        if server is not None:
            server.join(max(0.0, deadline - time.monotonic()) + 1.0)
    if server is not None and server.error and (verdict is None or verdict.get("ok")):
        verdict = {"ok": False, "error": server.error}
    if verdict is None:
        raise RendezvousError(
            f"the coordinator at {address} did not answer as a seqnet run does. Either it is not "
            f"seqnet's process 0, or that run has already started with all {own['num_processes']} "
            f"process ids taken: was --process-id {own['process_id']} given to two processes?")
    if not verdict.get("ok"):
        raise RendezvousError(f"the run was refused (process {own['process_id']}): {verdict.get('error')}")


def _ask(host: str, port: int, own: dict, deadline: float, server: Coordinator | None):
    """Send our hello to the coordinator and wait for its verdict (None: an answer not ours)."""
    while True:
        left = deadline - time.monotonic()
        if server is not None and server.done.is_set():
            return None if server.error is None else {"ok": False, "error": server.error}
        if left <= 0:
            raise RendezvousError(
                f"no coordinator answered at {host}:{port} within the join timeout: is process 0 "
                "running there, with the same --coordinator? (--join-timeout S waits longer)")
        try:
            conn = socket.create_connection((host, port), timeout=min(left, 5.0))
        except OSError:
            time.sleep(_POLL_S)
            continue
        with conn:
            conn.sendall((json.dumps(own) + "\n").encode())
            return _read_line(conn, max(left, 0.1))
