from __future__ import annotations

from streamrec.indexer.product_text import DESCRIPTION_CHARS, content_hash, product_text

RECORD = {
    "sku": "SKU-1",
    "title": "  Trail   Running Shoe ",
    "description": "Light and grippy. " * 40,
    "category_path": ["Footwear", "Shoes", "Sports Shoes"],
    "brand": "Acme",
    "price": 89.5,
    "attributes": {"zeta": "last", "colour": "Blue", "gender": "Men", "empty": ""},
}


def test_text_puts_title_category_brand_attributes_description_in_order() -> None:
    text = product_text(RECORD)
    assert text.startswith("Trail Running Shoe. Category: Footwear > Shoes > Sports Shoes. ")
    assert "Brand: Acme." in text
    assert "gender: Men; colour: Blue; zeta: last." in text  # key attributes first
    assert "empty" not in text
    assert text.index("zeta") < text.index("Light and grippy")
    assert len(text) < 200 + DESCRIPTION_CHARS


def test_text_ignores_price_so_a_price_change_does_not_re_embed() -> None:
    assert product_text(RECORD) == product_text({**RECORD, "price": 10.0, "available": False})


def test_text_of_a_sparse_record_and_a_brand_already_in_the_title() -> None:
    assert product_text({"sku": "x", "title": "Acme kettle", "brand": "ACME"}) == "Acme kettle."
    assert product_text({"sku": "x"}) == ""


def test_content_hash_is_short_stable_and_depends_on_text_and_model() -> None:
    text = product_text(RECORD)
    first = content_hash(text, "model-a")
    assert first == content_hash(text, "model-a")
    assert len(first) == 20 and int(first, 16) >= 0
    assert first != content_hash(text, "model-b")
    assert first != content_hash(text + " ", "model-a")
