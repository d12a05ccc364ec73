from dataclasses import dataclass

from streamrec.recs.candidate_filter import FilterContext, item_available, item_category_path
from streamrec.recs.category_filter import CategoryFilter
from streamrec.recs.category_scope import category_scope, category_scopes, in_scope
from streamrec.recs.purchased_items_filter import PurchasedItemsFilter
from streamrec.recs.seen_items_filter import SeenItemsFilter
from streamrec.recs.unavailable_items_filter import UnavailableItemsFilter


@dataclass
class Item:
    sku: str


ITEMS = [Item("a"), Item("b"), Item("c")]
DOCS = {
    "a": {"available": True, "category_path": ["Apparel", "Topwear"]},
    "b": {"available": "0", "category_path": '["Apparel", "Top"]'},
}


def test_filters_report_kept_and_removed():
    context = FilterContext(purchased={"b"}, seen={"a"}, item=DOCS.get)
    purchased = PurchasedItemsFilter().apply(ITEMS, context)
    assert [i.sku for i in purchased.kept] == ["a", "c"] and purchased.removed == ["b"]
    assert SeenItemsFilter().apply(ITEMS, context).removed == ["a"]
    assert UnavailableItemsFilter().apply(ITEMS, context).removed == ["b", "c"]
    assert UnavailableItemsFilter(drop_unknown=False).apply(ITEMS, context).removed == ["b"]


def test_category_filter_matches_whole_levels():
    def kept(category):
        context = FilterContext(category=category, item=DOCS.get)
        return [i.sku for i in CategoryFilter().apply(ITEMS, context).kept]

    assert kept("") == ["a", "b", "c"]
    assert kept("Apparel") == ["a", "b"]
    assert kept("Apparel > Topwear") == ["a"]  # not "Apparel > Top"
    assert kept("Apparel > Top") == ["b"]
    assert kept("Toys") == []


def test_empty_inputs():
    outcome = PurchasedItemsFilter().apply([], FilterContext())
    assert outcome.kept == [] and outcome.removed == []


def test_category_scopes_and_item_fields():
    assert category_scope(" Apparel>Topwear ") == "Apparel > Topwear"
    assert category_scope(None) == "" and category_scopes([]) == []
    assert category_scopes(["A", "B", "C"]) == ["A", "A > B", "A > B > C"]
    assert in_scope(["A", "B"], "A") and not in_scope(["AB"], "A") and in_scope([], "")
    assert item_available({"available": b"1"}) and not item_available({"available": False})
    assert item_available({})
    assert item_category_path({"category_path": b'["X", "Y"]'}) == ["X", "Y"]
    assert item_category_path({"category_path": "X > Y"}) == ["X", "Y"]
    assert item_category_path({}) == []
