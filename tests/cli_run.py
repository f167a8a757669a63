"""The CLI run in-process, as tests drive it: (exit code, stdout, stderr), never a traceback."""

from __future__ import annotations

from seqnet import cli


def run(argv, capsys):
    capsys.readouterr()
    rc = cli.main(argv)
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    assert "internal error" not in err, err
    return rc, out, err
