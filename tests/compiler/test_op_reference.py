"""docs/ops.md is generated from the registry and must match it."""

from pathlib import Path

from seqnet.compiler.ops.catalog import load_ops
from seqnet.compiler.ops.reference import markdown

DOC = Path(__file__).resolve().parents[2] / "docs" / "ops.md"


def test_ops_doc_is_current():
    assert DOC.read_text() == markdown(), "regenerate: python -m seqnet.compiler.ops.reference > docs/ops.md"


def test_every_op_documented():
    text = DOC.read_text()
    for name, op in load_ops().items():
        assert f"| {name} |" in text
        assert op.doc, f"op {name} has no doc line"
