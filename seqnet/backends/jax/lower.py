"""Lowering a graph to JAX: `lower(graph) -> Lowered`, a pure `init` / `apply` pair.

The graph is walked in dependency order; each node runs its op's registered JAX rule under
`jax.named_scope(node name)`. Three things are handled here at graph level, not per op:

* parameters: a nested dict keyed by node names split on "/" (params["enc"]["0"]["h"]["w"]);
  only nodes that own parameters appear; a node whose `param_owner` is another node reads the
  owner's parameters (shared weights, `repeat ... shared`), and a node with `ties` reads its
  tied weight from the node that holds it (`tie=`). Each owner's init key is
  `fold_in(key, crc32(name))`, so params never depend on graph size or walk order.
* wormholes: every strongly connected component of the graph (wormhole edges included) is one
  fixed-point problem whose state is the outputs of its nodes (target ... h_b, gate). A wormhole
  target gets the gate's output added to its pre-activation: ops with an `act` attribute run with
  act="none", the injection is added, then the activation; other ops get it added to the output.
  See `fixed_point.py` for the solvers.

Everything else about an op is its registered rule: a function `rule(ctx, **kwargs)`, or a
`ProgramRule` whose `NodeProgram` (built here once per node) owns sub-programs and parameters
(a segment structure's regions: `segments.py`). Spec inputs are the graph's `inputs`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import jax
import jax.numpy as jnp
import networkx as nx

from seqnet.backends.jax import fixed_point as fp
from seqnet.backends.jax import ops as _ops  # noqa: F401  (registers the lowering rules)
from seqnet.backends.jax import repeats
from seqnet.backends.jax.context import (  # noqa: F401  (stable_hash: part of this module's API)
    LowerCtx,
    NodeProgram,
    ProgramRule,
    RunState,
    node_key,
    stable_hash,
)
from seqnet.backends.jax.init import init_params
from seqnet.backends.jax.ops.common import ACTIVATIONS
from seqnet.compiler.graph import is_input, output_type, topo_order
from seqnet.compiler.ir import node as ir_node
from seqnet.compiler.ops.catalog import load_ops
from seqnet.compiler.ops.registry import OPS

BACKEND = "jax"
LOW_PRECISION = ("bfloat16", "float16")


# --- nested parameter trees ----------------------------------------------------------------------


def tree_get(tree: dict, path: tuple[str, ...]) -> dict:
    for part in path:
        tree = tree[part]
    return tree


def tree_set(tree: dict, path: tuple[str, ...], value: dict, what: str) -> None:
    for part in path[:-1]:
        sub = tree.setdefault(part, {})
        if not isinstance(sub, dict):
            raise ValueError(f"parameter path of {what} runs through a parameter array at {part!r}")
        tree = sub
    if path[-1] in tree:
        overlap = set(tree[path[-1]]) & set(value)
        if overlap:
            raise ValueError(f"parameters of {what} clash with another node's at {sorted(overlap)}")
        tree[path[-1]].update(value)
    else:
        tree[path[-1]] = dict(value)


# --- the schedule: single nodes and wormhole cycles ----------------------------------------------


@dataclass(frozen=True)
class Cycle:
    """A strongly connected component closed by wormholes: solved to a fixed point as one unit."""

    members: tuple[str, ...]  # in dependency order (wormhole edges ignored)
    gates: tuple[tuple[str, str], ...]  # (gate node, target node) per wormhole edge
    external: tuple[tuple[str, int], ...]  # refs read from outside the cycle
    tol: float
    rtol: float
    max_iter: int
    solver: str
    backward_tol: float
    backward_max_iter: int
    anderson_m: int = fp.ANDERSON_M

    @property
    def name(self) -> str:
        """The cycle's name in stats and probes: its first gate's."""
        return self.gates[0][0]


def _schedule(g: nx.MultiDiGraph) -> list[str | Cycle]:
    order = topo_order(g)
    position = {n: i for i, n in enumerate(order)}
    components = [c for c in nx.strongly_connected_components(g) if len(c) > 1]
    owner = {n: i for i, c in enumerate(components) for n in c}
    cycles = [_cycle(g, sorted(c, key=position.__getitem__)) for c in components]
    # Contract each cycle to a unit; order units by dependencies, ties by first member position.
    units = nx.DiGraph()
    unit_of = {n: ("c", owner[n]) if n in owner else ("n", n) for n in g.nodes}
    units.add_nodes_from(set(unit_of.values()))
    for u, v in g.edges():
        if unit_of[u] != unit_of[v]:
            units.add_edge(unit_of[u], unit_of[v])

    def first(unit):
        kind, ident = unit
        return position[cycles[ident].members[0]] if kind == "c" else position[ident]

    schedule: list[str | Cycle] = []
    for kind, ident in nx.lexicographical_topological_sort(units, key=first):
        schedule.append(cycles[ident] if kind == "c" else ident)
    return schedule


def _cycle(g: nx.MultiDiGraph, members: list[str]) -> Cycle:
    inside = set(members)
    gates = []
    for u, v, d in g.edges(data=True):
        if d.get("wormhole") and u in inside:
            gates.append((u, v))
    if not gates:
        raise ValueError(f"nodes {members} form a cycle without a wormhole")
    external = []
    for n in members:
        for _, ref in ir_node(g, n).args:
            for r in _refs(ref):
                if r[0] not in inside and r not in external:
                    external.append(r)
    settings = [ir_node(g, gate).attrs for gate, _ in gates]
    return Cycle(
        members=tuple(members),
        gates=tuple(sorted(gates)),
        external=tuple(external),
        # One problem, several gates: the strictest settings of any of them.
        tol=min(s.get("tol", 1e-3) for s in settings),
        rtol=min(s.get("rtol", 0.0) for s in settings),
        max_iter=max(s.get("max_iter", 300) for s in settings),
        solver=settings[0].get("solver", "fixed_point"),
        backward_tol=min(s.get("backward_tol", 1e-5) for s in settings),
        backward_max_iter=max(s.get("backward_max_iter", 300) for s in settings),
        anderson_m=max(s.get("anderson_m", fp.ANDERSON_M) for s in settings),
    )


def _refs(ref) -> list[tuple[str, int]]:
    """An arg's refs: one (node, port), or a tuple of them (variadic)."""
    if isinstance(ref, tuple) and len(ref) == 2 and isinstance(ref[0], str):
        return [ref]
    return list(ref)


