"""Benchmark output: one JSON file per run and a markdown table."""

from __future__ import annotations

import os
import platform
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

from bench.stats import Percentiles


def machine() -> dict[str, Any]:
    memory_kb = 0
    with Path("/proc/meminfo").open() as meminfo:
        for line in meminfo:
            if line.startswith("MemTotal:"):
                memory_kb = int(line.split()[1])
    return {
        "cores": os.cpu_count(),
        "memory_gib": round(memory_kb / 1024 / 1024, 1),
        "python": platform.python_version(),
        "platform": platform.platform(),
    }


def write_report(name: str, result: dict[str, Any], out: Path) -> str:
    """Write the run's JSON next to earlier ones and return its markdown table."""
    out.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    document = {"benchmark": name, "at": stamp, "machine": machine(), **result}
    path = out / f"{name}-{stamp}.json"
    path.write_bytes(orjson.dumps(document, option=orjson.OPT_INDENT_2))
    if name == "engine":
        table = _engine_table(result)
    elif name == "rush":
        table = _rush_table(document)
    elif name == "waiting-room":
        table = _waiting_room_table(document)
    elif name == "best-available":
        table = _best_available_table(result)
    else:
        table = "\n".join(f"| {key} | {value} |" for key, value in result.items())
    return f"{table}\n\n(written to {path})"


def _best_available_table(result: dict[str, Any]) -> str:
    lines = [
        f"{result['seats']} seats, {result['buyers']} buyers, one shard:",
        "",
        "| mix | decisions | decisions/s | p50 ms | p99 ms | engine CPU s "
        "| engine CPU µs per decision | seats held | invariants |",
        "|---|---:|---:|---|---|---:|---:|---:|---|",
    ]
    for row in result["runs"]:
        latency = row["latency"]
        p50 = " · ".join(f"{kind} {latency[kind]['p50_ms']}" for kind in latency)
        p99 = " · ".join(f"{kind} {latency[kind]['p99_ms']}" for kind in latency)
        lines.append(
            f"| {row['mix']} | {row['decisions']} | {row['decisions_per_s']} | {p50} | {p99} "
            f"| {row['engine_cpu_s']} | {row['engine_cpu_us_per_decision']} "
            f"| {row['seats_held']} | {row['invariants']} |"
        )
    return "\n".join(lines)


def _engine_table(result: dict[str, Any]) -> str:
    lines = [
        f"Redis: {result.get('redis', 'one server')}.",
        "",
        "| shards | engine processes | decisions | decisions/s | p50 ms | p99 ms | max ms "
        "| CPU s: engine · flusher · Redis · load client | decisions per engine CPU-second "
        "| per engine + flusher CPU-second | per Redis CPU-second "
        "| engine's count · decision p50 · p99 ms (its /metrics) | invariants |",
        "|---:|---:|---:|---:|---:|---:|---:|---|---:|---:|---:|---|---|",
    ]
    for row in result["configurations"]:
        latency, cpu = row["latency"], row["cpu_s"]
        engine_cpu = sum(used for name, used in cpu.items() if name.startswith("engine"))
        counted = row.get("engine_metrics")
        engine_says = (
            "metrics off"
            if counted is None
            else f"{counted['hold_decisions']} · {counted['decision_p50_ms']} · "
            f"{counted['decision_p99_ms']}"
        )
        lines.append(
            f"| {row['shards']} | {row['engine_processes']} | {row['decisions']} "
            f"| {row['decisions_per_s']} | {latency['p50_ms']} | {latency['p99_ms']} "
            f"| {latency['max_ms']} | {engine_cpu:.2f} · {cpu.get('flusher', '-')} · "
            f"{redis_cpu(cpu)} · {cpu['load-client']} | {row['decisions_per_engine_cpu_s']} "
            f"| {row.get('decisions_per_engine_and_flusher_cpu_s', '-')} "
            f"| {row.get('decisions_per_redis_cpu_s', '-')} "
            f"| {engine_says} | {row['invariants']} |"
        )
    paced = result["paced"]
    lines.append("")
    lines.append(
        f"Paced at {paced['rate_per_s']}/s on one shard: p50 {paced['latency']['p50_ms']} ms, "
        f"p99 {paced['latency']['p99_ms']} ms, max {paced['latency']['max_ms']} ms "
        f"({paced['latency']['count']} decisions, {paced['timed_out']} not decided within the "
        "decision timeout)."
    )
    return "\n".join(lines)


