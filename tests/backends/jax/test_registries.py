"""Every entry of the compiler's train-section registries has its JAX rule, and the defaults the
runtime builds with are the registry's."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import pytest

from seqnet.backends.jax import losses, optim
from seqnet.compiler.objectives import LOSSES, METRICS, OBJECTIVES
from seqnet.compiler.train_config import OPTIMIZERS, SCHEDULES, CallSpec, LossSpec, TrainConfig


@pytest.mark.parametrize("name", sorted(OBJECTIVES))
def test_every_objective_has_a_jax_function(name):
    if name in LOSSES:
        assert losses.get_loss(name) is losses.LOSSES[name]
    if name in METRICS:
        assert losses.get_metric(name) is losses.METRICS[name]


def test_the_runtime_knows_no_objective_the_compiler_does_not():
    assert set(losses.LOSSES) <= set(LOSSES)
    assert set(losses.METRICS) <= set(METRICS)


def _config(optimizer="adam", schedule="constant", **args):
    return TrainConfig(data=CallSpec(name="parity", args={"n": 4}),
                       loss=LossSpec(name="cross_entropy", output="y", target="label"),
                       optimizer=CallSpec(name=optimizer, args=args),
                       schedule=CallSpec(name=schedule))  # fmt: skip


@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
def test_every_optimizer_builds_with_its_registry_defaults(name):
    assert set(optim.OPTIMIZER_RULES) == set(OPTIMIZERS)
    tx, schedule = optim.make_optimizer(_config(name))
    assert float(schedule(0)) == pytest.approx(OPTIMIZERS[name]().lr, rel=1e-6, abs=0.0)
    assert callable(tx.init) and callable(tx.update)
    # the memory estimate's count of parameter-sized buffers is what the optimiser keeps
    state = tx.init({"w": jnp.zeros((3, 5))})
    kept = [x for x in jax.tree_util.tree_leaves(state) if getattr(x, "shape", None) == (3, 5)]
    # (at most one more: rmsprop keeps its momentum buffer only when momentum > 0)
    assert len(kept) <= OPTIMIZERS[name].buffers <= len(kept) + 1


@pytest.mark.parametrize("name", sorted(SCHEDULES))
def test_every_schedule_builds(name):
    assert set(optim.SCHEDULE_RULES) == set(SCHEDULES)
    _tx, schedule = optim.make_optimizer(_config(schedule=name))
    assert 0.0 <= float(schedule(10)) <= 1e-3 * (1 + 1e-6)


def test_a_given_argument_replaces_only_its_default():
    assert optim.base_lr(_config("adamw", lr=3e-3)) == pytest.approx(3e-3, rel=1e-12, abs=0.0)
    with pytest.raises(ValueError, match="unknown optimizer 'adamm'"):
        optim.make_optimizer(_config("adamm"))


@pytest.mark.parametrize("name", sorted(SCHEDULES))
def test_the_logged_learning_rate_is_the_schedules(name):
    """host_schedule (the rate in logs and messages) against the optax schedule called as it is,
    over the first steps and past the warm-up; a constant rate is the spec's number exactly."""
    config = _config("adam", lr=3e-3, schedule=name)
    _tx, schedule = optim.make_optimizer(config)
    lr_of = optim.host_schedule(config, schedule)
    for step in (0, 1, 7, 50, 999):
        got = lr_of(step)
        assert isinstance(got, float)
        assert got == pytest.approx(float(schedule(step)), rel=1e-6, abs=1e-12)
    if name == "constant":
        assert lr_of(5) == 3e-3
