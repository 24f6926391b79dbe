#!/usr/bin/env python3
"""Appends one fact to a run's results file (JSON lines), for report.py.

    record.py FILE kind=NAME key=text key:=JSON key:=@PATH ...

`key=value` stores a string; `key:=value` stores JSON (numbers, null, objects);
`key:=@path` stores the JSON read from a file. bench/run records every figure
as it gets it, so a run that stops half-way still leaves what it measured.
"""

import json
import sys


def parse_field(arg):
    """One `key=text`, `key:=json` or `key:=@file` argument as (key, value)."""
    key, _, raw = arg.partition("=")
    if not key.endswith(":"):
        return key, raw
    key = key[:-1]
    if raw.startswith("@"):
        with open(raw[1:], encoding="utf-8") as f:
            return key, json.load(f)
    # An empty value (a figure the shell could not get) is recorded as null.
    return key, json.loads(raw) if raw else None


def main(argv):
    if len(argv) < 2:
        sys.exit(__doc__)
    path, fields = argv[0], dict(parse_field(a) for a in argv[1:])
    if "kind" not in fields:
        sys.exit("record.py: every fact needs kind=NAME")
    with open(path, "a", encoding="utf-8") as f:
        f.write(json.dumps(fields) + "\n")


if __name__ == "__main__":
    main(sys.argv[1:])