# --- running one graph ---------------------------------------------------------------------------


class GraphProgram:
    """One graph (the model, or a region of a segments node) made runnable.

    `prefix` is stripped from node names to form parameter paths (regions name their nodes
    under the segments node's path; their parameters live under that node already).
    """

    def __init__(self, graph: nx.MultiDiGraph, compute_dtype="float32", prefix: str = "",
                 scan_repeats: int = 8):  # fmt: skip
        load_ops()
        self.graph = graph
        self.compute_dtype = jnp.dtype(compute_dtype)
        self.prefix = prefix
        self.schedule = _schedule(graph)
        # nodes whose op's rule is a ProgramRule: their programs, built once here
        self.node_programs: dict[str, NodeProgram] = {}
        for n in graph.nodes:
            if is_input(graph, n):
                continue
            rec = ir_node(graph, n)
            op = rec.op
            if op not in OPS:
                raise ValueError(f"node {n!r}: unknown op {op!r}")
            rule = OPS[op].lowerings.get(BACKEND)
            if rule is None:
                raise NotImplementedError(f"node {n!r}: op {op!r} has no JAX lowering yet")
            if isinstance(rule, ProgramRule):
                self.node_programs[n] = rule.build(n, rec, self._lower_region)
        self.scan_groups: dict[str, repeats.ScanGroup] = {}  # first member -> group
        self.scanned: set[str] = set()
        if scan_repeats:
            # cycles are solved as one unit, and node programs run their own regions
            unscannable = {n for u in self.schedule if isinstance(u, Cycle) for n in u.members}
            unscannable |= set(self.node_programs)
            unscannable |= {n for n in graph.nodes if ir_node(graph, n).ties}  # read across copies
            for group in repeats.find_groups(graph, unscannable, min_copies=int(scan_repeats)):
                self.scan_groups[group.template[0]] = group
                self.scanned |= group.members

    def _lower_region(self, region: nx.MultiDiGraph, prefix: str) -> GraphProgram:
        """A node program's region, runnable with this program's compute dtype."""
        return GraphProgram(region, self.compute_dtype, prefix)

    # -- parameters
    def param_path(self, name: str) -> tuple[str, ...]:
        if self.prefix and name.startswith(self.prefix):
            name = name[len(self.prefix) :]
        return tuple(name.split("/"))

    def owners(self) -> list[str]:
        """Nodes that own parameters (own ParamSpecs or regions), in a fixed order."""
        g = self.graph
        found = []
        for rec_name, rec in sorted(((n, ir_node(g, n)) for n in g.nodes), key=lambda x: x[1].order):
            if rec.param_owner != rec_name:
                continue
            if rec.params or rec_name in self.node_programs:
                found.append(rec_name)
        return found

    def init(self, key: jax.Array) -> dict:
        params: dict = {}
        for n in self.owners():
            k = node_key(key, n)
            # float64 programs keep float64 parameters; float32 and low-precision ones float32
            pdtype = jnp.float64 if self.compute_dtype == jnp.float64 else jnp.float32
            value = init_params(k, ir_node(self.graph, n).params, pdtype)
            if n in self.node_programs:
                value.update(self.node_programs[n].init(k))
            tree_set(params, self.param_path(n), value, f"node {n!r}")
        return params

    def node_params(self, params: dict, name: str) -> dict:
        """The parameters node `name`'s rule sees: its owner's, and any tied weight read from
        the node that holds it (transposed where the tie says so): one leaf, several uses."""
        rec = ir_node(self.graph, name)
        own = {}
        if rec.params or name in self.node_programs:
            own = tree_get(params, self.param_path(rec.param_owner))
        if not rec.ties:
            return own
        own = dict(own)
        for key, (holder, held, transposed) in rec.ties.items():
            value = tree_get(params, self.param_path(holder))[held]
            own[key] = value.T if transposed else value
        return own

    # -- evaluation
    def run(self, params: dict, inputs: dict[str, jax.Array], state: RunState,
            overrides: dict[str, tuple] | None = None) -> dict[tuple[str, int], jax.Array]:  # fmt: skip
        """Evaluate every node; returns the environment {(node, port): value}.

        inputs are keyed by input node name; `overrides` gives some nodes' outputs directly (they
        are then not computed: used to re-run the graph downstream of a node).
        """
        overrides = overrides or {}
        env: dict[tuple[str, int], jax.Array] = {}
        if state.batch is None and inputs:
            state.batch = next(iter(inputs.values())).shape[0]
        for unit in self.schedule:
            if isinstance(unit, Cycle):
                self._run_cycle(unit, params, env, state)
                continue
            if unit in overrides:
                for port, v in enumerate(overrides[unit]):
                    env[(unit, port)] = v
                continue
            if unit in self.scan_groups and not overrides:
                repeats.run_group(self, self.scan_groups[unit], params, env, state)
                continue
            if unit in self.scanned and not overrides:
                continue  # evaluated inside its group's scan
            if is_input(self.graph, unit):
                env[(unit, 0)] = inputs[unit]
                continue
            outs = self.eval_node(unit, self.node_params(params, unit), env,
                                  self.node_rng(unit, state), state)  # fmt: skip
            if state.constrain is not None:
                outs = state.constrain(unit, outs)
            for port, v in enumerate(outs):
                env[(unit, port)] = v
        return env

    def node_rng(self, name: str, state: RunState):
        """The node's PRNG key in training: ops with `needs_rng` must get one; node programs
        get one whenever `apply` was given one (their regions' ops ask for their own)."""
        op = ir_node(self.graph, name).op
        program = name in self.node_programs
        if not (state.train and (program or OPS[op].needs_rng)):
            return None
        if state.rng is None:
            if program:
                return None
            raise ValueError(f"node {name!r} ({op}) needs a PRNG key in training: "
                             "pass rng=jax.random.key(...) to apply")  # fmt: skip
        return node_key(state.rng, name)

    def eval_node(self, name: str, node_params: dict, env: dict, rng, state: RunState,
                  injection: jax.Array | None = None) -> tuple:  # fmt: skip
        """Run one node's rule; returns its outputs as a tuple (one entry per port)."""
        rec = ir_node(self.graph, name)
        with jax.named_scope(name):
            opdef = OPS[rec.op]
            kwargs, in_types = self.call_args(name, env)
            activation = None
            if injection is not None and opdef.arg("act") is not None:
                activation, kwargs["act"] = kwargs["act"], "none"
            ctx = LowerCtx(params=node_params, rng=rng, train=state.train, in_types=in_types,
                           out_types=list(rec.outputs), compute_dtype=self.compute_dtype,
                           local=state.local, batch=state.batch)  # fmt: skip
            rule = self.node_programs.get(name) or opdef.lowerings[BACKEND]
            out = rule(ctx, **kwargs)
            outs = tuple(out) if isinstance(out, (tuple, list)) else (out,)
            if injection is not None:
                first = _add(outs[0], injection)
                if activation is not None:
                    first = ACTIVATIONS[activation](first)
                outs = (first,) + outs[1:]
            return outs

    def call_args(self, name: str, env: dict) -> tuple[dict[str, Any], dict[str, Any]]:
        """(kwargs, in_types) of node `name`'s rule: tensor arguments read from `env` (a list
        for variadic ones), attributes as written or defaulted, and the arguments' types."""
        g = self.graph
        rec = ir_node(g, name)
        args = dict(rec.args)
        kwargs: dict[str, Any] = {}
        in_types: dict[str, Any] = {}
        for a in OPS[rec.op].args:
            if a.kind == "tensors":
                refs = _refs(args[a.name]) if a.name in args else []
                kwargs[a.name] = [env[tuple(r)] for r in refs]
                in_types[a.name] = tuple(output_type(g, tuple(r)) for r in refs)
            elif a.kind == "tensor":
                ref = args.get(a.name)
                kwargs[a.name] = None if ref is None else env[tuple(ref)]
                in_types[a.name] = None if ref is None else output_type(g, tuple(ref))
            else:
                kwargs[a.name] = rec.attrs.get(a.name, None if a.required else a.default)
        return kwargs, in_types

    # -- wormhole cycles
    def _run_cycle(self, cycle: Cycle, params: dict, env: dict, state: RunState) -> None:
        members = cycle.members
        theta = {
            "params": {n: self.node_params(params, n) for n in members},
            "env": {f"{n}:{p}": env[(n, p)] for n, p in cycle.external},
            "rng": {n: _key_data(r) for n in members
                    if (r := self.node_rng(n, state)) is not None},
        }  # fmt: skip
        typed_keys = state.rng is not None and jnp.issubdtype(state.rng.dtype, jax.dtypes.prng_key)
        train, batch = state.train, state.batch

        def step(theta, z):
            local_env = {tuple(_split_ref(k)): v for k, v in theta["env"].items()}
            inner = RunState(train=train, rng=None, batch=batch)
            out = {}
            for n in members:
                injection = None
                for gate, target in cycle.gates:
                    if target == n:
                        injection = _add(injection, z[gate][0])
                rng = theta["rng"].get(n)
                if rng is not None and typed_keys:
                    rng = jax.random.wrap_key_data(rng)
                outs = self.eval_node(n, theta["params"][n], local_env, rng, inner, injection)
                for port, v in enumerate(outs):
                    local_env[(n, port)] = v
                out[n] = outs
            return out

        z_shapes = jax.eval_shape(lambda th: step(th, _zero_injections(self, cycle, th)), theta)
        z, stats = fp.fixed_point(step, theta, z_shapes, tol=cycle.tol, rtol=cycle.rtol,
                                  max_iter=cycle.max_iter,
                                  solver=cycle.solver, backward_tol=cycle.backward_tol,
                                  backward_max_iter=cycle.backward_max_iter,
                                  anderson_m=cycle.anderson_m,
                                  probe=(state.probes or {}).get(cycle.name))  # fmt: skip
        for n in members:
            for port, v in enumerate(z[n]):
                env[(n, port)] = v
        for gate, _ in cycle.gates:
            state.stats[f"wormhole/{gate}/iterations"] = stats.iterations
            state.stats[f"wormhole/{gate}/converged"] = stats.converged
            state.stats[f"wormhole/{gate}/residual"] = stats.residual