def redis_cpu(cpu: dict[str, float]) -> str:
    """Every redis-server's CPU seconds summed; on a cluster, the masters' and the replicas'
    shares after it."""
    total = sum(used for name, used in cpu.items() if name.startswith("redis"))
    if "redis-server" in cpu:
        return f"{total:.2f}"
    masters = sum(used for name, used in cpu.items() if name.startswith("redis-master"))
    replicas = sum(used for name, used in cpu.items() if name.startswith("redis-replica"))
    return f"{total:.2f} ({masters:.2f} masters + {replicas:.2f} replicas)"


def _redis_cpu_s(processes: dict[str, Any]) -> str:
    return redis_cpu({name: usage["cpu_s"] for name, usage in processes.items()})


def _latency(summary: Percentiles) -> str:
    return (
        f"p50 {summary['p50_ms']} · p95 {summary['p95_ms']} · p99 {summary['p99_ms']} · "
        f"max {summary['max_ms']} ms (n={summary['count']})"
    )


def _rush_table(document: dict[str, Any]) -> str:
    config, holds, feed = document["config"], document["holds"], document["websocket"]
    behind, host = document["write_behind"], document["machine"]
    sell_out, ended = document["sell_out"], document["expiry"]["all_holds_ended_after_rush_s"]
    lines = [
        f"Rush at {document['at']} on {host['cores']} cores, {host['memory_gib']} GiB: "
        f"`{document['command']}`",
        "",
        "| measure | value |",
        "|---|---|",
        f"| seats / buyers / watchers | {config['seats']} / {config['buyers']} / "
        f"{config['watchers']} (hold TTL {config['hold_ttl_s']} s, {config['in_flight']} in "
        f"flight, {config['web_processes']} web process(es), "
        f"{config.get('engines', 1)} engine process(es)) |",
        f"| Redis | {config.get('redis', 'one server')} |",
        f"| hold decisions | {holds['decisions']} ({holds['granted']} granted, "
        f"{holds['buyers_without_hold']} buyers without a hold, {holds['unanswered']} "
        "unanswered) |",
        f"| hold decisions/s | {holds['decisions_per_s']} |",
        f"| hold decisions per engine CPU-second · per Redis CPU-second (all nodes) "
        f"| {holds.get('per_engine_cpu_s', '-')} · {holds.get('per_redis_cpu_s', '-')} "
        f"(Redis CPU {_redis_cpu_s(document['processes'])} s) |",
        f"| hold decision latency | {_latency(holds['latency'])} |",
        f"| the processes' own /metrics | {_counted(document['metrics'])} |",
        f"| {'sold out' if sell_out['sold_out'] else 'all buyers done'} after "
        f"| {sell_out['seconds']} s |",
        f"| checkout (POST → page → pay) | {_latency(document['checkout']['latency'])} |",
        f"| checkout outcomes | {_pairs(document['checkout']['outcomes'])} |",
        f"| seat maps open (first snapshot each) | {feed['all_open_s']} s |",
        f"| websocket push latency | {_latency(feed['push_latency'])}; "
        f"{feed['messages']} batches in {feed['frames']} frames, "
        f"{feed['reconnects']} reconnects, {feed['gaps']} gaps |",
        f"| write-behind lag | {_latency(behind['lag'])}; {behind['unseen']} unseen |",
        f"| journal drained after the rush | {behind['drained_after_rush_s']} s |",
        f"| every hold ended after the rush | {_seconds(ended)} |",
        f"| in MariaDB at the end | {_stored(document['stored'])} |",
        f"| responses | {_pairs(document['responses'])} |",
        f"| 5xx | {_server_errors(document['server_errors'])} |",
        f"| child log warnings/errors | {_complaints(document['child_logs'])} |",
        f"| invariants | {_invariants(document['invariants'])} |",
        "",
        "| process | peak RSS MiB | CPU s from the start signal to the checks |",
        "|---|---:|---:|",
    ]
    for name, usage in document["processes"].items():
        lines.append(f"| {name} | {usage['peak_rss_mib']} | {usage['cpu_s']} |")
    return "\n".join(lines)


def _counted(metrics: dict[str, dict[str, Any]]) -> str:
    engine, web = metrics["engine"], metrics["web"]
    return (
        f"engine: {engine['hold_decisions']} hold decisions "
        f"({_pairs(engine['by_outcome'])}), decision p50 {engine['decision_p50_ms']} ms, "
        f"p99 {engine['decision_p99_ms']} ms; gateway: hold requests "
        f"{_pairs(web['hold_requests'])}, engine round trip p50 "
        f"{web['engine_roundtrip_p50_ms']} ms, p99 {web['engine_roundtrip_p99_ms']} ms"
    )


def _pairs(counts: dict[str, int]) -> str:
    return ", ".join(f"{key}: {value}" for key, value in counts.items()) or "none"


