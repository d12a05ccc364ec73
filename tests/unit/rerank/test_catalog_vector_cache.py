from collections.abc import Sequence
from pathlib import Path

import numpy as np

from streamrec.indexer.text_encoder import TextEncoder, l2_normalize_rows
from streamrec.rerank.catalog_vector_cache import CatalogVectorCache


class LetterCountEncoder(TextEncoder):
    """A deterministic 26-d encoder: letter counts, normalised; counts its calls."""

    dim = 26

    def __init__(self, model_id: str = "letters-1") -> None:
        self.model_id = model_id
        self.encoded = 0

    def encode_texts(self, texts: Sequence[str]) -> np.ndarray:
        self.encoded += len(texts)
        rows = np.zeros((len(texts), 26), dtype=np.float32)
        for i, text in enumerate(texts):
            for ch in text.lower():
                if "a" <= ch <= "z":
                    rows[i, ord(ch) - 97] += 1
        return l2_normalize_rows(rows)


def test_encodes_once_then_reads_from_disk(tmp_path: Path) -> None:
    encoder = LetterCountEncoder()
    seen: list[int] = []
    cache = CatalogVectorCache(tmp_path, lambda: encoder)
    first = cache.vectors(["drill", "saw", "hammer"], "products", seen.append)
    assert first.shape == (3, 26) and encoder.encoded == 3 and seen == [3]
    again = CatalogVectorCache(tmp_path, lambda: encoder).vectors(["drill", "saw", "hammer"],
                                                                  "products", seen.append)
    assert np.array_equal(first, again) and encoder.encoded == 3 and seen == [3, 3]
    assert [p.name.split("-")[0] for p in tmp_path.iterdir()] == ["products"]


def test_other_texts_or_another_model_are_encoded_anew(tmp_path: Path) -> None:
    encoder = LetterCountEncoder()
    CatalogVectorCache(tmp_path, lambda: encoder).vectors(["drill"], "products")
    CatalogVectorCache(tmp_path, lambda: encoder).vectors(["drill", "saw"], "products")
    other = LetterCountEncoder("letters-2")
    CatalogVectorCache(tmp_path, lambda: other).vectors(["drill"], "products")
    assert encoder.encoded == 3 and other.encoded == 1
    assert len(list(tmp_path.iterdir())) == 3