def _zero_injections(program: GraphProgram, cycle: Cycle, theta) -> dict:
    """A state whose gate entries are zeros of the right shape (only gates are read by `step`)."""
    batch = jax.tree_util.tree_leaves(theta["env"])[0].shape[0] if theta["env"] else 1
    z = {}
    for gate, _ in cycle.gates:
        t = ir_node(program.graph, gate).outputs[0]
        z[gate] = (jnp.zeros((batch,) + t.dims, program.compute_dtype),)
    return z


def _split_ref(key: str) -> tuple[str, int]:
    node, port = key.rsplit(":", 1)
    return node, int(port)


def _key_data(key: jax.Array) -> jax.Array:
    return jax.random.key_data(key) if jnp.issubdtype(key.dtype, jax.dtypes.prng_key) else key


def _add(x, injection):
    if injection is None:
        return x
    if x is None:
        return injection
    return (x + injection.astype(x.dtype)).astype(x.dtype)


# --- the public object ---------------------------------------------------------------------------


class Lowered:
    """A graph lowered to JAX. `init` and `apply` are pure: jit, grad and vmap them freely."""

    def __init__(self, graph: nx.MultiDiGraph, compute_dtype="float32", scan_repeats: int = 8):
        self.graph = graph
        self.compute_dtype = jnp.dtype(compute_dtype)
        self.program = GraphProgram(graph, self.compute_dtype, scan_repeats=scan_repeats)

    def init(self, key: jax.Array) -> dict:
        """Parameters (float32), nested by node name; the same key always gives the same tree."""
        return self.program.init(key)

    def apply(self, params: dict, inputs: dict[str, jax.Array], *, rng=None,
              train: bool = False) -> dict[str, jax.Array]:  # fmt: skip
        return self.apply_with_stats(params, inputs, rng=rng, train=train)[0]

    def apply_with_stats(self, params: dict, inputs: dict[str, jax.Array], *, rng=None,
                         train: bool = False, probes: dict | None = None, constrain=None):  # fmt: skip
        """(outputs, stats). stats["wormhole/<gate>/iterations" | "/converged" | "/residual"]
        hold per-example values for every wormhole gate. probes: `adjoint_probes()`, whose
        gradient reports each implicit backward's adjoint solve (fixed_point.py). constrain:
        see RunState (sharding constraints on the activations)."""
        state = RunState(train=train, rng=rng, probes=probes, constrain=constrain)
        env = self.program.run(params, self._check_inputs(inputs), state)
        return self._outputs(env), state.stats

    def cycles(self) -> list[Cycle]:
        """The wormhole cycles of the model's own graph, in schedule order."""
        return [u for u in self.program.schedule if isinstance(u, Cycle)]

    def adjoint_probes(self) -> dict[str, jax.Array]:
        """One zero probe per cycle (by `Cycle.name`): differentiate the loss with respect to
        them to read the adjoint solves (see `fixed_point.probe_cotangent`)."""
        return {c.name: jnp.zeros((fp.PROBE_SIZE,), jnp.float32) for c in self.cycles()}

    # -- FEN local training (segments)
    def local_outputs(self, params: dict, inputs: dict[str, jax.Array], *, rng=None,
                      train: bool = True):  # fmt: skip
        """The model's outputs with the segments node replaced by each local output y_(i,j).

        Returns (segments, outputs): the structure's segments in `SegmentStructure.segments`
        order (the node program's `local_units`), and {output name: array with a leading
        segments axis}.
        """
        (node,) = self._local_training_node()
        state = RunState(train=train, rng=rng, local={})
        checked = self._check_inputs(inputs)
        self.program.run(params, checked, state)
        ys = state.local[node]

        def downstream(y):
            env = self.program.run(params, checked, RunState(train=train, rng=rng),
                                   overrides={node: (y,)})  # fmt: skip
            return self._outputs(env)

        return self.program.node_programs[node].local_units, jax.vmap(downstream)(ys)

    def local_loss_terms(self, params: dict, inputs: dict[str, jax.Array], loss_fn, targets, *,
                         rng=None, train: bool = True) -> jax.Array:  # fmt: skip
        """One loss per segment of S (`SegmentStructure.segments` order), each computed from
        y_(i,j) = omega_(i,j)(sg(eps(1,i-1)), beta_(i,j)(sg(left), sg(right)), sg(eps(j+1,N))).

        loss_fn(outputs: dict[str, Array], targets) -> scalar. The local-training loss is the
        sum of the terms (`local_loss`): each parameter set appears only in its own terms.
        """
        _, outs = self.local_outputs(params, inputs, rng=rng, train=train)
        return jax.vmap(lambda o: loss_fn(o, targets))(outs)

    def local_loss(self, params, inputs, loss_fn, targets, *, rng=None, train=True) -> jax.Array:
        return self.local_loss_terms(params, inputs, loss_fn, targets, rng=rng, train=train).sum()

    # -- helpers
    def first_nonfinite(self, params: dict, inputs: dict[str, jax.Array]) -> str | None:
        """Where NaN or Inf first shows: a sentence naming the node and its spec location, or
        None when every parameter and every node output is finite. Runs eagerly (diagnostics)."""
        import numpy as np

        g = self.graph
        for n in self.program.owners():
            leaves = jax.tree.leaves(self.program.node_params(params, n))
            if any(not np.all(np.isfinite(np.asarray(x))) for x in leaves):
                return f"the parameters of {_where(g, n)} are not finite"
        env = self.program.run(params, self._check_inputs(inputs), RunState(train=False, rng=None))
        for n in topo_order(g):
            outs = [v for (node, _), v in env.items() if node == n]
            if not is_input(g, n) and any(not np.all(np.isfinite(np.asarray(v))) for v in outs):
                return f"the first non-finite value comes out of {_where(g, n)}"
        return None

    def _local_training_node(self) -> list[str]:
        """The node whose op trains locally (`OpDef.local_training`: a segment structure)."""
        g = self.graph
        nodes = sorted(n for n in self.program.node_programs if OPS[ir_node(g, n).op].local_training)
        if len(nodes) != 1:
            raise ValueError(f"local training needs exactly one segments node, found {len(nodes)}")
        return nodes

    def _check_inputs(self, inputs: dict[str, Any]) -> dict[str, jax.Array]:
        g = self.graph
        names = list(g.graph["inputs"])
        unknown = sorted(set(inputs) - set(names))
        if unknown:
            raise ValueError(f"unknown input(s) {unknown}; the model's inputs are {names}")
        checked = {}
        for name in names:
            if name not in inputs:
                raise ValueError(f"missing input {name!r}; the model's inputs are {names}")
            t = output_type(g, (name, 0))
            value = jnp.asarray(inputs[name])
            want = jnp.dtype(t.dtype)
            if value.ndim != t.rank + 1 or tuple(value.shape[1:]) != t.dims:
                raise ValueError(f"input {name!r}: expected shape (batch, {', '.join(map(str, t.dims))})"
                                 f" for {t.resolved()}, got {tuple(value.shape)}")  # fmt: skip
            if value.dtype != want:
                raise ValueError(f"input {name!r}: expected dtype {want} ({t.resolved()}), got "
                                 f"{value.dtype}")  # fmt: skip
            if (
                jnp.issubdtype(value.dtype, jnp.floating)
                and self.compute_dtype.name in LOW_PRECISION
            ):
                value = value.astype(self.compute_dtype)
            checked[name] = value
        return checked

    def _outputs(self, env: dict) -> dict[str, jax.Array]:
        g = self.graph
        outs = {}
        for name, (node, port) in g.graph["outputs"].items():
            value = env[(node, port)]
            want = jnp.dtype(output_type(g, (node, port)).dtype)
            # low-precision compute: outputs back to the declared dtype; a float64 program (a
            # `dtype = float64` run) keeps float64, which rounding to float32 would throw away
            wide = self.compute_dtype == jnp.float64 and value.dtype == jnp.float64
            if jnp.issubdtype(value.dtype, jnp.floating) and value.dtype != want and not wide:
                value = value.astype(want)
            outs[name] = value
        return outs


