from __future__ import annotations

import pytest

from domain.text import is_blank


@pytest.mark.parametrize(
    "text", ["", " \t\n", "\u200b", "\u200d\u2060", "\ufeff", "\u202e\u202c", "\ue000", "\x00"]
)
def test_nothing_visible_is_blank(text: str) -> None:
    assert is_blank(text)


@pytest.mark.parametrize("text", ["a", "\u200bAda", "李", "🎸", "e\u0301", "\u0301", "-"])
def test_anything_visible_is_not_blank(text: str) -> None:
    assert not is_blank(text)
