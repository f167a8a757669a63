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


def memory_parts(model, config) -> dict[str, int]:
    """Bytes one training step holds, from the registry (before anything is allocated):
    parameters, their gradients, the optimiser's buffers, and the activations kept for the
    backward pass (twice the forward activations of one batch: values and their cotangents)."""
    from seqnet.backends.jax.optim import adam_like
    from seqnet.compiler.graph import total_params
    from seqnet.compiler.summary import summarize

    p = total_params(model.graph) * 4
    act = summarize(model.graph)["activation_bytes_per_example"] * config.batch * 2
    return {"parameters": p, "gradients": p, f"{config.optimizer.name} state": p * adam_like(config),
            "activations": act}  # fmt: skip


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
    except Exception:
        pass
    if have is not None and need > have:
        detail = ", ".join(f"{k} {format_bytes(v)}" for k, v in parts.items() if v)
        raise MemoryEstimateError(
            f"training needs about {format_bytes(need)} ({detail}) but only {format_bytes(have)} is "
            f"available; shrink the model's dims or the batch ({config.batch}), or use sgd"
        )


def format_bytes(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if n < 1024 or unit == "TiB":
            return f"{n:.1f} {unit}"
        n /= 1024
    return f"{n} B"
