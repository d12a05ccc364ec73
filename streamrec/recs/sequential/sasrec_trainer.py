"""Trains a SASRec network on training sequences, early-stopped on a validation split.

Deterministic for a given seed and thread count: the network's initialisation and
dropout (``torch.manual_seed``), the batch order (NumPy) and the negatives (a
``torch.Generator``) all derive from ``config.seed``. After each epoch the validation
cases are answered through ``SasrecRecommender`` (as the evaluation answers its users)
and scored with ``NextItemScores``; the state with the best NDCG@k is kept, and training
stops after ``config.patience`` epochs without a better one.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from streamrec.evaluation.next_item_baselines import NextItemScores
from streamrec.evaluation.phase_progress import LogPhaseProgress, PhaseProgress
from streamrec.recs.sequential.item_vocabulary import PADDING_ID, item_vocabulary
from streamrec.recs.sequential.sasrec_config import SasrecConfig
from streamrec.recs.sequential.sasrec_loss import next_item_loss
from streamrec.recs.sequential.sasrec_network import sasrec_network
from streamrec.recs.sequential.sasrec_recommender import SasrecRecommender
from streamrec.recs.sequential.sasrec_training_data import sasrec_training_data
from streamrec.recs.sequential.validation_split import ValidationCase


@dataclass
class SasrecTraining:
    recommender: SasrecRecommender
    epochs: list[dict[str, Any]] = field(default_factory=list)
    """Per epoch: loss, validation HR/NDCG/MRR@k, seconds."""
    best_epoch: int = 0
    seconds: float = 0.0
    """Training wall clock, validation included."""
    sequences: int = 0
    positions: int = 0
    parameters: int = 0

    @property
    def best(self) -> dict[str, Any]:
        return self.epochs[self.best_epoch - 1] if self.best_epoch else {}


def train_sasrec(training: Sequence[Sequence[str]], validation: Sequence[ValidationCase],
                 config: SasrecConfig, progress: PhaseProgress | None = None
                 ) -> SasrecTraining:
    import torch

    started = time.perf_counter()
    progress = progress or LogPhaseProgress()
    torch.set_num_threads(config.threads)
    torch.manual_seed(config.seed)
    generator = torch.Generator().manual_seed(config.seed)
    rng = np.random.default_rng(config.seed)

    vocabulary = item_vocabulary(training)
    data = sasrec_training_data(training, vocabulary, config.max_len)
    network = sasrec_network(config, len(vocabulary))
    recommender = SasrecRecommender(network, vocabulary)
    optimizer = torch.optim.Adam(network.parameters(), lr=config.learning_rate,
                                 betas=(0.9, 0.98), weight_decay=config.weight_decay)
    result = SasrecTraining(recommender, sequences=len(data), positions=data.positions,
                            parameters=sum(p.numel() for p in network.parameters()))
    best_ndcg, best_state, stale = -1.0, None, 0
    for epoch in range(1, config.epochs + 1):
        epoch_started = time.perf_counter()
        network.train()
        loss_sum, batches = 0.0, 0
        with progress.phase(f"epoch {epoch}", data.batch_count(config.batch_size)) as advance:
            for inputs, targets in data.batches(config.batch_size, rng):
                inputs_t, targets_t = torch.from_numpy(inputs), torch.from_numpy(targets)
                real = targets_t != PADDING_ID
                states = network.hidden(inputs_t)[real]
                loss = next_item_loss(states, targets_t[real], network.items.weight, config,
                                      generator)
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
                loss_sum += loss.item()
                batches += 1
                advance(1)
        scores = validation_scores(recommender, validation, config)
        row = {"epoch": epoch, "loss": round(loss_sum / max(batches, 1), 4),
               **{key: scores[key] for key in (f"hr@{config.k}", f"ndcg@{config.k}",
                                                f"mrr@{config.k}")},
               "seconds": round(time.perf_counter() - epoch_started, 1)}
        result.epochs.append(row)
        progress.log(f"epoch {epoch}: loss {row['loss']:.4f}, validation "
                     f"HR@{config.k} {row[f'hr@{config.k}']:.4f} NDCG@{config.k} "
                     f"{row[f'ndcg@{config.k}']:.4f} ({row['seconds']:.1f} s)")
        if row[f"ndcg@{config.k}"] > best_ndcg or not validation:
            best_ndcg, stale = row[f"ndcg@{config.k}"], 0
            best_state = copy.deepcopy(network.state_dict())
            result.best_epoch = epoch
        else:
            stale += 1
            if stale >= config.patience:
                break
    if best_state is not None:
        network.load_state_dict(best_state)
    network.eval()
    result.seconds = round(time.perf_counter() - started, 1)
    return result


def validation_scores(recommender: SasrecRecommender, cases: Sequence[ValidationCase],
                      config: SasrecConfig) -> dict[str, float]:
    scores = NextItemScores(config.k)
    for case in cases:
        scores.add(recommender.recommend(case.history, config.k,
                                         exclude_history=config.exclude_history), case.target)
    return scores.summary(len(recommender.vocabulary))
