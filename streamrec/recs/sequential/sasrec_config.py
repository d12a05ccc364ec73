"""The knobs of the SASRec-style model and of its training."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Literal

SasrecLoss = Literal["sampled_softmax", "bce"]


@dataclass(frozen=True)
class SasrecConfig:
    dim: int = 64
    max_len: int = 50
    """The most recent items the model reads (older ones are cut)."""
    blocks: int = 2
    heads: int = 1
    dropout: float = 0.2
    loss: SasrecLoss = "sampled_softmax"
    """``sampled_softmax``: softmax over the positive and ``negatives`` uniformly sampled
    items shared by the batch (0 or more than the catalog: the full catalog);
    ``bce``: the SASRec paper's binary cross-entropy, ``negatives`` per position."""
    negatives: int = 256
    batch_size: int = 128
    learning_rate: float = 1e-3
    weight_decay: float = 0.0
    epochs: int = 80
    """The most epochs; early stopping usually ends sooner."""
    patience: int = 8
    """Stop after this many epochs without a better validation NDCG@k."""
    k: int = 10
    """Cut-off of the validation metrics."""
    exclude_history: bool = True
    """Whether validation answers leave the history's items out."""
    seed: int = 7
    threads: int = 1
    """``torch.set_num_threads`` during training."""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)
