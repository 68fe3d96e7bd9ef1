"""docs/operations/alerts.yml: valid rules, proven by promtool's unit tests, each with a runbook
section, and only naming metrics of the contract."""

from __future__ import annotations

import re
from typing import Final, TypedDict

import yaml

from tests.operations.docs import (
    ALERTS,
    ALERTS_TESTS,
    CONTRACT_METRICS,
    ROOT,
    RUNBOOK,
    metric_names,
    promtool,
)

SEVERITIES: Final = frozenset({"critical", "warning"})
_HEADING: Final = re.compile(r"^#{1,6}\s+(.+?)\s*#*\s*$", re.MULTILINE)


class AlertRule(TypedDict):
    alert: str
    expr: str
    labels: dict[str, str]
    annotations: dict[str, str]


def _alert_rules() -> list[AlertRule]:
    document = yaml.safe_load(ALERTS.read_text())
    return [rule for group in document["groups"] for rule in group["rules"] if "alert" in rule]


def github_anchor(heading: str) -> str:
    """The anchor GitHub gives a markdown heading: lower case, punctuation dropped, spaces to
    hyphens (so a `runbook_url` resolves on the rendered page)."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def test_promtool_checks_the_rules() -> None:
    result = promtool("check", "rules", ALERTS)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"SUCCESS: {len(_alert_rules())} rules found" in result.stdout


def test_each_alert_fires_when_it_should_and_not_otherwise() -> None:
    result = promtool("test", "rules", ALERTS_TESTS)
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_alert_is_unit_tested_firing() -> None:
    cases = yaml.safe_load(ALERTS_TESTS.read_text())["tests"]
    fired = {
        check["alertname"]
        for case in cases
        for check in case["alert_rule_test"]
        if check["exp_alerts"]
    }
    assert {rule["alert"] for rule in _alert_rules()} <= fired


def test_every_alert_has_severity_annotations_and_a_for_clause() -> None:
    for rule in _alert_rules():
        assert "for" in rule, rule["alert"]
        assert rule["labels"]["severity"] in SEVERITIES, rule["alert"]
        assert {"summary", "description", "runbook_url"} <= rule["annotations"].keys(), rule[
            "alert"
        ]


def test_every_runbook_url_points_at_a_runbook_section() -> None:
    anchors = {github_anchor(heading) for heading in _HEADING.findall(RUNBOOK.read_text())}
    for rule in _alert_rules():
        path, _, anchor = rule["annotations"]["runbook_url"].partition("#")
        assert (ROOT / path).resolve() == RUNBOOK, rule["alert"]
        assert anchor == github_anchor(rule["alert"]), rule["alert"]
        assert anchor in anchors, f"{rule['alert']}: no section #{anchor} in {RUNBOOK.name}"


def test_alerts_name_only_contract_metrics() -> None:
    named = metric_names(ALERTS.read_text())
    assert named, "the rules name no rushqueue metric"
    assert named <= CONTRACT_METRICS, named - CONTRACT_METRICS
