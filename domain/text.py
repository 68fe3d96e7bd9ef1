"""What counts as text a person can see."""

from __future__ import annotations

import functools
import unicodedata

# Unicode general categories that draw nothing: controls, format characters (zero-width space
# and joiners, bidi marks, the byte-order mark), surrogates, private use, and separators.
# Unassigned code points are left out, since a later Unicode version may assign them.
_INVISIBLE_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Co", "Zs", "Zl", "Zp"})


def is_blank(text: str) -> bool:
    """True when nothing in `text` would be visible: empty, spaces, or only zero-width and other
    invisible characters (a name made of U+200B would otherwise pass a `strip()` check)."""
    return all(unicodedata.category(char) in _INVISIBLE_CATEGORIES for char in text)


@functools.cache
def invisible_bmp_class() -> str:
    """The invisible characters of the Basic Multilingual Plane as the body of a regular
    expression character class, `\\uXXXX` escapes and ranges, for JSON Schema patterns (which
    every validator reads alike only within the BMP). A name made of invisible characters
    beyond the BMP is still refused by `is_blank`, though such a pattern allows it."""
    ranges: list[tuple[int, int]] = []
    for code in range(0x10000):
        if unicodedata.category(chr(code)) not in _INVISIBLE_CATEGORIES:
            continue
        if ranges and ranges[-1][1] == code - 1:
            ranges[-1] = (ranges[-1][0], code)
        else:
            ranges.append((code, code))
    return "".join(
        f"\\u{low:04x}" if low == high else f"\\u{low:04x}-\\u{high:04x}" for low, high in ranges
    )
