"""Dense integer ids for the items of the training sequences, most frequent first."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

PADDING_ID = 0
"""Id 0 is padding; items are 1..len(vocabulary)."""


@dataclass(frozen=True)
class ItemVocabulary:
    items: tuple[str, ...]
    """Item of id ``i + 1``; ordered by training count (descending), then by sku."""
    ids: dict[str, int] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "ids", {item: i + 1 for i, item in enumerate(self.items)})

    def __len__(self) -> int:
        return len(self.items)

    def encode(self, skus: Sequence[str]) -> list[int]:
        """Ids of the known skus, in order; unknown skus are left out."""
        return [self.ids[sku] for sku in skus if sku in self.ids]

    def item(self, item_id: int) -> str:
        return self.items[item_id - 1]


def item_vocabulary(sequences: Iterable[Sequence[str]]) -> ItemVocabulary:
    counts: Counter[str] = Counter()
    for sequence in sequences:
        counts.update(sequence)
    return ItemVocabulary(tuple(item for item, _ in sorted(
        counts.items(), key=lambda kv: (-kv[1], kv[0]))))
