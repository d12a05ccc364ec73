"""Write the bundled sample catalog and clickstream (``streamrec/sample/*.jsonl``).

Synthetic and deterministic (seeded): brands and products are made up, so the files
may be redistributed with the code. Every record is validated with the contract's
models before it is written. Run from the project root:

    .venv/bin/python scripts/make_sample_data.py [--out-dir streamrec/sample]
"""

from __future__ import annotations

import argparse
import random
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from streamrec.datasets.jsonl import write_jsonl
from streamrec.schemas.records import CatalogChangeIn, UserEventIn

SEED = 20240301
CATALOG_BASE_MS = 1_709_251_200_000  # 2024-03-01T00:00:00Z
EVENTS_BASE_MS = 1_709_280_000_000  # 2024-03-01T08:00:00Z
DAY_MS = 24 * 3600 * 1000
USERS = 20
DEFAULT_OUT = Path(__file__).resolve().parents[1] / "streamrec" / "sample"


@dataclass(frozen=True)
class ProductLine:
    name: str
    """Title after the brand; ``{colour}`` is filled per product."""
    price: float
    blurb: str
    attributes: dict[str, str]


@dataclass(frozen=True)
class Category:
    code: str
    path: tuple[str, ...]
    count: int
    brands: tuple[str, ...]
    colours: tuple[str, ...]
    lines: tuple[ProductLine, ...]
    queries: tuple[str, ...]