def _server_errors(errors: list[dict[str, Any]]) -> str:
    return (
        "; ".join(
            f"{error['count']} x {error['status']} {error['code']} ({error['message']})"
            for error in errors
        )
        or "none"
    )


def _invariants(verdict: str | list[str]) -> str:
    return verdict if isinstance(verdict, str) else f"BROKEN ({len(verdict)} problems)"


def _complaints(found: dict[str, dict[str, Any]]) -> str:
    return ", ".join(f"{name}: {logged['lines']} lines" for name, logged in found.items()) or "none"


def _seconds(value: float | None) -> str:
    return "not within the wait" if value is None else f"{value} s"


def _stored(stored: dict[str, Any]) -> str:
    if not stored:
        return "not read (invariants broken)"
    return (
        f"holds {_pairs(stored['holds'])}; payments {_pairs(stored['payments'])}; "
        f"{stored['bookings']} bookings; {stored['payments_open_for_ended_holds']} payments "
        f"still open for ended holds ({stored['of_which_planned_after_hold_ended']} planned "
        "after their hold ended)"
    )


def _waiting_room_table(document: dict[str, Any]) -> str:
    config, joins, admission = document["config"], document["joins"], document["admission"]
    fair, estimate, holds = document["fairness"], document["estimated_wait"], document["holds"]
    sockets, host = document["queue_sockets"], document["machine"]
    lines = [
        f"Waiting-room rush at {document['at']} on {host['cores']} cores, "
        f"{host['memory_gib']} GiB: `{document['command']}`",
        "",
        "| measure | value |",
        "|---|---|",
        f"| seats / buyers / queue sockets | {config['seats']} / {config['buyers']} / "
        f"{config['sockets']} ({config['pre_queue_share']:.0%} in the pre-queue, the rest "
        f"within {config['join_window_s']} s of the start; {config['processes']} load "
        "processes) |",
        f"| room | {config['admissions_per_minute']} admissions/min, at most "
        f"{config['max_inside']} inside, sessions {config['session_seconds']} s |",
        f"| joins | {joins['answered']} of {joins['buyers']} answered (the last "
        f"{_seconds(joins['all_answered_after_start_s'])} after the start); "
        f"{_latency(joins['latency'])} |",
        f"| run ended | {document['ended']}: last admission "
        f"{admission['last_admission_after_start_s']} s after the start, sold out after "
        f"{admission['sold_out_after_start_s']} s |",
        f"| admitted / shopped | {fair['admitted']} / {admission['shopped']} (peak inside "
        f"{admission['peak_inside']}, most waiting {admission['most_waiting']}) |",
        f"| admissions out of rank order | {fair['out_of_rank_order']} (ranks 1..N: "
        f"{fair['ranks_are_1_to_n']}) |",
        f"| pre-queue: Spearman(arrival, rank) | {fair['pre_queue_spearman_arrival_vs_rank']} "
        f"over {fair['pre_queue_places']} places |",
        f"| estimated minus real wait | {_estimate(estimate)} |",
        f"| hold latency, every hold | {_latency(holds['latency'])} |",
        f"| hold latency while {holds['crowd']}+ wait | {_latency(holds['while_crowd_waits'])} |",
        f"| … of those, once every join was answered | "
        f"{_latency(holds['after_joins_while_crowd_waits'])} |",
        f"| holds | {holds['granted']} granted, {holds['buyers_without_hold']} admitted buyers "
        f"without one, {holds['unanswered']} unanswered |",
        f"| checkout outcomes | {_pairs(document['checkout']['outcomes'])} |",
        f"| queue sockets | {sockets['open']} open after {sockets['open_after_s']} s; "
        f"{sockets['frames']} frames, push {_latency(sockets['push_latency'])}; "
        f"{sockets['reconnects']} reconnects |",
        f"| join/status responses | {_pairs(joins['responses'])} |",
        f"| 5xx | {_server_errors(document['server_errors'])} |",
        f"| child log warnings/errors | {_complaints(document['child_logs'])} |",
        f"| invariants | {_invariants(document['invariants'])} |",
        "",
        "| process | peak RSS MiB | CPU s from the go to the end of admission |",
        "|---|---:|---:|",
    ]
    for name, usage in document["processes"].items():
        lines.append(f"| {name} | {usage['peak_rss_mib']} | {usage['cpu_s']} |")
    return "\n".join(lines)


def _estimate(estimate: dict[str, Any]) -> str:
    if not estimate["count"]:
        return "no estimate given"
    return (
        f"median {estimate['median_error_s']} s, median |error| "
        f"{estimate['median_abs_error_s']} s, p90 |error| {estimate['p90_abs_error_s']} s "
        f"(n={estimate['count']}; positive: admitted sooner than promised)"
    )
