"""streamrec: real-time product recommendations and search on Kafka, Faust and Redis."""

import os

# Processes parallelise by themselves (worker processes, ONNX Runtime's and FAISS's own
# threads). OpenBLAS's pool (numpy matrix products) busy-waits between calls: with it,
# the users worker's batched searches cost 5.2 instead of 3.2 ms of CPU per refresh
# (bench_candidate_refresh). Set before numpy loads; an explicit setting wins.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
