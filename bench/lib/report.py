#!/usr/bin/env python3
"""Turns a run's facts (JSON lines, appended by bench/run as it measures, so a
run that stops half-way still leaves what it measured) into the results: one
JSON document and a Markdown page, each figure beside its target; and the
latest figures' section of docs/performance.md.

    report.py --facts FILE --json OUT.json --md OUT.md [--fail-on-problems]
    report.py --docs docs/performance.md --from-json bench/results/latest.json

Problems are socket errors, unexpected statuses, a server that died, rows
missing after ingest, failed cold starts. With --fail-on-problems (smoke
runs, for CI) they make the exit status 1; a full run only reports them, as
errors under heavy load are results too. Missed targets never fail a run.
"""

import argparse
import json
import os
import sys

MIB_KB = 1024  # VmHWM is in KiB
TARGET_SIZE = 1_000_000
TARGET_CONNECTIONS = 32

DOCS_BEGIN = "<!-- bench/run writes the latest figures below; do not edit by hand -->"
DOCS_END = "<!-- end of the figures bench/run writes -->"

# The API scenarios pgbench runs the server's statements for (each with
# `--user ID`, the id of the user wrk signs in as).
CEILINGS = {
    "ingest": "tmctl statements events-create",
    "ingest_batch": "tmctl statements events-batch bench/.work/batches/batch-N.json",
    "alerts_first_page": "tmctl statements alerts-list 'severity=High&status=Open'",
    "alert_by_id": "tmctl statements alerts-get",
    "alerts_cursor_first": "tmctl statements alerts-list 'severity=High&status=Open&cursor='",
    "alerts_cursor_deep": "tmctl statements alerts-list 'severity=High&status=Open&cursor=TOKEN'",
    "stats_7d": "tmctl statements alerts-stats ''",
    "stats_30d": "tmctl statements alerts-stats 'since=...'",
}
READ_CEILINGS = ("alerts_first_page", "alert_by_id", "alerts_cursor_first", "alerts_cursor_deep",
                 "stats_7d", "stats_30d")
# The ceilings every run has had: missing from a run, they are named.
LEGACY_CEILINGS = ("alerts_first_page", "alert_by_id", "ingest")
# The lists among them: each must reach 60% of its ceiling.
LIST_CEILINGS = ("alerts_first_page", "alerts_cursor_first", "alerts_cursor_deep")
# The statement every signed-in request runs before its own, as `tmctl
# statements` names it; ceilings of runs before it was shown ran without it.
USER_CHECK = "auth"

SCENARIO_TITLES = {
    "alerts_first_page": "GET /api/alerts/?severity=High&status=Open (first page, analyst)",
    "alerts_deep_page": "same filter, middle page (analyst)",
    "alert_by_id": "GET /api/alerts/{id}/, random ids (analyst)",
    "ingest": "POST /api/events/, High event (admin)",
    "ingest_baseline": "same, served by the code before this round (BASELINE_TMCTL)",
    "ingest_batch": "POST /api/events/batch/, 1,000 events a batch, 4 clients (admin)",
    "token": "POST /api/token/ (admin credentials)",
    "events_window": "GET /api/events/?since&until, narrow window (admin)",
    "alerts_cursor_first": "same filter, first cursor page (`&cursor=`)",
    "alerts_cursor_deep": "same filter, cursor page from the middle",
    "stats_7d": "GET /api/alerts/stats/ (last 7 days)",
    "stats_30d": "GET /api/alerts/stats/?since= (last 30 days)",
    "bulk_reader": "the first page, read while bulk calls acknowledge every Open High alert",
}


# ---------------------------------------------------------------- collecting

def append_fact(path, fact):
    """Adds one fact ({"kind": ..., ...}) to a run's facts file."""
    if "kind" not in fact:
        raise ValueError("every fact needs a kind")
    with open(path, "a", encoding="utf-8") as f:
        f.write(json.dumps(fact) + "\n")


def read_facts(path):
    facts = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            if line.strip():
                facts.append(json.loads(line))
    return facts


def of_kind(facts, kind):
    return [f for f in facts if f.get("kind") == kind]


def last_of_kind(facts, kind):
    found = of_kind(facts, kind)
    return found[-1] if found else {}


def strip_kind(fact):
    return {k: v for k, v in fact.items() if k != "kind"}


def pgbench_scenario(entry):
    # Runs from before the read ceilings recorded ingest's without a scenario.
    return entry.get("scenario", "ingest")


def statement_names(entry):
    """The names of the statements a pgbench ceiling ran, in order ([] for
    runs that did not record them)."""
    return [s.get("name") for s in entry.get("statements") or []]


def without_user_check(doc, size=None):
    """The scenarios whose ceiling (at size, or at any) ran without the
    signed-in user's check: runs from before `tmctl statements` showed it
    measured the request's own statements alone, so their ratios set the
    API against less than it runs."""
    return sorted({pgbench_scenario(p) for p in doc["pgbench"]
                   if (size is None or p.get("size") == size) and USER_CHECK not in statement_names(p)})


