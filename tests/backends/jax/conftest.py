"""Make the NumPy reference (op_reference.py, next to the tests) importable as a plain module."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
