"""The next-item training losses over the states of the non-padded positions.

* ``sampled_softmax``: cross-entropy of the positive against ``negatives`` items drawn
  uniformly for the whole batch (a negative equal to a row's positive is masked); with
  ``negatives`` 0 or at least the catalog size, the full softmax over every item.
* ``bce``: the SASRec paper's loss, ``-log sigmoid(h.e+) - sum log(1 - sigmoid(h.e-))`` with
  ``negatives`` uniformly drawn items per position.
"""

from __future__ import annotations

from typing import Any

from streamrec.recs.sequential.sasrec_config import SasrecConfig


def next_item_loss(states: Any, positives: Any, item_weights: Any, config: SasrecConfig,
                   generator: Any) -> Any:
    """``states`` ``(n, dim)``, ``positives`` ``(n,)`` ids, ``item_weights``
    ``(n_items + 1, dim)`` (row 0 is padding) -> the mean loss."""
    import torch
    import torch.nn.functional as F

    n_items = item_weights.shape[0] - 1
    if config.loss == "bce":
        negatives = torch.randint(1, n_items + 1, (len(positives), max(config.negatives, 1)),
                                  generator=generator)
        positive_logits = (states * item_weights[positives]).sum(-1)
        negative_logits = torch.einsum("nd,nsd->ns", states, item_weights[negatives])
        return (F.binary_cross_entropy_with_logits(
                    positive_logits, torch.ones_like(positive_logits))
                + F.binary_cross_entropy_with_logits(
                    negative_logits, torch.zeros_like(negative_logits),
                    reduction="none").sum(-1).mean())
    if config.negatives <= 0 or config.negatives >= n_items:
        logits = states @ item_weights[1:].T
        return F.cross_entropy(logits, positives - 1)
    negatives = torch.randint(1, n_items + 1, (config.negatives,), generator=generator)
    positive_logits = (states * item_weights[positives]).sum(-1, keepdim=True)
    negative_logits = states @ item_weights[negatives].T
    negative_logits = negative_logits.masked_fill(
        negatives.unsqueeze(0) == positives.unsqueeze(1), float("-inf"))
    logits = torch.cat([positive_logits, negative_logits], dim=1)
    return F.cross_entropy(logits, torch.zeros(len(positives), dtype=torch.long))