def user_check_words(entries):
    """What the prose of a ceilings' section says about the user's check:
    (before the request's own statements, after the description)."""
    lacking = without_user_check({"pgbench": entries})
    if not lacking:
        return "the signed-in user's check, then ", " So the ratio compares like with like."
    return "", (f" This run's {', '.join(lacking)} ceiling{'s' if len(lacking) > 1 else ''} ran "
                "without the signed-in user's check, which every such request runs first (the run "
                "predates `tmctl statements` showing it), so the ratio sets the API against less "
                "than it runs.")


def ceiling_ratios(api, pgbench, scenarios):
    """API rps over pgbench tps for the same scenario, per size where both
    were measured (and pgbench ran clean)."""
    ceilings = {(pgbench_scenario(p), p["size"]): p.get("tps") for p in pgbench}
    ratios = []
    for entry in api:
        if entry["scenario"] not in scenarios or not entry.get("result"):
            continue
        tps = ceilings.get((entry["scenario"], entry["size"]))
        if tps:
            ratios.append(
                {"size": entry["size"], "scenario": entry["scenario"], "api_rps": entry["result"]["rps"],
                 "pgbench_tps": tps, "ratio": round(entry["result"]["rps"] / tps, 3)}
            )
    return ratios


def ingest_ratios(api, pgbench):
    """API ingest rps over pgbench tps, per size where both were measured."""
    return [{k: v for k, v in r.items() if k != "scenario"}
            for r in ceiling_ratios(api, pgbench, ("ingest",))]


def read_ratios(api, pgbench):
    """The triage list's first page and the single alert, as ingest."""
    return ceiling_ratios(api, pgbench, READ_CEILINGS)


def build_document(facts):
    api = [strip_kind(f) for f in of_kind(facts, "api")]
    pgbench = [strip_kind(f) for f in of_kind(facts, "pgbench")]
    cold = strip_kind(last_of_kind(facts, "cold_start"))
    doc = {
        "run": strip_kind(last_of_kind(facts, "run")),
        "machine": last_of_kind(facts, "machine").get("info", {}),
        "datasets": [strip_kind(f) for f in of_kind(facts, "dataset")],
        "argon2": strip_kind(last_of_kind(facts, "argon2")),
        "api": api,
        "pgbench": pgbench,
        "ingest_vs_pgbench": ingest_ratios(api, pgbench),
        "reads_vs_pgbench": read_ratios(api, pgbench),
        "batch_vs_pgbench": ceiling_ratios(api, pgbench, ("ingest_batch",)),
        "bulk": strip_kind(last_of_kind(facts, "bulk")),
        "plans": strip_kind(last_of_kind(facts, "plans")),
        "cold_start": cold,
        "cold_start_plain": strip_kind(last_of_kind(facts, "cold_start_plain")),
    }
    doc["targets"] = evaluate_targets(doc)
    doc["problems"] = find_problems(doc, facts)
    return doc


# ------------------------------------------------------------------- targets

def largest_size(doc):
    sizes = [entry["size"] for entry in doc["api"]]
    return max(sizes) if sizes else None


def scenario_result(doc, scenario, size):
    for entry in doc["api"]:
        if entry["scenario"] == scenario and entry["size"] == size:
            return entry.get("result")
    return None


def target(name, goal, value, met, unit="", note=""):
    status = "n/a" if value is None or met is None else ("met" if met else "missed")
    return {"name": name, "target": goal, "value": value, "unit": unit, "status": status, "note": note}


def api_targets(doc):
    size = largest_size(doc)
    connections = doc["run"].get("connections")
    at_target_load = size == TARGET_SIZE and connections == TARGET_CONNECTIONS
    load_note = f"at {size:,} events, {connections} connections" if size else "not measured"
    if size and not at_target_load:
        load_note += f" (target is for {TARGET_SIZE:,} events, {TARGET_CONNECTIONS} connections)"

    def judged(ok):
        return ok if at_target_load else None

    found = []
    for scenario, label in (("alerts_first_page", "first page"), ("alerts_deep_page", "middle page")):
        result = scenario_result(doc, scenario, size)
        rps = result and result["rps"]
        p99 = result and result["p99_ms"]
        found.append(target(f"Alert list ({label}): throughput", ">= 3,000 rps", rps,
                            judged(rps is not None and rps >= 3000), "rps", load_note))
        found.append(target(f"Alert list ({label}): p99", "< 20 ms", p99,
                            judged(p99 is not None and p99 < 20), "ms", load_note))
    single = scenario_result(doc, "alert_by_id", size)
    p99 = single and single["p99_ms"]
    found.append(target("Single alert: p99", "< 5 ms", p99,
                        None if p99 is None else p99 < 5, "ms", load_note))
    ratios = [r for r in doc["ingest_vs_pgbench"] if r["size"] == size]
    ratio = ratios[0]["ratio"] if ratios else None
    found.append(target("Ingest: API rps / pgbench tps", ">= 0.50", ratio,
                        None if ratio is None else ratio >= 0.5, "", load_note))
    found.extend(batch_targets(doc, size))
    return found