CATEGORIES: tuple[Category, ...] = (
    Category(
        "run", ("Footwear", "Running Shoes"), 12,
        ("Stridewell", "Velocita", "Trailborne"),
        ("Black/White", "Volt Green", "Navy/Orange", "Grey/Coral"),
        (
            ProductLine("Glide 4 Men's Road Running Shoe, {colour}", 129.0,
                        "A cushioned daily trainer with a breathable engineered mesh upper.",
                        {"gender": "Men", "surface": "road", "drop_mm": "8", "material": "mesh"}),
            ProductLine("Glide 4 Women's Road Running Shoe, {colour}", 129.0,
                        "A cushioned daily trainer with a breathable engineered mesh upper.",
                        {"gender": "Women", "surface": "road", "drop_mm": "8", "material": "mesh"}),
            ProductLine("Summit GTX Waterproof Trail Running Shoe, {colour}", 159.0,
                        "Grippy lugged outsole and a waterproof membrane for wet mountain trails.",
                        {"gender": "Unisex", "surface": "trail", "drop_mm": "6",
                         "material": "waterproof textile"}),
            ProductLine("Tempo Racer Lightweight Racing Flat, {colour}", 149.0,
                        "A carbon-plated racer built for 5k to marathon race days.",
                        {"gender": "Unisex", "surface": "road", "drop_mm": "4",
                         "material": "knit"}),
        ),
        ("running shoes", "trail running shoes", "waterproof trail shoe", "racing flats"),
    ),
    Category(
        "jkt", ("Apparel", "Jackets"), 12,
        ("Northpeak", "Fjordline", "Urban Thread"),
        ("Black", "Olive", "Navy", "Rust"),
        (
            ProductLine("Insulated Puffer Jacket, {colour}", 189.0,
                        "Recycled synthetic fill keeps you warm when wet; packs into its pocket.",
                        {"gender": "Unisex", "season": "winter", "material": "recycled nylon",
                         "fit": "regular"}),
            ProductLine("Waterproof 3-Layer Rain Shell, {colour}", 229.0,
                        "Taped seams, pit zips and a helmet-compatible hood.",
                        {"gender": "Unisex", "season": "all-season",
                         "material": "3-layer nylon", "fit": "regular"}),
            ProductLine("Women's Recycled Fleece Zip Jacket, {colour}", 89.0,
                        "A midweight grid fleece for layering on cold mornings.",
                        {"gender": "Women", "season": "fall", "material": "polyester fleece",
                         "fit": "slim"}),
            ProductLine("Men's Denim Trucker Jacket, {colour}", 98.0,
                        "Rigid cotton denim that softens with wear, with a sherpa collar.",
                        {"gender": "Men", "season": "spring", "material": "cotton denim",
                         "fit": "regular"}),
        ),
        ("puffer jacket", "rain jacket waterproof", "fleece jacket women", "denim jacket"),
    ),
    Category(
        "aud", ("Electronics", "Headphones"), 12,
        ("Auralis", "Sonance", "Beatline"),
        ("Matte Black", "Silver", "Midnight Blue"),
        (
            ProductLine("ANC 700 Wireless Noise Cancelling Over-Ear Headphones, {colour}", 279.0,
                        "Adaptive noise cancelling, 30-hour battery and multipoint Bluetooth.",
                        {"connectivity": "bluetooth 5.3", "battery_hours": "30",
                         "noise_cancelling": "yes", "form": "over-ear"}),
            ProductLine("Pods Pro True Wireless Earbuds, {colour}", 149.0,
                        "Compact earbuds with a wireless charging case and IPX4 sweat rating.",
                        {"connectivity": "bluetooth 5.3", "battery_hours": "8",
                         "noise_cancelling": "yes", "form": "in-ear"}),
            ProductLine("Studio M50 Wired Monitor Headphones, {colour}", 129.0,
                        "Flat, detailed sound for mixing, with a detachable coiled cable.",
                        {"connectivity": "3.5 mm wired", "battery_hours": "0",
                         "noise_cancelling": "no", "form": "over-ear"}),
            ProductLine("Sport Fit Bluetooth Neckband Earphones, {colour}", 59.0,
                        "Secure ear hooks for running and the gym, 12-hour battery.",
                        {"connectivity": "bluetooth 5.0", "battery_hours": "12",
                         "noise_cancelling": "no", "form": "in-ear"}),
        ),
        ("noise cancelling headphones", "wireless earbuds", "studio headphones",
         "running earphones"),
    ),
    Category(
        "ckw", ("Kitchen", "Cookware"), 11,
        ("Ferro & Co", "Castwell", "Maison Cuivre"),
        ("Graphite", "Flame Orange", "Sage", "Cream"),
        (
            ProductLine("10-inch Pre-Seasoned Cast Iron Skillet", 39.0,
                        "Even heat for searing and baking; oven safe and induction ready.",
                        {"material": "cast iron", "diameter_cm": "25", "induction_ready": "yes",
                         "dishwasher_safe": "no"}),
            ProductLine("5.5 qt Enameled Cast Iron Dutch Oven, {colour}", 119.0,
                        "A heavy lid seals in moisture for braises, stews and bread.",
                        {"material": "enameled cast iron", "capacity_l": "5.2",
                         "induction_ready": "yes", "dishwasher_safe": "no"}),
            ProductLine("12-inch Ceramic Nonstick Frying Pan, {colour}", 49.0,
                        "PFAS-free ceramic coating with a stay-cool stainless handle.",
                        {"material": "aluminium, ceramic coating", "diameter_cm": "30",
                         "induction_ready": "yes", "dishwasher_safe": "yes"}),
            ProductLine("Tri-Ply Stainless Steel 3-Piece Saucepan Set", 179.0,
                        "1.5, 2 and 3 qt saucepans with lids; fully clad for even heating.",
                        {"material": "stainless steel", "pieces": "3", "induction_ready": "yes",
                         "dishwasher_safe": "yes"}),
        ),
        ("cast iron skillet", "dutch oven", "nonstick pan", "saucepan set"),
    ),
    Category(
        "lgt", ("Home", "Lighting"), 11,
        ("Lumora", "Brightnest"),
        ("Brass", "Matte Black", "White"),
        (
            ProductLine("LED Desk Lamp with USB-C Charging Port, {colour}", 45.0,
                        "Five colour temperatures and a memory function for late-night work.",
                        {"wattage": "10", "smart": "no", "colour_temperature": "2700-6500K",
                         "finish": "metal"}),
            ProductLine("Smart Wi-Fi Colour Bulb E26 (4-Pack)", 39.0,
                        "Sixteen million colours, schedules and voice assistant control.",
                        {"wattage": "9", "smart": "yes", "colour_temperature": "2200-6500K",
                         "pack": "4"}),
            ProductLine("Arc Floor Lamp with Linen Shade, {colour}", 149.0,
                        "A tall arching lamp to light a reading chair or sofa.",
                        {"wattage": "60", "smart": "no", "colour_temperature": "2700K",
                         "finish": "metal, linen"}),
            ProductLine("Solar LED Garden Path Lights (8-Pack)", 35.0,
                        "Dusk-to-dawn sensor, no wiring; IP65 weatherproof.",
                        {"wattage": "1", "smart": "no", "colour_temperature": "3000K",
                         "pack": "8"}),
        ),
        ("desk lamp", "smart bulb", "floor lamp", "solar garden lights"),
    ),
    Category(
        "yog", ("Sports", "Yoga"), 11,
        ("Zenflow", "Asana Works"),
        ("Plum", "Ocean Teal", "Charcoal", "Sand"),
        (
            ProductLine("6mm Non-Slip Yoga Mat, {colour}", 68.0,
                        "Natural rubber base with an alignment-line top, 183 x 61 cm.",
                        {"material": "natural rubber", "thickness_mm": "6", "length_cm": "183"}),
            ProductLine("Cork Yoga Block (2-Pack)", 29.0,
                        "Firm, sustainable cork blocks for support in standing poses.",
                        {"material": "cork", "pack": "2"}),
            ProductLine("Women's High-Waist Yoga Leggings, {colour}", 64.0,
                        "Buttery four-way stretch fabric with a hidden waistband pocket.",
                        {"material": "nylon, elastane", "gender": "Women", "length": "7/8"}),
            ProductLine("Buckwheat Meditation Cushion, {colour}", 49.0,
                        "A round zafu with a washable cotton cover and carry handle.",
                        {"material": "cotton, buckwheat hulls", "height_cm": "15"}),
        ),
        ("yoga mat", "yoga blocks", "yoga leggings", "meditation cushion"),
    ),
    Category(
        "cmp", ("Outdoor", "Camping"), 11,
        ("Trailcraft", "Basecamp Supply"),
        ("Forest Green", "Orange", "Grey"),
        (
            ProductLine("2-Person Ultralight Backpacking Tent, {colour}", 329.0,
                        "Freestanding double-wall tent, 1.4 kg packed, two doors and vestibules.",
                        {"capacity_people": "2", "weight_g": "1400", "season_rating": "3"}),
            ProductLine("20°F Down Mummy Sleeping Bag, {colour}", 249.0,
                        "650-fill responsibly sourced down with a draft collar.",
                        {"temperature_rating_f": "20", "weight_g": "1100", "fill": "down"}),
            ProductLine("Compact Canister Camping Stove", 49.0,
                        "Boils a litre in about four minutes; piezo ignition.",
                        {"fuel": "isobutane", "weight_g": "85"}),
            ProductLine("Rechargeable 400-Lumen Headlamp, {colour}", 39.0,
                        "Red night mode, USB-C charging and a tilting beam.",
                        {"lumens": "400", "battery": "rechargeable", "weight_g": "68"}),
        ),
        ("backpacking tent", "sleeping bag", "camping stove", "headlamp"),
    ),
)


