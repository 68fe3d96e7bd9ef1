"""docs/operations/grafana-dashboard.json: importable as is, every panel titled and bound to the
imported Prometheus, every query valid PromQL naming only metrics of the contract, and every
panel the runbook points at present."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Final

from tests.operations.docs import (
    CONTRACT_METRICS,
    DASHBOARD,
    RUNBOOK,
    metric_names,
    promtool,
)

DATASOURCE: Final = {"type": "prometheus", "uid": "${DS_PROMETHEUS}"}
# Grafana's interval variables and the dashboard's own `shard` variable, as a concrete query
# would see them once Grafana has filled them in.
_GRAFANA_INTERVAL: Final = re.compile(r"\$__(rate_interval|interval|range)\b|\$\{__\w+\}")
_SHARD_VARIABLE: Final = re.compile(r"\$shard\b|\$\{shard(:\w+)?\}")
_RUNBOOK_PANELS: Final = re.compile(r"^Dashboard panels?: (.+)$", re.MULTILINE)


def _dashboard() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(DASHBOARD.read_text())
    return loaded


def _panels() -> Iterator[dict[str, Any]]:
    for panel in _dashboard()["panels"]:
        yield panel
        yield from panel.get("panels", [])


def _query_panels() -> list[dict[str, Any]]:
    return [panel for panel in _panels() if panel["type"] != "row"]


def concrete(expr: str) -> str:
    expr = _GRAFANA_INTERVAL.sub("1m", expr)
    expr = _SHARD_VARIABLE.sub(".*", expr)
    assert "$" not in expr, f"unknown Grafana variable in {expr!r}"
    return expr


def test_dashboard_imports_with_a_prometheus_datasource_input() -> None:
    dashboard = _dashboard()
    assert 36 <= dashboard["schemaVersion"] <= 41
    assert dashboard["uid"]
    assert dashboard["title"]
    assert [
        (given["name"], given["type"], given["pluginId"]) for given in dashboard["__inputs"]
    ] == [("DS_PROMETHEUS", "datasource", "prometheus")]
    for variable in dashboard["templating"]["list"]:
        assert variable["datasource"] == DATASOURCE, variable["name"]


def test_every_panel_has_a_title_a_datasource_and_queries() -> None:
    panels = list(_panels())
    assert len({panel["id"] for panel in panels}) == len(panels), "panel ids repeat"
    # The runbook names panels by title.
    assert len({panel["title"] for panel in panels}) == len(panels), "panel titles repeat"
    for panel in panels:
        assert panel["title"].strip(), panel
        assert {"h", "w", "x", "y"} <= panel["gridPos"].keys(), panel["title"]
    for panel in _query_panels():
        assert panel["datasource"] == DATASOURCE, panel["title"]
        assert panel["targets"], panel["title"]
        for target in panel["targets"]:
            assert target["datasource"] == DATASOURCE, panel["title"]
            assert target["expr"].strip(), panel["title"]


def test_every_panel_query_is_valid_promql(tmp_path: Path) -> None:
    # promtool has no "check expr": one recording rule per query, then `check rules`.
    rules = [
        {
            "record": f"dashboard:panel_{panel['id']}:{target['refId']}",
            "expr": concrete(target["expr"]),
        }
        for panel in _query_panels()
        for target in panel["targets"]
    ]
    rules_file = tmp_path / "dashboard-queries.yml"
    rules_file.write_text(json.dumps({"groups": [{"name": "dashboard", "rules": rules}]}))
    result = promtool("check", "rules", rules_file)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"SUCCESS: {len(rules)} rules found" in result.stdout


def test_dashboard_shows_every_contract_metric_and_no_other() -> None:
    named = metric_names(DASHBOARD.read_text())
    assert named <= CONTRACT_METRICS, f"not in the contract: {named - CONTRACT_METRICS}"
    assert named >= CONTRACT_METRICS, f"on no panel: {CONTRACT_METRICS - named}"


def test_every_panel_the_runbook_points_at_exists() -> None:
    titles = {panel["title"] for panel in _panels()}
    pointed = [
        title
        for line in _RUNBOOK_PANELS.findall(RUNBOOK.read_text())
        for title in re.findall(r"\"([^\"]+)\"", line)
    ]
    assert pointed, "the runbook points at no panel"
    assert set(pointed) <= titles, set(pointed) - titles
