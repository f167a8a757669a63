"""Where parameters and optimiser state live on the mesh: the compiler's sharding plan
(compiler/sharding.py) as a tree of NamedShardings, one per leaf.

A parameter gets the PartitionSpec of its Placement (a graph node's, or one in a scanned cell
or a segment structure, by its key path); one the plan does not describe (in a region inside a
region) gets fsdp's choice for its shape. An
optimiser-state leaf shaped like a parameter and ending in that parameter's key path (adam's mu
and nu: "0/mu/<node>/<name>") lives where the parameter lives; the rest (step counts) is
replicated. The step function is compiled with these as its in and out shardings, and `init`
with them as out shardings, so no parameter is ever whole on one device.
"""

from __future__ import annotations

from seqnet.backends.jax.checkpoint import flatten
from seqnet.backends.jax.failures import TrainingError
from seqnet.compiler import sharding


class Placements:
    """The shardings of one runtime: `params(template)` and `opt(template, params_template)`;
    a rule that does not fit the mesh as sized now (a -1 axis) is a TrainingError."""

    def __init__(self, graph, config, mesh):
        self.mesh, self.config = mesh, config.sharding
        self.sizes = {k: int(v) for k, v in mesh.shape.items()}
        self.plan, problems = sharding.plan(graph, self.config, self.sizes)
        if problems:
            p = problems[0]
            more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
            raise TrainingError(f"sharding {sharding.rule_text(p.rule)}: {p.message}{more}"
                                + (f"; {p.hint}" if p.hint else ""))  # fmt: skip
        # the activations' splits the plan implies (sharding constraints in the lowering);
        # none without rules, where the partitioner's propagation from the batch is the plan
        active = self.config.active and mesh.devices.size > 1
        self.activations = (sharding.activation_specs(graph, self.config, self.plan, config.data_axis)
                            if active else {})  # fmt: skip

    def named(self, spec: tuple) -> object:
        from jax.sharding import NamedSharding
        from jax.sharding import PartitionSpec as P

        return NamedSharding(self.mesh, P(*spec))

    def param_spec(self, key: str, shape: tuple[int, ...]) -> tuple:
        """The mesh axis per array axis of the parameter at key path "params/<node...>/<name>"."""
        *node, name = key.split("/")[1:]
        placement = self.plan.get(("/".join(node), name))
        if placement is not None and placement.shape == tuple(shape):
            return placement.spec
        return sharding.leaf_spec(tuple(shape), self.config, self.sizes)

    def params(self, template):
        import jax

        specs = {k: self.param_spec(k, v.shape) for k, v in flatten(template, "params").items()}
        leaves = [self.named(s) for s in specs.values()]
        return jax.tree_util.tree_unflatten(jax.tree_util.tree_structure(template), leaves)

    def opt(self, template, params_template):
        """Each optimiser-state leaf where its parameter lives (matched by key path suffix)."""
        import jax

        by_path = {k[len("params/"):]: (tuple(v.shape), self.param_spec(k, v.shape))
                   for k, v in flatten(params_template, "params").items()}  # fmt: skip
        out = []
        for key, leaf in flatten(template, "opt").items():
            parts = key.split("/")[1:]
            spec = ()
            for i in range(len(parts)):
                found = by_path.get("/".join(parts[i:]))
                if found is not None and found[0] == tuple(leaf.shape):
                    spec = found[1]
                    break
            out.append(self.named(spec))
        return jax.tree_util.tree_unflatten(jax.tree_util.tree_structure(template), out)

    def constrain(self, node: str, outs: tuple) -> tuple:
        """Node `node`'s results with the splits the plan implies (`with_sharding_constraint`):
        the first result as `activations` says, the others by the batch alone. Every other
        axis is left open (PartitionSpec.UNCONSTRAINED), for the partitioner to choose: closing
        them (whole) cost tensor parallel 1.28x the temporaries (docs/sharding.md). An axis
        whose size the mesh axis does not divide (a predict batch of 3) is left open too."""
        import jax
        from jax.sharding import NamedSharding
        from jax.sharding import PartitionSpec as P

        spec = self.activations.get(node)
        if spec is None:
            return outs
        out = []
        for port, v in enumerate(outs):
            want = (spec if port == 0 else spec[:1]) + (None,) * v.ndim
            want = [a if a and v.shape[i] % self.sizes[a] == 0 else None for i, a in enumerate(want[: v.ndim])]
            free = P(*(a or P.UNCONSTRAINED for a in want))
            out.append(jax.lax.with_sharding_constraint(v, NamedSharding(self.mesh, free)) if any(want) else v)
        return tuple(out)

    def per_device_bytes(self, tree) -> int:
        """Bytes of `tree` (placed arrays) that the first device holds."""
        import jax

        device = self.mesh.devices.flat[0]
        total = 0
        for leaf in jax.tree_util.tree_leaves(tree):
            for shard in leaf.addressable_shards:
                if shard.device == device:
                    total += shard.data.nbytes
        return total
