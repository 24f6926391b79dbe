#!/usr/bin/env python3
"""EXPLAIN (ANALYZE, BUFFERS) of the list queries, saved one file per plan,
with every `Seq Scan on events` or `on alerts` flagged.

    explain.py --out-dir DIR --deep-offset N --since T --until T

Each query runs as the server runs it: prepared, with its parameters bound
(bench/sql/*.sql). sqlx keeps prepared statements per connection, and after
five executions PostgreSQL may switch a statement to a generic plan, so each
query is explained twice: custom plan (first executions) and generic plan
(the steady state, if PostgreSQL judges it no worse).
The database comes from BENCH_DATABASE_URL. Prints one JSON object.
"""

import argparse
import json
import os
import re
import subprocess
import sys

SQL_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "sql")
PLAN_MODES = {"custom": "force_custom_plan", "generic": "force_generic_plan"}
SEQ_SCAN = re.compile(r"(?:Parallel )?Seq Scan on (?:events|alerts)\b[^\n(]*")
EXECUTION_TIME = re.compile(r"Execution Time: ([0-9.]+) ms")


def queries(deep_offset, since, until):
    """(name, sql file, psql variables) of every query explained."""
    window = {"since": since, "until": until}
    return [
        ("alerts_list_first_page", "alerts_list.sql", {"offset": "0"}),
        ("alerts_list_deep_page", "alerts_list.sql", {"offset": str(deep_offset)}),
        ("alerts_count", "alerts_count.sql", {}),
        ("events_window_list", "events_window_list.sql", window),
        ("events_window_count", "events_window_count.sql", window),
    ]


def explain(url, sql_file, variables, plan_mode):
    command = ["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1"]
    for name, value in variables.items():
        command += ["-v", f"{name}={value}"]
    command += ["-c", f"SET plan_cache_mode = {plan_mode}", "-f", os.path.join(SQL_DIR, sql_file), url]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"psql failed on {sql_file}: {done.stderr.strip()}")
    return done.stdout


def summarise(name, mode, plan, path):
    execution = EXECUTION_TIME.search(plan)
    return {
        "name": name,
        "plan_mode": mode,
        "file": path,
        "execution_ms": float(execution.group(1)) if execution else None,
        "seq_scans": sorted({m.group(0).strip() for m in SEQ_SCAN.finditer(plan)}),
    }


def main(argv):
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--out-dir", required=True)
    parser.add_argument("--deep-offset", type=int, required=True)
    parser.add_argument("--since", required=True)
    parser.add_argument("--until", required=True)
    args = parser.parse_args(argv)

    url = os.environ["BENCH_DATABASE_URL"]
    os.makedirs(args.out_dir, exist_ok=True)
    plans, errors = [], []
    for name, sql_file, variables in queries(args.deep_offset, args.since, args.until):
        for mode, setting in PLAN_MODES.items():
            path = os.path.join(args.out_dir, f"{name}.{mode}.txt")
            try:
                plan = explain(url, sql_file, variables, setting)
            except RuntimeError as e:
                errors.append(str(e))
                continue
            with open(path, "w", encoding="utf-8") as f:
                f.write(plan)
            plans.append(summarise(name, mode, plan, path))
    json.dump({"plans": plans, "errors": errors}, sys.stdout, indent=1)
    print()


if __name__ == "__main__":
    main(sys.argv[1:])
