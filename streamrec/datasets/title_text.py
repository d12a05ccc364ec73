"""Repairs applied to product titles of the public data sets before they become records.

- HTML entities (``&amp;``, ``&#39;``, ``&quot;``) appear in the Amazon and Home Depot
  titles; they are unescaped.
- The Home Depot titles carry a known mojibake: a degree sign shows as ``å¡`` or ``è_``,
  a right quote as ``\\x89Ûª`` and so on (about 200 of 54,667 titles). The sequences seen
  in that file are mapped back to the character they stood for; a sequence whose meaning
  is unclear is dropped.
- Runs of whitespace (including no-break spaces) collapse to one space.
"""

from __future__ import annotations

import html
import re

MOJIBAKE_REPAIRS: tuple[tuple[str, str], ...] = (
    ("\x89ã¢", "\u2122"),  # trade mark sign
    ("\x89Ûª", "'"),  # right single quote: Men's
    ("\x89Û÷", "'"),  # left single quote: Tub 'N Tile
    ("\x89ÛÒ", "-"),  # en dash between numbers or words
    ("\x89Û\x90", "-"),  # hyphen: 3-Tier
    ("\x89ÛÜ", ""),  # an opening quote before a colour name
    ("\x95ÈÀ", ""),  # unclear, before a product line name
    ("å¡", "°"),  # degree sign: 30° nails
    ("è_", "°"),  # degree sign: 90° bracket
    ("å_", "²"),  # superscript two: 5 mm²
    ("åÊ", " "),  # no-break space
)

_WHITESPACE = re.compile(r"\s+")


def clean_title(text: str | None) -> str:
    """The readable form of a raw title; an empty string when nothing is left."""
    if not text:
        return ""
    repaired = html.unescape(text)
    for broken, meant in MOJIBAKE_REPAIRS:
        if broken in repaired:
            repaired = repaired.replace(broken, meant)
    return _WHITESPACE.sub(" ", repaired).strip()
