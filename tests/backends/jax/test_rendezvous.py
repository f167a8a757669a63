"""The multi-host handshake (seqnet/backends/jax/rendezvous.py), run with threads on 127.0.0.1:
the processes of one run meet before JAX does, and two processes with one id, or with different
settings, are refused with a message naming the id or the settings (JAX itself hangs on the
first and says nothing about the second)."""

from __future__ import annotations

import socket
import threading

import pytest

from seqnet.backends.jax import rendezvous

SETTINGS = {"steps": 10, "optimizer": {"name": "adam", "args": {"lr": 0.001}}}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def meet(*processes, timeout_s=20.0):
    """join() for each (process_id, num_processes, settings, spec) in its own thread, all at one
    address; returns {index: None, or the error text}."""
    address = f"127.0.0.1:{free_port()}"
    results: dict[int, str | None] = {}

    def one(i, own):
        try:
            rendezvous.join(address, own, timeout_s)
            results[i] = None
        except rendezvous.RendezvousError as e:
            results[i] = str(e)

    threads = [threading.Thread(target=one, args=(i, rendezvous.identity(*p)))
               for i, p in enumerate(processes)]  # fmt: skip
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout_s + 30)
    assert len(results) == len(processes), "a join() did not return"
    return results


def same(ids, n=None):
    return [(i, n or len(ids), SETTINGS, "abc") for i in ids]


def test_processes_with_distinct_ids_and_one_setting_all_start():
    assert meet(*same([0, 1, 2])) == {0: None, 1: None, 2: None}


def test_two_processes_with_one_id_are_both_refused_naming_the_id():
    results = meet(*same([0, 0]))
    assert all(r and "two processes were given --process-id 0" in r for r in results.values()), results


def test_a_duplicate_peer_id_refuses_the_run_naming_that_id():
    results = meet(*same([0, 2, 2], n=3))
    assert all(r is not None for r in results.values()), results
    assert any("two processes were given --process-id 2" in r for r in results.values()), results


def test_different_settings_are_refused_naming_the_setting():
    other = {"steps": 10, "optimizer": {"name": "adam", "args": {"lr": 0.01}}}
    results = meet((0, 2, SETTINGS, "abc"), (1, 2, other, "abc"))
    assert all(r is not None for r in results.values()), results
    assert "optimizer.args.lr: 0.001 in process 0, 0.01 in process 1" in results[1], results[1]


@pytest.mark.parametrize("peer,expected", [((1, 2, SETTINGS, "other"), "runs a different spec file"),
                                           ((1, 3, SETTINGS, "abc"), "--num-processes 3, process 0 with 2")])
def test_a_different_spec_or_process_count_is_refused(peer, expected):
    results = meet((0, 2, SETTINGS, "abc"), peer)
    assert all(r and expected in r for r in results.values()), results


def test_no_coordinator_is_a_clear_error_after_the_join_timeout():
    address = f"127.0.0.1:{free_port()}"
    with pytest.raises(rendezvous.RendezvousError, match="no coordinator answered at 127.0.0.1:"):
        rendezvous.join(address, rendezvous.identity(1, 2, SETTINGS, "abc"), 1.0)


def test_process_0_names_the_processes_that_never_came():
    address = f"127.0.0.1:{free_port()}"
    with pytest.raises(rendezvous.RendezvousError, match=r"process\(es\) 1, 2 never reached"):
        rendezvous.join(address, rendezvous.identity(0, 3, SETTINGS, "abc"), 1.0)


def test_a_late_process_meeting_a_started_run_suspects_a_duplicate_id():
    """After the handshake, JAX's gRPC server holds the port: a process that meets something
    other than seqnet's answer says what that most likely means."""
    with socket.create_server(("127.0.0.1", 0)) as server:
        port = server.getsockname()[1]

        def answer_garbage():
            conn, _ = server.accept()
            with conn:
                conn.recv(1 << 16)
                conn.sendall(b"\x00\x00\x12\x04 not json\n")

        t = threading.Thread(target=answer_garbage)
        t.start()
        with pytest.raises(rendezvous.RendezvousError, match="was --process-id 1 given to two processes"):
            rendezvous.join(f"127.0.0.1:{port}", rendezvous.identity(1, 2, SETTINGS, "abc"), 10.0)
        t.join(30)


def test_differences_names_dotted_paths():
    a = {"steps": 1, "optimizer": {"args": {"lr": 1.0, "b1": 0.9}}}
    b = {"steps": 1, "optimizer": {"args": {"lr": 2.0}}, "extra": True}
    assert rendezvous.differences(a, b) == ["extra", "optimizer.args.b1", "optimizer.args.lr"]