def lower(graph: nx.MultiDiGraph, *, compute_dtype=None, scan_repeats: int = 8) -> Lowered:
    """Lower a compiled graph to JAX. compute_dtype: "float32" (default), "bfloat16" (params stay
    float32 and are cast for compute; float inputs are cast; outputs come back as declared).
    scan_repeats: stacks of at least this many identical copies lower to one lax.scan (see
    repeats.py); 0 (or False) unrolls every stack. Below about 8 copies the unrolled program runs
    faster on CPU; above it the scan compiles several times faster (benchmarks/compile.py).
    compute_dtype=None: float64 when the spec declares a float64 input or output (JAX's 64-bit
    mode must then be on), else float32."""
    if compute_dtype is None:
        compute_dtype = _declared_float_dtype(graph)
    return Lowered(graph, compute_dtype, scan_repeats)


def _where(g: nx.MultiDiGraph, n: str) -> str:
    """A node as messages name it: '<name>' (<op>, <file:line:col>)."""
    rec = ir_node(g, n)
    return f"'{n}' ({rec.op}, {rec.span})"


def _declared_float_dtype(graph: nx.MultiDiGraph) -> str:
    types = [output_type(graph, (n, 0)) for n in graph.graph["inputs"]]
    types += [output_type(graph, ref) for ref in graph.graph["outputs"].values()]
    if not any(t.dtype == "float64" for t in types):
        return "float32"
    if not jax.config.jax_enable_x64:
        raise ValueError(
            "the spec declares float64 tensors, but JAX's 64-bit mode is off: set JAX_ENABLE_X64=1 "
            "(or jax.config.update('jax_enable_x64', True)) before using it, or declare float32"
        )
    return "float64"
