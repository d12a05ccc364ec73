"""Training sequences as left-padded arrays of inputs and next-item targets.

A sequence of ids ``s`` (its last ``max_len + 1`` items) gives inputs ``s[:-1]`` and
targets ``s[1:]``: every position is trained to predict the item after it, as in the
SASRec paper. Sequences with fewer than two known items teach nothing and are dropped.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from streamrec.recs.sequential.item_vocabulary import PADDING_ID, ItemVocabulary


@dataclass(frozen=True)
class SasrecTrainingData:
    inputs: np.ndarray
    """``(sequences, max_len)`` int64, left-padded with ``PADDING_ID``."""
    targets: np.ndarray
    """Same shape: the item after each input position (padding where there is none)."""
    lengths: np.ndarray
    """Non-padded positions per row."""

    def __len__(self) -> int:
        return len(self.lengths)

    @property
    def positions(self) -> int:
        return int(self.lengths.sum())

    def batches(self, batch_size: int, rng: np.random.Generator, pool: int = 50
                ) -> Iterable[tuple[np.ndarray, np.ndarray]]:
        """Shuffled ``(inputs, targets)`` batches, cut to their longest row. Rows are
        shuffled, then grouped by length within pools of ``pool`` batches (so a batch
        holds rows of similar length and little padding), then the batches shuffled."""
        order = rng.permutation(len(self))
        span = batch_size * pool
        batches: list[np.ndarray] = []
        for start in range(0, len(order), span):
            chunk = order[start:start + span]
            chunk = chunk[np.argsort(self.lengths[chunk], kind="stable")]
            batches += [chunk[i:i + batch_size] for i in range(0, len(chunk), batch_size)]
        for index in rng.permutation(len(batches)):
            rows = batches[index]
            width = int(self.lengths[rows].max())
            yield self.inputs[rows, -width:], self.targets[rows, -width:]

    def batch_count(self, batch_size: int, pool: int = 50) -> int:
        span = batch_size * pool
        full, rest = divmod(len(self), span)
        return full * pool + -(-rest // batch_size)


def sasrec_training_data(sequences: Iterable[Sequence[str]], vocabulary: ItemVocabulary,
                         max_len: int) -> SasrecTrainingData:
    rows = [ids[-(max_len + 1):] for ids in (vocabulary.encode(s) for s in sequences)
            if len(ids) >= 2]
    inputs = np.full((len(rows), max_len), PADDING_ID, dtype=np.int64)
    targets = np.full((len(rows), max_len), PADDING_ID, dtype=np.int64)
    lengths = np.zeros(len(rows), dtype=np.int64)
    for row, ids in enumerate(rows):
        n = len(ids) - 1
        inputs[row, max_len - n:] = ids[:-1]
        targets[row, max_len - n:] = ids[1:]
        lengths[row] = n
    return SasrecTrainingData(inputs, targets, lengths)
