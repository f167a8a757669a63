"""The command line's argparse value types: each turns a malformed value into a usage error
(exit 2) with a message that says what was expected."""

from __future__ import annotations

import argparse
import math


def temperature(text: str) -> float:
    """An argparse type: a finite number >= 0."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not math.isfinite(value) or value < 0:
        raise argparse.ArgumentTypeError(f"must be a finite number >= 0, got {text}")
    return value


def count(least: int, most: int | None = None):
    """An argparse type: a whole number in [least, most] (a usage error, exit 2, otherwise)."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
        if value < least:
            raise argparse.ArgumentTypeError(f"must be at least {least}, got {value}")
        if most is not None and value > most:
            raise argparse.ArgumentTypeError(f"must be at most {most}, got {value}")
        return value

    parse.__name__ = "count"
    return parse


def host_port(text: str) -> str:
    """An argparse type for --coordinator: HOST:PORT with a port in 1-65535 (JAX itself would
    fail on a malformed address with an IndexError or a hang)."""
    host, sep, port = text.rpartition(":")
    if not sep or not host or not port.isdigit() or not 1 <= int(port) <= 65535:
        raise argparse.ArgumentTypeError(f"expected HOST:PORT (for example host0:1234), got {text!r}")
    return text
