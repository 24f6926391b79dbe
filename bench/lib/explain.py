"""EXPLAIN (ANALYZE, BUFFERS) of the server's own statements (from `tmctl
statements`), saved one file per plan, with every `Seq Scan on events` or
`on alerts` flagged.

Each statement runs as the server runs it: prepared, its parameters bound.
sqlx keeps prepared statements per connection, and after five executions
PostgreSQL may switch a statement to a generic plan, so each is explained
twice: custom plan (first executions) and generic plan (the steady state,
if PostgreSQL judges it no worse).
"""

import os
import re
import subprocess

import statements

PLAN_MODES = {"custom": "force_custom_plan", "generic": "force_generic_plan"}
SEQ_SCAN = re.compile(r"(?:Parallel )?Seq Scan on (?:events|alerts)\b[^\n(]*")
EXECUTION_TIME = re.compile(r"Execution Time: ([0-9.]+) ms")
PARAMETER_TYPES = re.compile(r"^parameter types: (.*)$", re.MULTILINE)


def explain(url, statement, plan_cache_mode):
    """psql's output for one statement under one plan_cache_mode."""
    command = ["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1"]
    for line in statements.explain_commands(statement, plan_cache_mode):
        command += ["-c", line]
    command.append(url)
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"psql failed on {statement.name}: {done.stderr.strip()}")
    return done.stdout


def plan_file(source, statement, mode, output):
    """What a plan file holds: where the statement came from, the statement
    and its parameters, then psql's output (inferred types and the plan)."""
    header = [f"-- {source}: statement \"{statement.name}\", {mode} plan "
              f"(plan_cache_mode = {PLAN_MODES[mode]})",
              f"PREPARE bench_query AS {statement.sql};",
              statements.execute_command(statement) + ";",
              ""]
    return "\n".join(header) + output


def summarise(name, mode, plan, path, source=None):
    execution = EXECUTION_TIME.search(plan)
    types = PARAMETER_TYPES.search(plan)
    return {
        "name": name,
        "plan_mode": mode,
        "file": path,
        "execution_ms": float(execution.group(1)) if execution else None,
        "seq_scans": sorted({m.group(0).strip() for m in SEQ_SCAN.finditer(plan)}),
        "source": source,
        "parameter_types": types.group(1).strip() if types else None,
    }


def capture(url, queries, out_dir):
    """Explains each (name, source, Statement) both ways into out_dir/NAME.MODE.txt;
    returns {"plans": [summary...], "errors": [message...]}."""
    os.makedirs(out_dir, exist_ok=True)
    plans, errors = [], []
    for name, source, statement in queries:
        for mode, setting in PLAN_MODES.items():
            path = os.path.join(out_dir, f"{name}.{mode}.txt")
            try:
                output = explain(url, statement, setting)
            except RuntimeError as e:
                errors.append(str(e))
                continue
            with open(path, "w", encoding="utf-8") as f:
                f.write(plan_file(source, statement, mode, output))
            plans.append(summarise(name, mode, output, path, source))
    return {"plans": plans, "errors": errors}