def batch_targets(doc, size):
    """Batch ingest's events/s and its ratio to pgbench's same statement (4
    clients each), and single ingest against the baseline binary, in the
    same run."""
    found = []
    batch = next((e for e in doc["api"] if e["scenario"] == "ingest_batch" and e["size"] == size), None)
    result = batch and batch.get("result")
    per_s = round(result["rps"] * batch["batch_size"]) if result else None
    note = f"at {size:,} events, {batch['clients']} clients" if batch else "no batch scenario in this run"
    found.append(target("Batch ingest: events/s", ">= 50,000", per_s,
                        None if per_s is None else per_s >= 50_000, "events/s", note))
    ratios = [r for r in doc.get("batch_vs_pgbench", []) if r["size"] == size]
    ratio = ratios[0]["ratio"] if ratios else None
    found.append(target("Batch ingest: API / pgbench (same statement)", ">= 0.50", ratio,
                        None if ratio is None else ratio >= 0.5, "", note))
    single = scenario_result(doc, "ingest", size)
    baseline = scenario_result(doc, "ingest_baseline", size)
    kept = round(single["rps"] / baseline["rps"], 3) if single and baseline and baseline["rps"] else None
    found.append(target("Single ingest: rps / the code before this round", ">= 0.90", kept,
                        None if kept is None else kept >= 0.9, "",
                        f"at {size:,} events, same run" if kept is not None else "no BASELINE_TMCTL"))
    return found


def cold_start_targets(doc):
    found = []
    for name, fn in sorted(doc["cold_start"].get("result", {}).get("functions", {}).items()):
        median = fn.get("median_ms")
        found.append(target(f"Cold start median ({name})", "< 30 ms", median,
                            None if median is None else median < 30, "ms"))
        rss = fn.get("peak_rss_kb_max")
        rss_mib = round(rss / MIB_KB, 2) if rss is not None else None
        found.append(target(f"Function peak RSS ({name})", "< 15 MiB", rss_mib,
                            None if rss_mib is None else rss_mib < 15, "MiB"))
        size = fn.get("bootstrap_bytes")
        size_mib = round(size / 2**20, 2) if size is not None else None
        found.append(target(f"Bootstrap size ({name})", "< 10 MiB", size_mib,
                            None if size_mib is None else size_mib < 10, "MiB"))
    return found


def triage_targets(doc):
    """Cursor pages against the first, every list against its ceiling, the
    stats' latency, and bulk acknowledging at the largest size."""
    size = largest_size(doc)
    note = f"at {size:,} events" if size else "not measured"
    found = []
    first = scenario_result(doc, "alerts_cursor_first", size)
    deep = scenario_result(doc, "alerts_cursor_deep", size)
    rps = round(deep["rps"] / first["rps"], 3) if first and deep and first["rps"] else None
    found.append(target("Cursor page from the middle: rps / first cursor page", ">= 0.90", rps,
                        None if rps is None else rps >= 0.9, "", note))
    p99 = round(deep["p99_ms"] / first["p99_ms"], 3) if first and deep and first["p99_ms"] else None
    found.append(target("Cursor page from the middle: p99 / first cursor page", "<= 1.10", p99,
                        None if p99 is None else p99 <= 1.1, "", note))
    for r in (r for r in doc["reads_vs_pgbench"] if r["size"] == size and r["scenario"] in LIST_CEILINGS):
        found.append(target(f"{SCENARIO_TITLES[r['scenario']]}: API / pgbench", ">= 0.60", r["ratio"],
                            r["ratio"] >= 0.6, "", note))
    for scenario, limit in (("stats_7d", 20), ("stats_30d", 100)):
        result = scenario_result(doc, scenario, size)
        value = result and result["p99_ms"]
        found.append(target(f"Stats ({scenario[6:]}): p99", f"< {limit} ms", value,
                            None if value is None else value < limit, "ms", note))
    bulk = doc.get("bulk") or {}
    bulk_note = (f"{bulk.get('updated', 0):,} alerts in {bulk.get('calls')} calls, {note}"
                 if bulk else "no bulk scenario in this run")
    found.append(target("Bulk by filter: call p99", "< 2,000 ms", bulk.get("p99_ms"),
                        None if bulk.get("p99_ms") is None else bulk["p99_ms"] < 2000, "ms", bulk_note))
    found.append(target("Bulk by filter: alerts/s overall", ">= 20,000", bulk.get("alerts_per_s"),
                        None if bulk.get("alerts_per_s") is None else bulk["alerts_per_s"] >= 20_000,
                        "alerts/s", bulk_note))
    reader = scenario_result(doc, "bulk_reader", size)
    value = reader and reader["p99_ms"]
    found.append(target("Bulk by filter: concurrent reader p99", "< 50 ms", value,
                        None if value is None else value < 50, "ms", bulk_note))
    return found


