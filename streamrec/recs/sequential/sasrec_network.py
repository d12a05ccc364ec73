"""The SASRec network (Kang & McAuley, 2018): item and learned position embeddings,
causal self-attention blocks, the last position's state scored against every item
embedding (shared input/output embeddings).

Blocks follow the reference implementation: ``q = LN(x)``; ``x = q + Attn(q, x, x)``;
``y = LN(x)``; ``x = y + FFN(y)``; padded positions zeroed after each block; a final
``LN``. Sequences are left-padded with id 0; a position's index counts back from the
end (the last item always has position ``max_len - 1``), so a sequence scores the same
padded or not. Padded keys are masked (a padded query still sees itself, so no row of
the attention is all masked).

PyTorch is imported when a network is first built, not when this module is imported.
"""

from __future__ import annotations

import functools
import math
from typing import Any

from streamrec.recs.sequential.item_vocabulary import PADDING_ID
from streamrec.recs.sequential.sasrec_config import SasrecConfig


def sasrec_network(config: SasrecConfig, n_items: int) -> Any:
    """A fresh ``torch.nn.Module`` for items ``1..n_items`` (0 is padding)."""
    return _network_class()(config, n_items)


@functools.cache
def _network_class() -> type:
    import torch
    from torch import nn

    class SasrecBlock(nn.Module):
        def __init__(self, dim: int, heads: int, dropout: float) -> None:
            super().__init__()
            self.attention_norm = nn.LayerNorm(dim, eps=1e-8)
            self.attention = nn.MultiheadAttention(dim, heads, dropout=dropout,
                                                   batch_first=True)
            self.feed_forward_norm = nn.LayerNorm(dim, eps=1e-8)
            self.feed_forward = nn.Sequential(
                nn.Linear(dim, dim), nn.Dropout(dropout), nn.ReLU(),
                nn.Linear(dim, dim), nn.Dropout(dropout))

        def forward(self, x: torch.Tensor, blocked: torch.Tensor,
                    keep: torch.Tensor) -> torch.Tensor:
            q = self.attention_norm(x)
            attended, _ = self.attention(q, x, x, attn_mask=blocked, need_weights=False)
            x = q + attended
            y = self.feed_forward_norm(x)
            return (y + self.feed_forward(y)) * keep

    class SasrecNetwork(nn.Module):
        def __init__(self, config: SasrecConfig, n_items: int) -> None:
            super().__init__()
            self.config = config
            self.n_items = n_items
            self.items = nn.Embedding(n_items + 1, config.dim, padding_idx=PADDING_ID)
            self.positions = nn.Embedding(config.max_len, config.dim)
            self.embedding_dropout = nn.Dropout(config.dropout)
            self.blocks = nn.ModuleList(
                SasrecBlock(config.dim, config.heads, config.dropout)
                for _ in range(config.blocks))
            self.final_norm = nn.LayerNorm(config.dim, eps=1e-8)
            nn.init.normal_(self.items.weight, std=config.dim ** -0.5)
            with torch.no_grad():
                self.items.weight[PADDING_ID].zero_()

        def hidden(self, item_ids: torch.Tensor) -> torch.Tensor:
            """``(batch, length)`` left-padded ids -> ``(batch, length, dim)`` states."""
            length = item_ids.shape[1]
            padded = item_ids == PADDING_ID
            keep = (~padded).unsqueeze(-1).to(self.items.weight.dtype)
            positions = torch.arange(self.config.max_len - length, self.config.max_len,
                                     device=item_ids.device)
            x = self.items(item_ids) * math.sqrt(self.config.dim) + self.positions(positions)
            x = self.embedding_dropout(x) * keep
            steps = torch.arange(length, device=item_ids.device)
            ahead = steps.unsqueeze(0) > steps.unsqueeze(1)
            itself = steps.unsqueeze(0) == steps.unsqueeze(1)
            blocked = ahead | (padded.unsqueeze(1) & ~itself)
            blocked = blocked.repeat_interleave(self.config.heads, dim=0)
            for block in self.blocks:
                x = block(x, blocked, keep)
            return self.final_norm(x)

        def forward(self, item_ids: torch.Tensor) -> torch.Tensor:
            """Scores of every id (padding included) after each sequence's last item:
            ``(batch, n_items + 1)``."""
            last = self.hidden(item_ids)[:, -1, :]
            return last @ self.items.weight.T

    return SasrecNetwork
