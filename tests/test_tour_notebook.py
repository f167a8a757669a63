"""examples/tour.ipynb runs top to bottom in a real kernel (nbclient, ipykernel), and each cell
shows what the tour says it shows."""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")

ROOT = Path(__file__).resolve().parents[1]
TOUR = ROOT / "examples" / "tour.ipynb"
pytestmark = pytest.mark.skipif(shutil.which("dot") is None,
                                reason="the tour shows a diagram: Graphviz `dot` is not installed")  # fmt: skip


def text_of(cell) -> str:
    """Everything a cell printed or displayed, as text (HTML and SVG included)."""
    parts = []
    for out in cell.get("outputs", []):
        if out["output_type"] == "stream":
            parts.append(out["text"])
        for kind in ("text/plain", "text/html", "image/svg+xml"):
            if kind in out.get("data", {}):
                parts.append(f"[{kind}]" + out["data"][kind])
    return "".join(parts)


@pytest.fixture(scope="module")
def executed(tmp_path_factory):
    nb = nbformat.read(TOUR, as_version=4)
    assert all(not c.get("outputs") for c in nb.cells if c.cell_type == "code"), \
        "the tour is committed without outputs"  # fmt: skip
    work = tmp_path_factory.mktemp("tour")
    env_path = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
    client = nbclient.NotebookClient(nb, timeout=240, kernel_name="python3",
                                     resources={"metadata": {"path": str(work)}})  # fmt: skip
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("PYTHONPATH", env_path)  # the kernel imports this checkout's seqnet
        client.execute()
    return [c for c in nb.cells if c.cell_type == "code"]


def test_the_tour_runs_and_each_cell_shows_what_it_says(executed):
    load, bad, diagram, summary, _ext, magic, tiny, train, apply = executed
    assert "float32[64]" in text_of(load) and "float32[10]" in text_of(load)
    err = text_of(bad)
    assert re.search(r"tour\.seqnet:\d+:\d+: error\[SQN0301\]", err), err
    assert "hint:" in err
    assert "[image/svg+xml]" in text_of(diagram) and "<svg" in text_of(diagram)
    s = text_of(summary)
    assert '<div class="seqnet-summary">' in s and "<td>dense</td>" in s
    assert "error[" not in text_of(magic) and "<code>float32[2]</code>" in text_of(magic)
    assert text_of(tiny).strip() == "float32[2]"  # the magic bound the model to `tiny`
    step, metrics = re.search(r"\((\d+), (\{.*\})\)", text_of(train)).groups()
    assert int(step) == 60
    acc = float(re.search(r"'accuracy': ([0-9.]+)", metrics).group(1))
    assert acc > 0.8, metrics  # 60 steps: 0.94 here, far past chance (0.1) on held-out digits
    right = int(re.search(r"right: (\d+) of", text_of(apply)).group(1))
    assert right >= 11, text_of(apply)  # 14 here