def evaluate_targets(doc):
    return api_targets(doc) + triage_targets(doc) + cold_start_targets(doc)


# ------------------------------------------------------------------ problems

def scenario_problems(entry):
    where = f"{entry['scenario']} at {entry['size']:,} events"
    result = entry.get("result")
    if not result:
        return [f"{where}: wrk gave no result"]
    found = []
    if result["requests"] == 0:
        found.append(f"{where}: no request completed")
    if result["socket_errors"]:
        found.append(f"{where}: {result['socket_errors']} socket errors ({result['timeouts']} timeouts)")
    if result["non_2xx"]:
        found.append(f"{where}: {result['non_2xx']} answers with status >= 400")
    check = entry.get("ingest_check")
    if check and result.get("responses_2xx") is not None:
        acknowledged = result["responses_2xx"] * check.get("events_per_answer", 1)
        if check["rows_added"] < acknowledged:
            found.append(
                f"{where}: {acknowledged} events acknowledged but only "
                f"{check['rows_added']} rows added"
            )
    return found


def find_problems(doc, facts):
    found = [f["message"] for f in of_kind(facts, "problem")]
    for entry in doc["api"]:
        found += scenario_problems(entry)
    for name, fn in doc["cold_start"].get("result", {}).get("functions", {}).items():
        if fn["ok"] < fn["starts"]:
            found.append(f"cold start {name}: {fn['starts'] - fn['ok']} of {fn['starts']} failed: "
                         + "; ".join(fn["errors"][:2]))
    for p in doc["pgbench"]:
        if p.get("failed"):
            found.append(f"pgbench {pgbench_scenario(p)} at {p['size']:,} events: "
                         f"{p['failed']} failed transactions")
    for error in doc["plans"].get("result", {}).get("errors", []):
        found.append(f"EXPLAIN: {error}")
    return found


# ------------------------------------------------------------------ markdown

def num(value, digits=1):
    if value is None:
        return "-"
    if isinstance(value, int):
        return f"{value:,}"
    return f"{value:,.{digits}f}"


def mib(kb):
    return "-" if kb is None else f"{kb / MIB_KB:.1f}"


def table(headers, rows):
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines) + "\n"


def md_header(doc):
    run, machine = doc["run"], doc["machine"]
    lines = [f"# Benchmark results ({run.get('mode', '?')})", ""]
    if run.get("mode") == "smoke":
        lines.append("> Smoke run: tiny data set, short runs. It checks that the benchmark "
                     "works; its figures mean nothing.\n")
    if "debug" in str(run.get("tmctl", "")):
        lines.append("> `tmctl` was a debug build: throughput and latency figures mean nothing.\n")
    command = f"bench/run {run.get('arguments', '')}".rstrip()
    lines.append(f"{machine.get('date', '?')}, commit {machine.get('git_commit') or '?'}, `{command}`\n")
    return "\n".join(lines) + "\n"


def target_rows(doc):
    def measured(t):
        unit = f" {t['unit']}" if t["unit"] and t["value"] is not None else ""
        return num(t["value"], 2) + unit

    status = {"met": "met", "missed": "**missed**", "n/a": "n/a"}
    return [(t["name"], t["target"], measured(t), status[t["status"]], t["note"]) for t in doc["targets"]]


def md_targets(doc):
    return "## Targets\n\n" + table(["What", "Target", "Measured", "Status", "Conditions"], target_rows(doc)) + "\n"


def md_machine(doc):
    m = doc["machine"]
    rows = [("CPU", f"{m.get('cpu_model')} ({m.get('nproc')} cores)"),
            ("Memory", f"{num(m.get('memory_mib'), 0)} MiB"), ("Kernel", m.get("kernel")),
            ("PostgreSQL", m.get("postgresql")), ("rustc", m.get("rustc")), ("wrk", m.get("wrk")),
            ("pgbench", m.get("pgbench")),
            ("Python", m.get("python")), ("tmctl", f"`{m.get('tmctl')}`")]
    return "## Machine\n\n" + table(["", ""], rows) + "\n"


def md_datasets(doc):
    rows = [(num(d["size"]), num(d["added"]), num(d.get("insert_s"), 2), num(d.get("vacuum_s"), 2),
             num(round(d["added"] / d["insert_s"])) if d.get("insert_s") else "-",
             num(d.get("events")), num(d.get("alerts")))
            for d in doc["datasets"]]
    return ("## Data sets\n\nLoaded with SQL (`bench/sql/load.sql`); each size adds to the one before. "
            "Rows in the tables include those the ingest scenarios and pgbench added earlier.\n\n"
            + table(["Size", "Events added", "INSERT s", "VACUUM ANALYZE s", "Events/s",
                     "Events in table", "Alerts in table"], rows) + "\n")


