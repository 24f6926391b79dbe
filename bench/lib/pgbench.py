"""pgbench running the server's own statements: what the database alone can
take, to set the API's throughput against.

    pgbench -n -M prepared -c CLIENTS -j THREADS -T SECONDS -f SCRIPT -D p1=... URL

`-M prepared`, as sqlx prepares its statements too; `-n`, no vacuum first
(the bench database has none of pgbench's own tables); `jit=off`
(PGOPTIONS), as the server's connections have it. One transaction is
one run of the script: every statement the server runs for one request.
"""

import os
import re
import subprocess

import statements

TPS = re.compile(r"^tps = ([0-9.]+)", re.MULTILINE)
LATENCY = re.compile(r"^latency average = ([0-9.]+) ms", re.MULTILINE)
FAILED = re.compile(r"^number of failed transactions: ([0-9]+)", re.MULTILINE)
PROCESSED = re.compile(r"^number of transactions actually processed: ([0-9]+)", re.MULTILINE)


def parse_output(text):
    """tps, average latency, failed and processed transactions from pgbench's
    summary; None for a figure it did not print."""
    def first(pattern, kind):
        found = pattern.search(text)
        return kind(found.group(1)) if found else None

    return {
        "tps": first(TPS, float),
        "latency_ms": first(LATENCY, float),
        "failed": first(FAILED, int),
        "transactions": first(PROCESSED, int),
    }


def command(url, script_path, defines, clients, threads, duration):
    """`script_path` may be a list: pgbench then picks one of the scripts,
    with equal weights, for each transaction."""
    paths = [script_path] if isinstance(script_path, str) else list(script_path)
    scripts = ["-f", paths[0]] if len(paths) == 1 else [a for p in paths for a in ("-f", f"{p}@1")]
    return (["pgbench", "-n", "-M", "prepared", "-c", str(clients), "-j", str(threads),
             "-T", str(duration)] + scripts
            + statements.pgbench_define_args(defines) + [url])


def run(url, script_path, defines, clients, threads, duration, out_path):
    """Runs pgbench with its output in out_path; (exited 0, parsed summary)."""
    with open(out_path, "w", encoding="utf-8") as out:
        done = subprocess.run(command(url, script_path, defines, clients, threads, duration),
                              stdout=out, stderr=subprocess.STDOUT, check=False,
                              env=dict(os.environ, PGOPTIONS="-c jit=off"))
    with open(out_path, encoding="utf-8", errors="replace") as f:
        return done.returncode == 0, parse_output(f.read())
