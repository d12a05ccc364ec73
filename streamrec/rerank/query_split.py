"""Deterministic train / validation / test split by query.

Every judgment of a query lands in the same part, so no test query was ever seen in
training (splitting by row would leak the query's other judgments). The part depends
only on a hash of the normalised query text and a salt: the same on every machine and
every run, and stable when judgments are added.
"""

from __future__ import annotations

import hashlib
from typing import Literal

Split = Literal["train", "validation", "test"]
DEFAULT_SALT = "streamrec-rerank-split-1"
VALIDATION_SHARE = 0.1
TEST_SHARE = 0.2


def query_split(query: str, validation_share: float = VALIDATION_SHARE,
                test_share: float = TEST_SHARE,
                salt: str = DEFAULT_SALT) -> Split:
    """Which part ``query`` belongs to (case and spacing do not matter)."""
    if validation_share < 0 or test_share < 0 or validation_share + test_share >= 1:
        raise ValueError("shares must be >= 0 and leave room for training")
    key = f"{salt}\x00{' '.join(query.lower().split())}".encode()
    fraction = int.from_bytes(hashlib.blake2b(key, digest_size=8).digest()) / 2**64
    if fraction < test_share:
        return "test"
    if fraction < test_share + validation_share:
        return "validation"
    return "train"