def md_api(doc):
    run = doc["run"]
    out = [f"## API (`tmctl serve`)\n\nwrk -t{run.get('threads')} -c{run.get('connections')} "
           f"-d{run.get('duration_s')}s per scenario; pool size {run.get('pool_size')}; "
           "non-2xx is wrk's count of answers with status >= 400; peak RSS is the server's VmHWM "
           "during the scenario (reset to the current RSS before each, so memory the allocator kept "
           "from an earlier scenario shows in later ones).\n"]
    for size in sorted({e["size"] for e in doc["api"]}):
        rows = []
        for e in (e for e in doc["api"] if e["size"] == size):
            r = e.get("result") or {}
            rows.append((SCENARIO_TITLES.get(e["scenario"], e["scenario"]), num(r.get("rps")),
                         num(r.get("p50_ms"), 2), num(r.get("p90_ms"), 2), num(r.get("p99_ms"), 2),
                         num(r.get("max_ms"), 2), num(r.get("non_2xx")), num(r.get("socket_errors")),
                         mib(e.get("peak_rss_kb")) + ("" if e.get("rss_reset", True) else " (since start)")))
        out.append(f"### Data set of {size:,} events\n\n" + table(
            ["Scenario", "rps", "p50 ms", "p90 ms", "p99 ms", "max ms", "non-2xx", "socket errors",
             "peak RSS MiB"], rows))
        out.append(md_api_notes(doc, size))
    return "\n".join(out) + "\n"


def md_api_notes(doc, size):
    notes = []
    for e in (e for e in doc["api"] if e["size"] == size):
        if e["scenario"] == "alerts_deep_page":
            notes.append(f"middle page: page {e.get('page')} of {e.get('pages')} "
                         f"({num(e.get('matching'))} matching alerts)")
        if e["scenario"] == "events_window":
            notes.append(f"window: {e.get('since')} .. {e.get('until')} ({num(e.get('matching'))} events)")
        if e["scenario"] == "ingest" and e.get("ingest_check"):
            c, r = e["ingest_check"], e.get("result") or {}
            notes.append(f"ingest: {num(r.get('responses_2xx'))} answered 2xx, {num(c['rows_added'])} "
                         f"events and {num(c['alerts_added'])} alerts added to the database")
        if e["scenario"] == "ingest_batch" and e.get("ingest_check"):
            c, r = e["ingest_check"], e.get("result") or {}
            per_s = num(r["rps"] * e["batch_size"]) if r.get("rps") is not None else "?"
            notes.append(f"batch ingest: {per_s} events/s; {num(r.get('responses_2xx'))} batches answered "
                         f"2xx, {num(c['rows_added'])} events and {num(c['alerts_added'])} alerts added "
                         "(then deleted, so later scenarios see the data set's size)")
        if e["scenario"] == "token":
            a = doc["argon2"]
            notes.append(f"token: argon2id m={a.get('memory_kib')} KiB, t={a.get('iterations')}, "
                         f"p={a.get('parallelism')}; at most {a.get('hashing_slots')} hashes at once "
                         "(one per core)")
    return "".join(f"- {n}\n" for n in notes) + "\n"


def pgbench_line(doc):
    run = doc["run"]
    return (f"`pgbench -n -M prepared -c {run.get('connections')} -j {run.get('threads')} "
            f"-T {run.get('duration_s')}`, the same concurrency and duration as wrk, in the same run")


def md_pgbench(doc):
    rows = [(num(r["size"]), num(r["api_rps"]), num(r["pgbench_tps"]), num(r["ratio"], 2))
            for r in doc["ingest_vs_pgbench"]]
    ingest = [p for p in doc["pgbench"] if pgbench_scenario(p) == "ingest"]
    before, after = user_check_words(ingest)
    detail = [(num(p["size"]), statements_cell(p), num(p.get("tps")), num(p.get("latency_ms"), 2),
               p.get("clients")) for p in ingest]
    return ("## Ingest against the database's ceiling\n\n"
            + pgbench_line(doc) + ", running what the server runs for one request "
            f"(`{CEILINGS['ingest']}`, as the admin wrk signs in as) with nothing in between, "
            f"one transaction per request: {before}the insert of the event and its alert in one "
            f"statement.{after} Its parameters are fixed (one sensor, one description); wrk's events "
            "vary them.\n\n"
            + table(["Size", "API rps", "pgbench tps", "ratio"], rows) + "\n"
            + table(["Size", "statements", "pgbench tps", "latency avg ms", "clients"], detail) + "\n")


