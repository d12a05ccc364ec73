"""The search's last filter trusts the vector index's metadata over the lagging lexical side."""

from types import SimpleNamespace
from typing import Any

from streamrec.serving.search.catalog_search import CatalogSearch


def search_over(metadata: dict[str, dict[str, Any]]) -> CatalogSearch:
    replica = SimpleNamespace(index=SimpleNamespace(metadata=metadata.get))
    return CatalogSearch(replica, embedder=None, popular=None, redis=None,  # type: ignore[arg-type]
                         keys=None)  # type: ignore[arg-type]


def test_a_product_moved_out_of_the_filtered_category_is_dropped():
    search = search_over({
        "ladder-1": {"category_path": ["Outdoor", "Garden"], "available": True},
        "saw-1": {"category_path": ["Tools", "Hand Tools"], "available": True},
    })
    # the lexical index still files ladder-1 under Tools until its next refresh
    stale = [("ladder-1", 0.9), ("saw-1", 0.5)]
    assert search._eligible(stale, "Tools") == [("saw-1", 0.5)]
    assert search._eligible(stale, "tools > hand tools") == [("saw-1", 0.5)]
    assert search._eligible(stale, "Garden") == [("ladder-1", 0.9)]  # a level name matches
    assert search._eligible(stale) == stale


def test_unavailable_products_are_dropped_and_unknown_ones_kept():
    search = search_over({"a": {"category_path": ["X"], "available": False},
                          "b": {"category_path": ["X"], "available": True}})
    assert search._eligible([("a", 1.0), ("b", 0.5), ("new", 0.1)], "X") == [
        ("b", 0.5), ("new", 0.1)]