def build_catalog(rng: random.Random) -> list[dict[str, Any]]:
    products: list[dict[str, Any]] = []
    for category in CATEGORIES:
        titles: set[str] = set()
        variant = -1
        while len(titles) < category.count:
            variant += 1
            line = category.lines[variant % len(category.lines)]
            turn = variant // len(category.lines)
            brand = category.brands[(variant + turn) % len(category.brands)]
            colour = category.colours[turn % len(category.colours)]
            title = f"{brand} {line.name.format(colour=colour)}"
            if title in titles:
                continue
            titles.add(title)
            price = max(4.99, round(line.price * rng.uniform(0.85, 1.15)) - 0.01)
            attributes = dict(line.attributes)
            if "{colour}" in line.name:
                attributes["colour"] = colour
            products.append({
                "op": "UPSERT",
                "sku": f"sample-{category.code}-{len(titles):03d}",
                "title": title,
                "description": f"{line.blurb} By {brand}.",
                "category_path": list(category.path),
                "brand": brand,
                "price": price,
                "currency": "USD",
                "available": True,
                "image": None,
                "attributes": attributes,
                "updated_at": CATALOG_BASE_MS + len(products) * 60_000,
                "version": 1,
            })
    for product in rng.sample(products, 3):
        product["available"] = False
    return products


