"""Ctrl-C during training: a flag the loop checks between steps, so no KeyboardInterrupt lands
inside JAX's own callbacks (where it would be swallowed) or halfway through a write."""

from __future__ import annotations

import signal
import sys
import threading


class SigintFlag:
    """While active (main thread only), the first Ctrl-C sets a flag; the second raises."""

    def __init__(self):
        self.hit = False
        self._old = None

    def __enter__(self):
        if threading.current_thread() is threading.main_thread():
            try:
                self._old = signal.signal(signal.SIGINT, self._handler)
            except ValueError:
                self._old = None
        return self

    def _handler(self, signum, frame):
        if self.hit:
            raise KeyboardInterrupt
        self.hit = True

    def check(self, where: str) -> None:
        """Stop here if Ctrl-C was pressed (before anything was written)."""
        if self.hit:
            print(f"seqnet: interrupted {where}: nothing was written", file=sys.stderr)
            raise KeyboardInterrupt

    def __exit__(self, *exc):
        if self._old is not None:
            signal.signal(signal.SIGINT, self._old)
