"""The `%%seqnet` cell magic and the HTML summary, without a notebook server: the magic is
called as IPython calls it, and what Jupyter would display is read from `_repr_html_`."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

import seqnet
from seqnet.notebook import check_cell, load_ipython_extension

ROOT = Path(__file__).resolve().parents[1]
GOOD = "dim N = 8\ninput x : float32[N]\noutput y : float32[N] = dense(x, N, act=relu)\n"
BAD = "input x : float32[8]\noutput y : float32[8] = dens(x, 8)\n"


class FakeIPython:
    def __init__(self):
        self.user_ns: dict = {}
        self.magics: dict = {}

    def register_magic_function(self, fn, magic_kind, magic_name):
        self.magics[(magic_kind, magic_name)] = fn


@pytest.fixture
def magic():
    ip = FakeIPython()
    load_ipython_extension(ip)
    return ip, ip.magics[("cell", "seqnet")]


def test_a_good_cell_shows_the_diagram_and_summary_and_binds_the_model(magic):
    ip, run = magic
    report = run("model", GOOD)
    html = report._repr_html_()
    assert "<svg" in html and '<div class="seqnet-summary">' in html
    assert "<td>dense</td>" in html and '<td style="text-align:right">72</td>' in html  # 8*8 + 8
    assert isinstance(ip.user_ns["model"], seqnet.Model)
    assert ip.user_ns["model"].outputs["y"].resolved() == "float32[8]"


def test_a_broken_cell_shows_the_diagnostics_of_check_and_binds_nothing(magic, tmp_path):
    ip, run = magic
    ip.user_ns["model"] = "stale"
    report = run("model --no-diagram", BAD)
    html = report._repr_html_()
    assert "error[SQN0102]: unknown op or block &#x27;dens&#x27;" in html
    assert "did you mean &#x27;dense&#x27;?" in html and "<svg" not in html
    assert "model" not in ip.user_ns
    spec = tmp_path / "cell.seqnet"
    spec.write_text(BAD)
    check = subprocess.run([sys.executable, "-m", "seqnet", "check", "cell.seqnet"], cwd=tmp_path,
                           capture_output=True, text=True)  # fmt: skip
    assert report.diagnostics[0].render() in check.stderr  # the same text as `seqnet check`


def test_options_leave_parts_out_and_unknown_ones_are_refused(magic):
    _, run = magic
    html = run("--no-diagram --no-summary", GOOD)._repr_html_()
    assert "<svg" not in html and "seqnet-summary" not in html
    with pytest.raises(ValueError, match="unknown option --diagramm"):
        run("--diagramm", GOOD)


def test_a_cell_imports_files_from_the_working_folder(tmp_path):
    (tmp_path / "lib.seqnet").write_text("block twice(x) {\n  return x + x\n}\n")
    report = check_cell('import "lib.seqnet"\ninput x : float32[4]\noutput y : float32[4] = twice(x)\n',
                        folder=tmp_path)  # fmt: skip
    assert report.ok, repr(report)


def test_model_summary_is_the_text_table_and_an_html_table():
    model = seqnet.loads(GOOD)
    text = model.summary()
    from seqnet.compiler.summary import summarize, summary_table

    assert text == summary_table(summarize(model.graph))  # a str, as before
    html = text._repr_html_()
    assert html.count("<tr") == 1 + model.graph.number_of_nodes()
    assert "parameters: 72 (288 bytes in float32)" in html


def test_html_escapes_what_the_spec_wrote():
    report = check_cell('input x : float32[4]\noutput y : float32[4] = x\ntrain {\n  data = "<b>"\n}\n')
    assert "<b>" not in report._repr_html_()


def test_the_notebook_extension_never_imports_jax():
    code = ("import sys; from seqnet.notebook import check_cell; "
            f"r = check_cell({GOOD!r}); r._repr_html_(); print('jax' in sys.modules)")  # fmt: skip
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert out.stdout.strip() == "False", out.stderr
