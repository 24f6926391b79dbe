"""Describes the machine and tools a run used, as one JSON-ready dict."""

import os
import platform
import subprocess
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


def describe(tmctl, database_url):
    """The machine, the tool versions, and the PostgreSQL server's version."""
    return {
        "date": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "cpu_model": proc_field("/proc/cpuinfo", "model name"),
        "nproc": os.cpu_count(),
        "memory_mib": memory_mib(),
        "kernel": platform.release(),
        "postgresql": first_line(["psql", "-XAtc", "SHOW server_version", database_url]),
        "rustc": first_line(["rustc", "--version"]),
        "wrk": first_line(["wrk", "-v"]),
        "pgbench": first_line(["pgbench", "--version"]),
        "python": platform.python_version(),
        "git_commit": git_revision(),
        "tmctl": tmctl,
    }
