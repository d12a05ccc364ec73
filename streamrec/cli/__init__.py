"""The ``streamrec`` command line.

Processes started from it (API, workers) keep BLAS and OpenMP to one thread unless the
environment says otherwise: their math is many small operations (a 40x384 matrix
product, one HNSW query), where waking a thread pool costs more than the work. Measured
on the recommendation pipeline: the diversify stage went from ~6 ms to ~0.6 ms per
request. Scale with processes (``streamrec api --workers N``) instead.
"""

import os

for _variable in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_variable, "1")
