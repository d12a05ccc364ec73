"""An early-stopping set carved from the training users, never from the evaluation users.

A seeded sample of the training sequences gives up its last item: that item becomes a
validation target (after the rest of the sequence as history) and is removed from
training, so the model never sees it. Every other sequence trains whole.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class ValidationCase:
    history: list[str]
    target: str


@dataclass(frozen=True)
class ValidationSplit:
    training: list[list[str]]
    validation: list[ValidationCase]


def validation_split(sequences: Sequence[Sequence[str]], users: int, seed: int,
                     *, min_history: int = 1,
                     extra_training: Sequence[Sequence[str]] = ()) -> ValidationSplit:
    """Hold out the last item of ``users`` of ``sequences`` (those with at least
    ``min_history`` items before it). ``extra_training`` (e.g. the evaluation users'
    histories, which the live system also sees) is added to training untouched and is
    never sampled for validation."""
    eligible = [i for i, seq in enumerate(sequences) if len(seq) > min_history]
    chosen = set(random.Random(seed).sample(eligible, min(users, len(eligible))))
    training: list[list[str]] = []
    validation: list[ValidationCase] = []
    for i, seq in enumerate(sequences):
        if i in chosen:
            training.append(list(seq[:-1]))
            validation.append(ValidationCase(list(seq[:-1]), seq[-1]))
        else:
            training.append(list(seq))
    training.extend(list(seq) for seq in extra_training)
    return ValidationSplit(training, validation)
