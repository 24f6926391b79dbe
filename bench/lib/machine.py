#!/usr/bin/env python3
"""Describes the machine and tools a run used, as one JSON object.

    machine.py [--tmctl PATH]

The PostgreSQL version comes from the server at BENCH_DATABASE_URL.
"""

import argparse
import json
import os
import platform
import subprocess
import sys
from datetime import datetime, timezone


def first_line(command):
    """First line a command prints (stdout, else stderr), or None."""
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=20, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return None
    text = (done.stdout.strip() or done.stderr.strip()).splitlines()
    return text[0].strip() if text else None


def proc_field(path, key):
    try:
        with open(path, encoding="ascii", errors="replace") as f:
            for line in f:
                name, _, value = line.partition(":")
                if name.strip() == key:
                    return value.strip()
    except OSError:
        pass
    return None


def memory_mib():
    total = proc_field("/proc/meminfo", "MemTotal")  # "24683520 kB"
    return int(total.split()[0]) // 1024 if total else None


def git_revision():
    commit = first_line(["git", "rev-parse", "--short=12", "HEAD"])
    if commit and first_line(["git", "status", "--porcelain", "--untracked-files=no"]):
        commit += " (with uncommitted changes)"
    return commit


def main(argv):
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--tmctl")
    args = parser.parse_args(argv)
    url = os.environ.get("BENCH_DATABASE_URL")
    info = {
        "date": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "cpu_model": proc_field("/proc/cpuinfo", "model name"),
        "nproc": os.cpu_count(),
        "memory_mib": memory_mib(),
        "kernel": platform.release(),
        "postgresql": first_line(["psql", "-XAtc", "SHOW server_version", url]) if url else None,
        "rustc": first_line(["rustc", "--version"]),
        "wrk": first_line(["wrk", "-v"]),
        "python": platform.python_version(),
        "git_commit": git_revision(),
        "tmctl": args.tmctl,
    }
    json.dump(info, sys.stdout)
    print()


if __name__ == "__main__":
    main(sys.argv[1:])
