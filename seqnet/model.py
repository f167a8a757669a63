"""The public Model: a compiled spec with its graph, summary, diagram and JAX functions."""

from __future__ import annotations

from pathlib import Path

import networkx as nx

from seqnet.compiler.graph import output_type
from seqnet.errors import Diagnostic


def _overrides(kw: dict):
    from seqnet.compiler.overrides import Overrides

    return Overrides({k: str(v).lower() if isinstance(v, bool) else str(v) for k, v in kw.items()},
                     origin="keyword")  # fmt: skip


def load(path: str | Path, **overrides) -> Model:
    """Compile a spec file. Keyword arguments override dims, consts and train settings."""
    from seqnet.pipeline import compile_or_raise

    graph, diags, source = compile_or_raise(path=path, overrides=_overrides(overrides))
    return Model(graph, diags, Path(path))


def loads(text: str, name: str = "<string>", *, base_dir: str | Path | None = None,
          **overrides) -> Model:  # fmt: skip
    """Compile a spec given as text. Its imports resolve in `base_dir` (as if the text were a
    file there) and may not leave that folder tree; without base_dir the text cannot import."""
    from seqnet.pipeline import compile_or_raise

    graph, diags, _ = compile_or_raise(text=text, name=name, overrides=_overrides(overrides),
                                       base_dir=base_dir)  # fmt: skip
    return Model(graph, diags, None)


def load_checkpoint(run_dir: str | Path, model: Model | None = None) -> dict:
    """The params tree of the newest intact checkpoint in `run_dir` (a run folder, its
    checkpoints folder, or one step_*.json / .safetensors file), as nested dicts of numpy
    arrays keyed like `Model.init`'s tree.

    With `model`, every key, shape and dtype is checked against that model (the error names
    what differs). A run folder holds the parameters, not the spec: the Model of a run is
    `seqnet.load(<the spec it trained>, <the same overrides>)`, and `model.load_checkpoint(run)`
    reads its parameters checked against it (the checkpoint records the spec's name,
    `meta["spec"]`, and its parameter structure, which the check compares)."""
    from seqnet.backends.jax import checkpoint as ck

    meta, tensors = ck.read(run_dir)
    if model is None:
        return ck.params_tree(tensors, meta["path"])
    import jax

    template = jax.eval_shape(model.init, jax.random.PRNGKey(0))
    return ck.unflatten(template, "params", tensors, meta["path"])


class Model:
    def __init__(self, graph: nx.MultiDiGraph, diagnostics: list[Diagnostic], path: Path | None):
        self.graph = graph
        self.warnings = [d for d in diagnostics if d.severity == "warning"]
        self.path = path
        self._lowered = None

    @property
    def inputs(self) -> dict:
        return {n: output_type(self.graph, (n, 0)) for n in self.graph.graph["inputs"]}

    @property
    def outputs(self) -> dict:
        g = self.graph
        return {k: output_type(g, ref) for k, ref in g.graph["outputs"].items()}

    @property
    def train_config(self):
        return self.graph.graph["train"]

    def summary(self, as_json: bool = False):
        """The summary table (a str, shown as an HTML table in Jupyter), or its data."""
        from seqnet.compiler.summary import summarize, summary_table
        from seqnet.summary_html import Summary

        data = summarize(self.graph)
        return data if as_json else Summary(summary_table(data), data)

    # -- drawing
    def render(self, path: str | Path, **options) -> Path:
        """Write the diagram; the format comes from the suffix (.svg .png .pdf .dot, or .html:
        the interactive page)."""
        if Path(path).suffix.lower() == ".html":
            from seqnet.backends.viewer import write_html

            return write_html(self.graph, Path(path), **options)
        from seqnet.backends.graphviz import render

        return render(self.graph, Path(path), **options)

    def _repr_svg_(self) -> str:
        from seqnet.backends.graphviz import to_svg

        return to_svg(self.graph)

    # -- JAX
    def jax_lowering(self):
        """The graph lowered to JAX (init, apply, ...), built once and kept."""
        if self._lowered is None:
            from seqnet.backends.jax.lower import lower

            self._lowered = lower(self.graph)
        return self._lowered

    _jax = jax_lowering  # the older name, still used by examples and tests

    def init(self, key):
        return self.jax_lowering().init(key)

    def apply(self, params, rng=None, train: bool = False, with_stats: bool = False, **inputs):
        """The outputs {name: array}; with_stats=True: (outputs, stats), where
        stats["wormhole/<gate>/iterations" | "/converged" | "/residual"] hold each example's
        fixed-point solve (jit-friendly arrays; `wormholes` says where each gate is)."""
        lowered = self.jax_lowering()
        if with_stats:
            return lowered.apply_with_stats(params, inputs, rng=rng, train=train)
        return lowered.apply(params, inputs, rng=rng, train=train)

    @property
    def wormholes(self) -> dict[str, dict]:
        """{gate node: {"name": "wormhole h3 -> h1", "where": "file:line:col", settings...}}."""
        from seqnet.compiler.ops.mechanisms import wormhole_gates

        return wormhole_gates(self.graph)

    def load_checkpoint(self, run_dir: str | Path) -> dict:
        """This model's parameters from a run folder or checkpoint (see `load_checkpoint`)."""
        return load_checkpoint(run_dir, self)

    def generate(self, params, prompt, steps: int, temperature: float = 1.0,
                 top_k: int | None = None, seed: int = 0, *, cache: bool | str = "auto"):  # fmt: skip
        """Sample `steps` tokens after `prompt` from an autoregressive spec (one input of token
        ids [T], per-position logits [T, V]); returns the prompt with its continuation: text for
        a text prompt (the `text` data source's vocabulary), ids for a list of ids. The same seed
        gives the same output. Each token costs one cached step of every layer when all the
        spec's ops have incremental rules, else a re-run of the window (cache="auto"); cache=False
        always re-runs, cache=True refuses a spec it cannot cache. See docs/generate.md."""
        from seqnet.backends.jax.generate import generate

        return generate(self, params, prompt, steps, temperature=temperature, top_k=top_k,
                        seed=seed, cache=cache)  # fmt: skip

    def train(self, out: str | Path | None = None, **settings):
        from seqnet.backends.jax.train import train

        return train(self, out=out, **settings)
