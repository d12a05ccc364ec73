from __future__ import annotations

import pytest

from streamrec.datasets.title_text import clean_title


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        ("Paslode 3 in. 30å¡ Nails", "Paslode 3 in. 30° Nails"),
        ("Superstrut 90è_ 4-Hole Angle Bracket", "Superstrut 90° 4-Hole Angle Bracket"),
        ("John Deere Men\x89Ûªs T-Shirt", "John Deere Men's T-Shirt"),
        ("Schlage Connect\x89ã¢ Camelot Deadbolt", "Schlage Connect\u2122 Camelot Deadbolt"),
        ("DEWALT Screwdriver SetåÊ(22-Piece)", "DEWALT Screwdriver Set (22-Piece)"),
        ("Trinity 3\x89Û\x90Tier Cart", "Trinity 3-Tier Cart"),
        ("Tom &amp; Jerry &#39;Deluxe&#39; &quot;Ed.&quot;", "Tom & Jerry 'Deluxe' \"Ed.\""),
        ("  Two   spaces\u00a0and nbsp ", "Two spaces and nbsp"),
        ("", ""),
        (None, ""),
    ],
)
def test_clean_title(raw: str | None, clean: str) -> None:
    assert clean_title(raw) == clean
