"""What counts as text a person can see."""

from __future__ import annotations

import unicodedata

# Unicode general categories that draw nothing on their own: controls, format characters
# (zero-width space and joiners, bidi marks), separators, combining marks, unassigned.
_INVISIBLE_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zs", "Zl", "Zp", "Mn", "Me"})


def is_blank(text: str) -> bool:
    """True when nothing in `text` would be visible: empty, spaces, or only zero-width and other
    invisible characters (a name made of U+200B would otherwise pass a `strip()` check)."""
    return all(unicodedata.category(char) in _INVISIBLE_CATEGORIES for char in text)
