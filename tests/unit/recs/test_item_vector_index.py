import numpy as np

from streamrec.recs.item_vector_index import vectors_of


class CountingIndex:
    def __init__(self, vectors: dict) -> None:
        self.stored, self.asked = vectors, []

    def vectors(self, skus):
        self.asked.append(list(skus))
        return [self.stored.get(sku) for sku in skus]


def test_vectors_of_asks_once_per_distinct_sku_and_drops_unusable_vectors() -> None:
    index = CountingIndex({"a": np.array([0.6, 0.8], dtype=np.float32),
                           "zero": np.zeros(2, dtype=np.float32),
                           "b": [[1.0, 0.0]]})  # any array-like of one row is accepted
    found = vectors_of(index, ["a", "missing", "a", "zero", "b"])
    assert index.asked == [["a", "missing", "zero", "b"]]  # one batched call, no repeats
    assert list(found) == ["a", "missing", "zero", "b"]
    assert found["missing"] is None and found["zero"] is None  # FAISS cannot use a zero row
    np.testing.assert_array_equal(found["a"], np.array([0.6, 0.8], dtype=np.float32))
    assert found["b"].dtype == np.float32 and found["b"].shape == (2,)
    assert vectors_of(index, []) == {}
