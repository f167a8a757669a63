"""The memory a training step needs, estimated before anything is allocated, and the check."""

from __future__ import annotations

from seqnet.backends.jax.failures import MemoryEstimateError


def available_memory() -> int | None:
    """MemAvailable from /proc/meminfo in bytes (None when it cannot be read)."""
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        return None
    return None


def node_temporaries(graph) -> list[tuple[str, dict[str, int]]]:
    """(node, {what: bytes per example}) of every op that holds temporaries, segment regions
    included (compiler/summary.temporaries: the registry's cost rules)."""
    from seqnet.compiler.summary import temporaries

    return temporaries(graph)


def memory_parts(model, config) -> dict[str, int]:
    """Bytes one training step holds, from the registry (before anything is allocated):
    parameters, their gradients, the optimiser's buffers, the activations kept for the
    backward pass (twice the forward activations of one batch: values and their cotangents),
    and, where ops hold any, their temporaries (twice over, for the same reason)."""
    from seqnet.backends.jax.optim import adam_like
    from seqnet.compiler.graph import total_params
    from seqnet.compiler.summary import summarize

    p = total_params(model.graph) * 4
    act = summarize(model.graph)["activation_bytes_per_example"] * config.batch * 2
    parts = {"parameters": p, "gradients": p, f"{config.optimizer.name} state": p * adam_like(config),
             "activations": act}  # fmt: skip
    temporaries = summarize(model.graph)["temporary_bytes_per_example"]
    if temporaries:
        parts["temporaries"] = temporaries * config.batch * 2
    return parts


def device_parts(model, config, devices: int) -> dict[str, int]:
    """One device's share of a training step under the mesh and sharding rules."""
    from seqnet.compiler.sharding import device_memory
    from seqnet.compiler.summary import summarize

    data = summarize(model.graph)
    per_example = data["activation_bytes_per_example"] + data["temporary_bytes_per_example"]
    return device_memory(model.graph, config, devices, per_example)["parts"]


def estimate_memory(model, config) -> int:
    return sum(memory_parts(model, config).values())


def check_memory(model, config) -> None:
    """MemoryEstimateError when the estimate exceeds the device's free memory (or the host's)."""
    parts = memory_parts(model, config)
    need = sum(parts.values())
    have = available_memory()
    try:
        import jax

        stats = jax.devices()[0].memory_stats() or {}
        if "bytes_limit" in stats:
            have = stats["bytes_limit"] - stats.get("bytes_in_use", 0)
            if config.sharding.active:  # an accelerator holds its share of the sharded state
                parts = device_parts(model, config, jax.device_count())
                need = sum(parts.values())
    except Exception:
        pass
    if have is not None and need > have:
        detail = ", ".join(f"{k} {format_bytes(v)}" for k, v in parts.items() if v)
        raise MemoryEstimateError(
            f"training needs about {format_bytes(need)} ({detail}) but only {format_bytes(have)} is "
            f"available; shrink the model's dims or the batch ({config.batch}), or use sgd"
            + largest_temporaries(model.graph)
        )


def largest_temporaries(graph) -> str:
    """A sentence naming the node, op and tensors of the largest temporaries ("" if none)."""
    found = node_temporaries(graph)
    if not found:
        return ""
    node, parts = max(found, key=lambda item: sum(item[1].values()))
    from seqnet.compiler.ir import node as ir_node

    rec = ir_node(graph, node)
    what, size = max(parts.items(), key=lambda kv: kv[1])
    return (f"; the largest temporaries are those of {rec.op} '{node}' ({rec.span}): "
            f"{format_bytes(sum(parts.values()))} per example, most of it {what} "
            f"({format_bytes(size)})")


def format_bytes(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if n < 1024 or unit == "TiB":
            return f"{n:.1f} {unit}"
        n /= 1024
    return f"{n} B"
