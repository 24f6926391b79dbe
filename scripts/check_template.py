#!/usr/bin/env python3
"""Check that template.yaml routes exactly the paths the local server serves.

Reads the routes the local server serves from stdin, one per line:

    <function> <path>        e.g.  token /api/token/
                                   events /api/events/{id}/

where <function> is token, events, alerts, keys, silences, users or audit
(TokenFunction, EventsFunction, AlertsFunction, KeysFunction, SilencesFunction,
UsersFunction in the template). Blank lines and lines starting with # are
ignored.

From the template it takes every HttpApi event of every
AWS::Serverless::Function. An HTTP API route is declared without a trailing
slash (API Gateway rejects or drops a route path ending in "/") and also
serves the same path with one: API Gateway routes "/api/token/" to the route
"/api/token" and passes the path as requested, so the route "/api/token"
serves both "/api/token" and "/api/token/".

Exits 1, printing the differences both ways, if a path is served by one and
not the other, if a route's method is not ANY (the functions answer 405 with
an Allow header themselves), or if a route path ends in "/". Exits 2 on a
usage or input error, 0 when everything matches.

Usage: scripts/check_template.py [--template PATH] < routes.txt
Needs cfn-lint (pip install cfn-lint) for its CloudFormation YAML loader.
"""

import argparse
import os
import sys

FUNCTIONS = {
    "token": "TokenFunction",
    "events": "EventsFunction",
    "alerts": "AlertsFunction",
    "keys": "KeysFunction",
    "silences": "SilencesFunction",
    "users": "UsersFunction",
    "audit": "AuditFunction",
}
LOGICAL_TO_NAME = {logical: name for name, logical in FUNCTIONS.items()}

DEFAULT_TEMPLATE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "template.yaml")


def load_template(path):
    try:
        from cfnlint.decode.cfn_yaml import loads
    except ImportError:
        sys.exit("check_template: needs cfn-lint's YAML loader: pip install cfn-lint")
    with open(path, encoding="utf-8") as f:
        return loads(f.read(), path)


def function_name(logical_id):
    """TokenFunction -> token; anything unknown keeps its logical id."""
    return LOGICAL_TO_NAME.get(logical_id, logical_id)


def template_routes(template):
    """Returns ({(function, path)} served, [problems])."""
    served = set()
    problems = []
    resources = template.get("Resources") or {}
    for logical_id, resource in resources.items():
        if not isinstance(resource, dict) or resource.get("Type") != "AWS::Serverless::Function":
            continue
        events = (resource.get("Properties") or {}).get("Events") or {}
        for event_id, event in events.items():
            if not isinstance(event, dict) or event.get("Type") != "HttpApi":
                continue
            where = f"{logical_id}.Events.{event_id}"
            props = event.get("Properties") or {}
            path = props.get("Path")
            method = props.get("Method")
            if not isinstance(path, str) or not path.startswith("/"):
                problems.append(f"{where}: Path must be a literal path starting with /, got {path!r}")
                continue
            if not isinstance(method, str) or method.upper() != "ANY":
                problems.append(
                    f"{where}: Method is {method!r}, not ANY "
                    "(the function answers 405 with an Allow header itself)"
                )
            if "ApiId" not in props:
                problems.append(f"{where}: no ApiId (the route would go to a second, implicit API)")
            if path != "/" and path.endswith("/"):
                problems.append(
                    f"{where}: Path {path} ends in '/': API Gateway rejects or drops such a route; "
                    f"declare {path.rstrip('/')} (it serves both spellings)"
                )
                continue
            name = function_name(logical_id)
            served.add((name, path))
            if path != "/":
                served.add((name, path + "/"))
    return served, problems


def local_routes(lines):
    """Returns ({(function, path)}, [problems]) from `<function> <path>` lines."""
    routes = set()
    problems = []
    for number, raw in enumerate(lines, 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        parts = line.split()
        if len(parts) != 2:
            problems.append(f"stdin line {number}: expected '<function> <path>', got {line!r}")
            continue
        name, path = parts
        if name not in FUNCTIONS:
            problems.append(f"stdin line {number}: unknown function {name!r} (one of {', '.join(FUNCTIONS)})")
            continue
        if not path.startswith("/"):
            problems.append(f"stdin line {number}: path {path!r} does not start with /")
            continue
        routes.add((name, path))
    return routes, problems


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--template", default=DEFAULT_TEMPLATE, help="SAM template (default: template.yaml)")
    args = parser.parse_args()

    if sys.stdin.isatty():
        parser.error("pipe the local server's routes in, one '<function> <path>' per line")
    expected, input_problems = local_routes(sys.stdin)
    if input_problems:
        for p in input_problems:
            print(p, file=sys.stderr)
        return 2
    if not expected:
        print("no routes on stdin", file=sys.stderr)
        return 2

    try:
        template = load_template(args.template)
    except Exception as e:  # a parse error from the loader, or a missing file
        print(f"{args.template}: {e}", file=sys.stderr)
        return 2
    served, problems = template_routes(template)

    only_template = sorted(served - expected)
    only_local = sorted(expected - served)
    for p in problems:
        print(f"template: {p}")
    if only_template:
        print("Routed by the template but not served by the local server:")
        for name, path in only_template:
            print(f"  {name} {path}")
    if only_local:
        print("Served by the local server but not routed by the template:")
        for name, path in only_local:
            print(f"  {name} {path}")
    if problems or only_template or only_local:
        return 1
    print(f"template.yaml routes all {len(expected)} local paths, each with method ANY")
    return 0


if __name__ == "__main__":
    sys.exit(main())
