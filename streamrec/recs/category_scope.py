"""Category paths as scope strings: ``["Apparel", "Topwear"]`` -> ``"Apparel > Topwear"``."""

from __future__ import annotations

from collections.abc import Sequence

SEPARATOR = " > "
OVERALL = "_all"
"""The scope of everything (trending overall)."""


def category_scope(path: Sequence[str] | str | None) -> str:
    """One path as a scope string; a string is split on ``>`` and re-joined (normalised)."""
    if path is None:
        return ""
    levels = path.split(">") if isinstance(path, str) else path
    return SEPARATOR.join(level.strip() for level in levels if level and level.strip())


def category_scopes(path: Sequence[str] | str | None) -> list[str]:
    """Every prefix of a path as a scope, top level first: ``A``, ``A > B``, ``A > B > C``."""
    scope = category_scope(path)
    if not scope:
        return []
    levels = scope.split(SEPARATOR)
    return [SEPARATOR.join(levels[: i + 1]) for i in range(len(levels))]


def scope_depth(scope: str) -> int:
    return scope.count(SEPARATOR) + 1 if scope else 0


def in_scope(path: Sequence[str] | str | None, scope: str) -> bool:
    """Whether a path lies in a scope (exact prefix match on whole levels)."""
    if not scope:
        return True
    return scope in category_scopes(path)