def md_batch_pgbench(doc):
    rows = [(num(r["size"]), num(r["api_rps"] * 1000), num(r["pgbench_tps"] * 1000), num(r["ratio"], 2))
            for r in doc.get("batch_vs_pgbench", [])]
    if not rows:
        return ""
    batch = [p for p in doc["pgbench"] if pgbench_scenario(p) == "ingest_batch"]
    detail = [(num(p["size"]), statements_cell(p), num(p.get("tps")), num(p.get("latency_ms"), 2),
               p.get("clients")) for p in batch]
    return ("## Batch ingest against the database's ceiling\n\n"
            "wrk with 4 connections sends batches of 1,000 events (40% High or Critical, a tenth of those "
            "with one of 50 dedup keys; bench/lib/batches.py), 16 different ones in turn; pgbench runs the "
            f"statements the server runs for those same 16 (`{CEILINGS['ingest_batch']}`: the signed-in "
            "user's check and the one ingest statement), one picked at random per transaction, with 4 "
            "clients for as long, in the same run.\n\n"
            + table(["Size", "API events/s", "pgbench events/s", "ratio"], rows) + "\n"
            + table(["Size", "statements", "pgbench tps (batches)", "latency avg ms", "clients"], detail)
            + "\n")


def statements_cell(entry):
    names = statement_names(entry)
    return ", ".join(names) if names else "not recorded"


def drawn_example(doc):
    """How the last single-alert ceiling drew its id (`\\set p2 random(1, 9)`)."""
    for p in reversed(doc["pgbench"]):
        if pgbench_scenario(p) == "alert_by_id" and p.get("drawn"):
            return "; ".join(f"`\\set {name} {expression}`" for name, expression in sorted(p["drawn"].items()))
    return "`\\set pN random(min, max)`"


def md_read_ceilings(doc):
    ratios = doc.get("reads_vs_pgbench", [])
    rows = [(SCENARIO_TITLES.get(r["scenario"], r["scenario"]), num(r["size"]), num(r["api_rps"]),
             num(r["pgbench_tps"]), num(r["ratio"], 2))
            for r in sorted(ratios, key=lambda r: (r["size"], READ_CEILINGS.index(r["scenario"])))]
    reads = [p for p in doc["pgbench"] if pgbench_scenario(p) in READ_CEILINGS]
    before, after = user_check_words(reads)
    detail = [(p["scenario"], num(p["size"]), statements_cell(p), num(p.get("tps")), num(p.get("latency_ms"), 2),
               p.get("clients")) for p in reads]
    if not rows and not detail:
        return "## Reads against the database's ceiling\n\nNot measured.\n\n"
    return ("## Reads against the database's ceiling\n\n"
            + pgbench_line(doc) + ", running the statements the server runs for the request, "
            f"as the analyst wrk signs in as, one transaction per request: {before}for the first page "
            f"the page with its count, in one statement (`{CEILINGS['alerts_first_page']}`), for the single alert "
            f"the get statement (`{CEILINGS['alert_by_id']}`) with an id drawn per transaction from the "
            f"same range as wrk's ({drawn_example(doc)}).{after.replace('the ratio', 'each ratio')}\n\n"
            + "The cursor pages and the stats are measured the same way "
            f"(`{CEILINGS['alerts_cursor_deep']}`, `{CEILINGS['stats_7d']}`), the cursor checked with "
            "the server's key.\n\n"
            + table(["Scenario", "Size", "API rps", "pgbench tps", "ratio"], rows) + "\n"
            + table(["pgbench", "Size", "statements", "tps", "latency avg ms", "clients"], detail) + "\n")


def md_bulk(doc):
    bulk = doc.get("bulk") or {}
    if not bulk:
        return ""
    calls = bulk.get("call_ms") or []
    reader = next((e for e in doc["api"] if e["scenario"] == "bulk_reader" and e["size"] == bulk["size"]), {})
    return ("## Bulk acknowledging\n\n"
            f"At {num(bulk['size'])} events: `POST /api/alerts/bulk/` with "
            "`{\"filter\": {\"severity\": \"High\", \"status\": \"Open\"}, \"set\": {\"status\": "
            "\"Acknowledged\"}}`, repeated until nothing remains, one call at a time, while wrk reads the "
            f"first page of the same list. {num(bulk.get('open_high'))} Open High alerts; "
            f"{num(bulk.get('updated'))} acknowledged in {bulk.get('calls')} calls and "
            f"{num(bulk.get('seconds'), 2)} s ({num(bulk.get('alerts_per_s'))} alerts/s); call p99 "
            f"{num(bulk.get('p99_ms'))} ms, max {num(bulk.get('max_ms'))} ms; the reader's p99 "
            f"{num((reader.get('result') or {}).get('p99_ms'), 2)} ms over its {doc['run'].get('duration_s')} s "
            f"(the calls overlapped {num(reader.get('overlap_s'), 1)} s of it). Each call's ms: "
            + ", ".join(num(c) for c in calls) + ". The statuses were put back by SQL afterwards.\n\n")


