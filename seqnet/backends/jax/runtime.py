"""The runtime of one model + train config: its lowering, device mesh and shardings, optimiser,
loss and metrics, data splits, jitted steps, evaluation, and restoring a checkpoint into it."""

from __future__ import annotations

import numpy as np

from seqnet.backends.jax import step
from seqnet.backends.jax.checkpoint import CheckpointError
from seqnet.backends.jax.devices import make_mesh
from seqnet.backends.jax.failures import TrainingError
from seqnet.backends.jax.inputs import check_finite, check_lengths, check_targets, check_token_ids
from seqnet.backends.jax.modes import driver_for
from seqnet.backends.jax.placement import Placements

# The initialisation program runs once, and XLA's CPU backend spends seconds optimising it: each
# random draw is a threefry kernel that LLVM compiles separately (the Match3 block's 14 random
# weights: 11 s of compile at the default level, 1.5 s with these options). Values may differ from
# a fully optimised compile in the last bit (1 ulp: fused multiply-adds); every run of a version
# draws the same ones.
INIT_COMPILE_OPTIONS = {"cpu": {"xla_backend_optimization_level": 0, "xla_cpu_use_fusion_emitters": False}}


class Runtime:
    def __init__(self, model, config, *, need_train_data: bool = True):
        import jax
        from jax.sharding import NamedSharding
        from jax.sharding import PartitionSpec as P
        from optax import chain as optax_chain

        from seqnet.backends.jax import losses
        from seqnet.backends.jax.ops.mechanisms import reverse_mode_problems
        from seqnet.backends.jax.optim import host_schedule, make_optimizer
        from seqnet.compiler.loss_terms import term_keys

        self.model, self.config = model, config
        problems = reverse_mode_problems(model.graph)
        if problems:
            raise TrainingError(problems[0])
        if config.dtype != "float32":  # bfloat16: float32 parameters and optimiser; float64: all
            from seqnet.backends.jax.lower import lower

            self.lowered = lower(model.graph, compute_dtype=config.dtype)
        else:
            self.lowered = model.jax_lowering()
        self.inputs = dict(model.inputs)
        self.outputs = dict(model.outputs)
        key = jax.random.PRNGKey(config.seed)
        self.init_key = jax.random.fold_in(key, 0)
        self.dropout_key = jax.random.fold_in(key, 1)
        self.mesh = make_mesh(config)
        self.data_size = self.mesh.shape[config.data_axis]
        if config.batch % self.data_size:
            raise TrainingError(f"batch {config.batch} does not divide over the {self.data_size} "
                                f"devices of mesh axis '{config.data_axis}'")  # fmt: skip
        self.replicated = NamedSharding(self.mesh, P())
        self.batch_sharding = NamedSharding(self.mesh, P(config.data_axis))
        self.placements = Placements(model.graph, config, self.mesh)
        self.tx, self.schedule = make_optimizer(config)
        self.lr_of = host_schedule(config, self.schedule)  # step -> float, for the logs
        # the parameters' shapes and dtypes, traced once: the decoder rates, the shardings and
        # `restore`'s checks of a checkpoint all read them
        self.params_shape = jax.eval_shape(self._init, self.init_key)
        if config.decoder_lr is not None:
            from seqnet.backends.jax.optim import base_lr, decoder_scales, scale_subtrees

            ratio = config.decoder_lr / base_lr(config)
            scales = decoder_scales(self.params_shape, model.graph, ratio)
            self.tx = optax_chain(self.tx, scale_subtrees(scales))
        lo = config.loss
        self.loss_fn = losses.get_loss(lo.name)
        self.loss_probs = losses.output_is_probability(model.graph, lo.output)
        self.metric_specs = []
        names = [m.name for m in config.metrics]
        for m in config.metrics:
            key = m.name if names.count(m.name) == 1 else f"{m.name}_{m.output}_{m.target}"
            probs = losses.output_is_probability(model.graph, m.output)
            self.metric_specs.append(step.Term(key, losses.get_metric(m.name), m.output, m.target, probs,
                                               m.lengths))  # fmt: skip
        self.loss_terms = [  # every term of the loss
            step.Term(key, losses.get_loss(t.name), t.output, t.target,
                      losses.output_is_probability(model.graph, t.output), t.lengths, t.weight)
            for key, t in zip(term_keys(config.terms), config.terms, strict=True)
        ]  # fmt: skip
        targets = [t.target for t in config.terms] + [m.target for m in config.metrics]
        targets += [o.lengths for o in (*config.terms, *config.metrics) if o.lengths]
        self.fields = list(dict.fromkeys([*self.inputs, *targets]))
        self.local_terms = None  # FEN local training: set by the local mode's driver,
        self.local_reduction = "sum"  # with how its per-segment losses combine
        self.driver = driver_for(config.mode)(self)
        self._train_step = None
        self._eval_step = None
        self.opt_shape = self.opt_template(self.params_shape)
        self.param_shardings = self.placements.params(self.params_shape)
        self.opt_shardings = self.placements.opt(self.opt_shape, self.params_shape)
        # (params, opt_state, step): where the train step takes and leaves its donated state
        self.state_shardings = (self.param_shardings, self.opt_shardings, self.replicated)

    # -- initial state
    def _init(self, key):
        """The initial parameters; float64 runs keep them (and the optimiser) in float64."""
        import jax

        params = self.lowered.init(key)
        if self.config.dtype != "float64":
            return params
        return jax.tree_util.tree_map(lambda w: w.astype("float64") if w.dtype.kind == "f" else w, params)

    def opt_template(self, params_template):
        import jax

        return jax.eval_shape(self.tx.init, params_template)

    def init_state(self):
        """Parameters and optimiser state created where they live: each device computes only
        its own shards (jit with out shardings), never the whole state on one device."""
        import jax

        def init(key):  # one program for both: one compile at start-up, not two
            params = self._init(key)
            return params, self.tx.init(params)

        lowered = jax.jit(init, out_shardings=(self.param_shardings, self.opt_shardings)).lower(self.init_key)
        return lowered.compile(compiler_options=INIT_COMPILE_OPTIONS.get(jax.default_backend()))(self.init_key)

    # -- data
    def load_split(self, split: str, n_examples: int | None = None, **args) -> dict[str, np.ndarray]:
        """One split of the data source; `args` over the spec's (a curriculum's length=)."""
        from seqnet.data import get_source

        c = self.config.data
        arrays = get_source(c.name).load(split, n_examples, self.config.seed, **{**c.args, **args})
        missing = [f for f in self.fields if f not in arrays]
        if missing:
            raise TrainingError(f"data source {c.name} gives no field {', '.join(map(repr, missing))}")
        out = {}
        for f in self.fields:
            a = np.asarray(arrays[f])
            if f in self.inputs:
                a = a.astype(self.inputs[f].dtype, copy=False)
            out[f] = a
        checks = [(t.name, t.output, t.target) for t in self.config.terms]
        checks += [(m.name, m.output, m.target) for m in self.config.metrics]
        for f, a in out.items():  # a NaN here would surface as "training diverged"
            check_finite(f, a, f"data source {c.name} ({split} split): field",
                         "the data holds a non-finite value; fix or drop that example")  # fmt: skip
        for f, t in self.inputs.items():  # npz ids may exceed a vocabulary the file does not state
            check_token_ids(f, out[f], t, f"data source {c.name} ({split} split): input '{f}'")
        for loss, output, target in checks:
            check_targets(loss, self.outputs[output], target, out[target], f"{c.name} ({split} split)")
        for o in (*self.config.terms, *self.config.metrics):
            if o.lengths:
                check_lengths(o.lengths, out[o.lengths], out[o.target].shape[1], o.target,
                              f"{c.name} ({split} split)")  # fmt: skip
        return out

    def put_batch(self, batch: dict[str, np.ndarray]):
        import jax

        count = jax.process_count()
        if count > 1:
            # Every process draws the same global batch (same seed); each hands its own slice
            # to the devices it drives, and JAX assembles the global array from the slices.
            index = jax.process_index()
            out = {}
            for k, v in batch.items():
                if len(v) % count:
                    raise TrainingError(f"batch {len(v)} does not split evenly over {count} processes")
                per = len(v) // count
                out[k] = jax.make_array_from_process_local_data(
                    self.batch_sharding, v[index * per : (index + 1) * per], v.shape
                )
            return out
        return jax.device_put(batch, self.batch_sharding)

    # -- functions
    def forward(self, params, inputs, rng, train, probes=None):
        """The lowering's apply, with its stats (wormhole iterations and convergence), and the
        activations constrained to the splits the sharding plan implies."""
        constrain = self.placements.constrain if self.placements.activations else None
        return self.lowered.apply_with_stats(params, inputs, rng=rng, train=train, probes=probes,
                                             constrain=constrain)  # fmt: skip

    def local_objective(self, params, batch, inputs, rng):
        return step.local_objective(self, params, batch, inputs, rng)

    def train_step(self):
        if self._train_step is None:
            self._train_step = self.driver.train_step()
        return self._train_step

    def eval_step(self):
        if self._eval_step is None:
            self._eval_step = step.make_eval_step(self)
        return self._eval_step

    def eval_batches(self, arrays: dict[str, np.ndarray], limit: int | None):
        """Fixed-shape batches (the last padded) with a mask of real examples."""
        b = self.config.batch
        n = len(next(iter(arrays.values())))
        if limit:
            n = min(n, limit * b)
        out = []
        for start in range(0, n, b):
            stop = min(start + b, n)
            batch = {k: v[start:stop] for k, v in arrays.items()}
            mask = np.ones(b, np.float32)
            if stop - start < b:
                pad = b - (stop - start)
                batch = {k: np.concatenate([v, np.repeat(v[:1], pad, axis=0)]) for k, v in batch.items()}
                mask[stop - start:] = 0
            out.append((batch, mask))
        return out

    def evaluate(self, params, batches) -> dict[str, float]:
        import jax

        eval_step = self.eval_step()
        totals = worst = None
        for batch, mask in batches:
            sums, maxes = eval_step(params, self.put_batch(batch), self.put_batch({"mask": mask})["mask"])
            totals = sums if totals is None else jax.tree_util.tree_map(lambda a, b: a + b, totals, sums)
            worst = maxes if worst is None else jax.tree_util.tree_map(jax.numpy.maximum, worst, maxes)
        if totals is None:
            return {}
        totals, worst = jax.device_get((totals, worst))
        count = max(float(totals.pop("count")), 1.0)
        weights = {k.split("/", 1)[1]: max(float(totals.pop(k)), 1.0) for k in list(totals)
                   if k.startswith("weights/")}  # fmt: skip
        means = {k: float(v) / weights.get(k, count) for k, v in totals.items()}
        terms = self.loss_terms
        loss = sum(t.weight * means[t.key] for t in terms)
        if len(terms) == 1 and terms[0].weight == 1.0:  # one term: the loss, not logged twice
            loss = means.pop(terms[0].key)
        return {"loss": loss, **means, **{k: float(v) for k, v in worst.items()}}

    # -- checkpoints
    def restore(self, path, *, with_opt: bool = True):
        """(params, opt_state or None, meta) from a checkpoint, checked against this model."""
        import jax

        from seqnet.backends.jax import checkpoint as ck

        meta, tensors = ck.read(path)
        where = meta["path"]
        params = ck.unflatten(self.params_shape, "params", tensors, where)
        opt_state = None
        if with_opt:
            if not any(k.startswith("opt/") for k in tensors) and jax.tree_util.tree_leaves(self.opt_shape):
                raise CheckpointError(f"checkpoint {where} holds no optimizer state; it cannot resume training")
            try:
                opt_state = ck.unflatten(self.opt_shape, "opt", tensors, where)
            except CheckpointError as e:
                raise CheckpointError(
                    f"{e} (the optimizer state does not match: the checkpoint was written with "
                    f"optimizer {meta.get('optimizer', '?')}, this run uses {self.config.optimizer.name})"
                ) from None
            opt_state = jax.device_put(opt_state, self.opt_shardings)
        params = jax.device_put(params, self.param_shardings)  # resharded to this run's mesh
        return params, opt_state, meta