def build_events(rng: random.Random, catalog: list[dict[str, Any]]) -> list[dict[str, Any]]:
    by_category: dict[str, list[dict[str, Any]]] = {}
    for product in catalog:
        by_category.setdefault(product["sku"].split("-")[1], []).append(product)
    codes = [category.code for category in CATEGORIES]
    events: list[dict[str, Any]] = []
    for user_number in range(1, USERS + 1):
        user_id = f"user-{user_number:03d}"
        favourites = rng.sample(codes, rng.choice((1, 2, 2)))
        device = rng.choice(("mobile", "mobile", "desktop", "tablet"))
        for session_number in range(1, rng.randint(2, 4) + 1):
            code = rng.choice(favourites) if rng.random() < 0.85 else rng.choice(codes)
            steps = session_steps(rng, by_category[code], catalog, CATEGORIES[codes.index(code)])
            ts = EVENTS_BASE_MS + rng.randrange(14) * DAY_MS + rng.randrange(12 * 3600) * 1000
            for kind, sku, query, page in steps:
                events.append({
                    "user_id": user_id,
                    "session_id": f"{user_id}-s{session_number}",
                    "type": kind,
                    "sku": sku,
                    "query": query,
                    "ts": ts,
                    "context": {"device": device, "page": page, "source": "sample"},
                })
                ts += rng.randint(8, 90) * 1000
    events.sort(key=lambda event: (event["ts"], event["user_id"]))
    return [
        {"event_id": f"sample-ev-{number:04d}", **event}
        for number, event in enumerate(events, start=1)
    ]


Step = tuple[str, str | None, str | None, str]
"""(event type, sku, query, page)"""


def session_steps(
    rng: random.Random,
    favourites: list[dict[str, Any]],
    catalog: list[dict[str, Any]],
    category: Category,
) -> list[Step]:
    """One shopping session: an entry (search or home-page click), views, maybe a purchase."""
    steps: list[Step] = []
    if rng.random() < 0.5:
        steps.append(("SEARCH", None, rng.choice(category.queries), "search"))
        steps.append(("CLICK", rng.choice(favourites)["sku"], None, "search"))
    else:
        steps.append(("CLICK", rng.choice(favourites)["sku"], None, "home"))
    for _ in range(rng.randint(2, 5)):
        product = rng.choice(favourites if rng.random() < 0.8 else catalog)
        steps.append(("VIEW", product["sku"], None, "product"))
        if product["available"] and rng.random() < 0.2:
            steps.append(("ADD_TO_CART", product["sku"], None, "product"))
            if rng.random() < 0.5:
                steps.append(("PURCHASE", product["sku"], None, "checkout"))
    return steps


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out-dir", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args()
    rng = random.Random(SEED)
    catalog = build_catalog(rng)
    events = build_events(rng, catalog)
    for record in catalog:
        CatalogChangeIn(**record)
    for record in events:
        UserEventIn(**record)
    written_catalog = write_jsonl(args.out_dir / "catalog.jsonl", catalog)
    written_events = write_jsonl(args.out_dir / "events.jsonl", events)
    users = len({event["user_id"] for event in events})
    print(f"wrote {written_catalog} products to {args.out_dir / 'catalog.jsonl'}")
    print(f"wrote {written_events} events from {users} users to {args.out_dir / 'events.jsonl'}")


if __name__ == "__main__":
    main()