def md_plans(doc):
    plans = doc["plans"].get("result", {}).get("plans", [])
    if not plans:
        return "## Query plans\n\nNot captured.\n\n"
    rows = [(p["name"], p["plan_mode"], num(p["execution_ms"], 3),
             ("**" + "; ".join(p["seq_scans"]) + "**") if p["seq_scans"] else "none",
             f"`{os.path.relpath(p['file'])}`") for p in plans]
    at = doc["plans"]
    return (f"## Query plans (data set of {num(at.get('size'))} events)\n\n"
            f"Tables at the time: {num(at.get('events'))} events, {num(at.get('alerts'))} alerts. "
            "EXPLAIN (ANALYZE, BUFFERS) of the server's prepared statements (`tmctl statements`), "
            "parameter types inferred as for the server's; as a custom plan "
            "(a connection's first executions) and a generic plan (what PostgreSQL may settle on "
            "after five).\n\n"
            + table(["Query", "Plan", "Execution ms", "Seq scan on events/alerts", "Plan file"], rows) + "\n")


def md_cold_start(doc):
    cold = doc["cold_start"]
    if cold.get("skipped"):
        return f"## Lambda cold starts\n\nSkipped: {cold['skipped']}\n\n"
    section = md_cold_start_table(cold)
    plain = doc.get("cold_start_plain") or {}
    if plain.get("result"):
        section += ("The same starts with the database connection in plain text (`sslmode=disable`), "
                    "to show what the TLS handshake costs:\n\n" + md_cold_start_table(plain, heading=False))
    return section


def md_cold_start_table(cold, heading=True):
    functions = cold.get("result", {}).get("functions", {})
    rows = [(name, f"{fn['ok']}/{fn['starts']}", num(fn["median_ms"], 2), num(fn["min_ms"], 2),
             num(fn["max_ms"], 2), mib(fn["peak_rss_kb_max"]), num(fn["bootstrap_bytes"]),
             f"{num(fn['zip_bytes'])} ({fn['zip_source']})")
            for name, fn in sorted(functions.items())]
    missing = cold.get("result", {}).get("missing", [])
    note = f"\nMissing bootstraps: {', '.join(missing)}\n" if missing else ""
    intro = ("## Lambda cold starts\n\nEach start: a fresh process against a local Runtime API emulator, "
             "timed from just before exec to the function's response (first request and first "
             f"database connection included). Database connection: {cold.get('connection', 'tls')}.\n\n"
             if heading else "")
    return (intro
            + table(["Function", "ok", "median ms", "min ms", "max ms", "peak RSS MiB",
                     "bootstrap bytes", "zip bytes"], rows) + note + "\n")


def md_problems(doc):
    if not doc["problems"]:
        return "## Problems\n\nNone.\n"
    return "## Problems\n\n" + "".join(f"- {p}\n" for p in doc["problems"])


def render_markdown(doc):
    return "".join([md_header(doc), md_targets(doc), md_machine(doc), md_datasets(doc), md_api(doc),
                    md_pgbench(doc), md_batch_pgbench(doc), md_read_ceilings(doc), md_bulk(doc), md_plans(doc),
                    md_cold_start(doc),
                    md_problems(doc)])


# ---------------------------------------------- docs/performance.md section

