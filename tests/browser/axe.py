"""axe-core, run inside the page under test: what an accessibility audit finds in one state.

The vendored `vendor/axe.min.js` (axe-core 4.14.1, MPL-2.0, its licence header kept) is put into
the page through DevTools' own evaluation, which the page's Content-Security-Policy does not
govern (a `<script>` tag would be refused, as it should be).

A state passes when axe finds nothing in the rules that matter here: colour contrast and heading
order (both of every impact), and any other rule's serious or critical violations.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

if TYPE_CHECKING:
    from playwright.async_api import Page

AXE_SOURCE: Final = Path(__file__).parent / "vendor" / "axe.min.js"
ALWAYS_CHECKED: Final = frozenset({"color-contrast", "heading-order"})
SEVERE: Final = frozenset({"serious", "critical"})

# Each violation with where it is and axe's own account of why, so a failure explains itself.
_RUN: Final = """async () => {
  const { violations } = await axe.run(document, { resultTypes: ["violations"] });
  return violations.map((violation) => ({
    rule: violation.id,
    impact: violation.impact,
    nodes: violation.nodes.map((node) => `${node.target.join(" ")}: ${node.failureSummary}`),
  }));
}"""


@dataclass(frozen=True, slots=True)
class Finding:
    rule: str
    impact: str | None
    nodes: tuple[str, ...]

    def __str__(self) -> str:
        return f"{self.rule} ({self.impact}): " + "; ".join(self.nodes)


@cache
def _axe_source() -> str:
    return AXE_SOURCE.read_text()


async def audit(page: Page) -> list[Finding]:
    """What axe-core finds on the page as it is now, among the rules this project holds to."""
    if not await page.evaluate("typeof window.axe === 'object'"):
        await page.evaluate(_axe_source())
    found: list[dict[str, Any]] = await page.evaluate(_RUN)
    return [
        Finding(item["rule"], item["impact"], tuple(item["nodes"]))
        for item in found
        if item["rule"] in ALWAYS_CHECKED or item["impact"] in SEVERE
    ]


async def assert_accessible(page: Page) -> None:
    findings = await audit(page)
    assert not findings, "axe-core found:\n" + "\n".join(map(str, findings))
