"""Next-item answers from a trained SASRec network, with the baselines' interface.

``recommend(history, k, exclude_history=)`` reads the last ``max_len`` known items of
the history (items the model never saw in training are skipped), scores every training
item and returns the ``k`` best skus. A history with no known item gets the most
frequent training items (the vocabulary's order), as the popularity baseline would.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from streamrec.recs.sequential.item_vocabulary import PADDING_ID, ItemVocabulary


class SasrecRecommender:
    def __init__(self, network: Any, vocabulary: ItemVocabulary) -> None:
        self.network = network
        self.vocabulary = vocabulary
        self.max_len: int = network.config.max_len

    def recommend(self, history: Sequence[str], k: int, *, exclude_history: bool = True
                  ) -> list[str]:
        import torch

        ids = self.vocabulary.encode(history)
        excluded = set(ids) if exclude_history else set()
        if not ids:
            return self._most_frequent(k, set(history) if exclude_history else set())
        self.network.eval()
        with torch.inference_mode():
            scores = self.network(torch.tensor([ids[-self.max_len:]]))[0]
            scores[PADDING_ID] = -torch.inf
            if excluded:
                scores[list(excluded)] = -torch.inf
            top = torch.topk(scores, min(k, len(self.vocabulary) - len(excluded)))
        return [self.vocabulary.item(int(i)) for i in top.indices]

    def _most_frequent(self, k: int, excluded: set[str]) -> list[str]:
        out: list[str] = []
        for item in self.vocabulary.items:
            if item not in excluded:
                out.append(item)
                if len(out) >= k:
                    break
        return out