def md_summary(doc, results_link):
    """The latest figures for docs/performance.md: the largest size's
    scenarios with their database ceilings, and the targets."""
    run, machine = doc["run"], doc["machine"]
    size = largest_size(doc)
    ratios = {(r.get("scenario", "ingest"), r["size"]): r
              for r in doc["ingest_vs_pgbench"] + doc.get("reads_vs_pgbench", [])
              + doc.get("batch_vs_pgbench", [])}
    rows = []
    for e in (e for e in doc["api"] if e["size"] == size):
        r = e.get("result") or {}
        ceiling = ratios.get((e["scenario"], size), {})
        rows.append((SCENARIO_TITLES.get(e["scenario"], e["scenario"]), num(r.get("rps")),
                     num(r.get("p99_ms"), 2), num(ceiling.get("pgbench_tps")),
                     num(ceiling.get("ratio"), 2)))
    command = f"bench/run {run.get('arguments', '')}".rstrip()
    head = (f"Last full run: `{command}`, {machine.get('date', '?')}, commit {machine.get('git_commit') or '?'}, "
            f"on {machine.get('cpu_model')} ({machine.get('nproc')} cores), {num(machine.get('memory_mib'), 0)} MiB, "
            f"PostgreSQL {machine.get('postgresql')}. All its tables: "
            f"[{os.path.basename(results_link)}]({results_link}).\n\n")
    scenarios = ""
    if size:
        measured = {e["scenario"] for e in doc["api"] if e["size"] == size}
        missing = [SCENARIO_TITLES[s] for s in READ_CEILINGS + ("ingest",)
                   if (s, size) not in ratios and (s in measured or s in LEGACY_CEILINGS)]
        note = (f" (not measured in this run for: {'; '.join(missing)})" if missing else "")
        measured = [s for s in READ_CEILINGS + ("ingest",) if (s, size) in ratios]
        lacking = [SCENARIO_TITLES[s] for s in measured if s in without_user_check(doc, size)]
        check = (" (without the signed-in user's check, which this run predates, for: "
                 f"{'; '.join(lacking)})" if lacking else ", the signed-in user's check included,")
        scenarios = (f"At {size:,} events, wrk -c{run.get('connections')} -t{run.get('threads')} "
                     f"-d{run.get('duration_s')}s; pgbench runs the server's statements for the same "
                     f"request{check} at the same concurrency{note}:\n\n"
                     + table(["Scenario", "rps", "p99 ms", "pgbench tps", "API / pgbench"], rows) + "\n")
    targets = table(["What", "Target", "Measured", "Status", "Conditions"], target_rows(doc))
    problems = "".join(f"- {p}\n" for p in doc["problems"])
    return (head + scenarios + md_summary_cold_starts(doc) + "Targets:\n\n" + targets + "\n"
            + ("Problems:\n\n" + problems if problems else "Problems: none.\n"))


def md_summary_cold_starts(doc):
    tls = doc["cold_start"].get("result", {}).get("functions", {})
    plain = (doc.get("cold_start_plain") or {}).get("result", {}).get("functions", {})
    if not tls:
        return ""
    label = doc["cold_start"].get("connection", "tls")
    headers = ["Function", f"cold start median ms ({label})"]
    if plain:
        headers.append("median ms (plain)")
    headers.append("peak RSS MiB")
    rows = []
    for name, fn in sorted(tls.items()):
        row = [name, num(fn.get("median_ms"), 2)]
        if plain:
            row.append(num(plain.get(name, {}).get("median_ms"), 2))
        rows.append(row + [mib(fn.get("peak_rss_kb_max"))])
    return "Lambda cold starts, exec to first response:\n\n" + table(headers, rows) + "\n"


def replace_section(text, section):
    """text with what lies between DOCS_BEGIN and DOCS_END replaced by section;
    ValueError if the markers are not there, once each, in order."""
    begin, end = text.find(DOCS_BEGIN), text.find(DOCS_END)
    if begin < 0 or end < begin or text.count(DOCS_BEGIN) != 1 or text.count(DOCS_END) != 1:
        raise ValueError("the figures' markers are missing or repeated")
    start = begin + len(DOCS_BEGIN)
    return text[:start] + "\n\n" + section.rstrip("\n") + "\n\n" + text[end:]


def update_docs(doc, docs_path, results_md):
    """Rewrites the figures' section of docs_path from doc, linking to
    results_md (a path relative to the repository)."""
    with open(docs_path, encoding="utf-8") as f:
        text = f.read()
    link = os.path.relpath(results_md, os.path.dirname(docs_path) or ".")
    updated = replace_section(text, md_summary(doc, link))
    if updated != text:
        with open(docs_path, "w", encoding="utf-8") as f:
            f.write(updated)


def write(doc, json_path, md_path):
    with open(json_path, "w", encoding="utf-8") as f:
        json.dump(doc, f, indent=1)
        f.write("\n")
    with open(md_path, "w", encoding="utf-8") as f:
        f.write(render_markdown(doc))


def print_summary(doc):
    for t in doc["targets"]:
        print(f"report: {t['status']:>6}  {t['name']}: {t['value']} (target {t['target']})")
    for p in doc["problems"]:
        print(f"report: PROBLEM {p}", file=sys.stderr)
    sys.stdout.flush()


def main(argv):
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--facts")
    parser.add_argument("--json")
    parser.add_argument("--md")
    parser.add_argument("--fail-on-problems", action="store_true")
    parser.add_argument("--docs", help="rewrite this file's figures section")
    parser.add_argument("--from-json", help="a results document, instead of --facts")
    args = parser.parse_args(argv)

    if args.docs:
        if not args.from_json:
            parser.error("--docs takes its figures from --from-json")
        with open(args.from_json, encoding="utf-8") as f:
            doc = json.load(f)
        update_docs(doc, args.docs, os.path.splitext(args.from_json)[0] + ".md")
        sys.exit(0)
    if not (args.facts and args.json and args.md):
        parser.error("--facts, --json and --md go together")
    doc = build_document(read_facts(args.facts))
    write(doc, args.json, args.md)
    print_summary(doc)
    sys.exit(1 if doc["problems"] and args.fail_on_problems else 0)


if __name__ == "__main__":
    main(sys.argv[1:])
