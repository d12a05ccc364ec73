"""Benchmarks; each module is a command (``python -m bench.<name>``)."""

import streamrec  # noqa: F401  (first: its BLAS thread default must precede numpy)
