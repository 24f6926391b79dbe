#!/usr/bin/env python3
"""Small HTTP chores for bench/run, all against 127.0.0.1.

    net.py free-port                   a TCP port free on 127.0.0.1 just now
    net.py wait URL --pid P [--timeout S]
                                       until URL answers with any HTTP status;
                                       fails early if process P exits
    net.py login URL                   POST BENCH_USERNAME/BENCH_PASSWORD to URL,
                                       prints "ACCESS REFRESH"
    net.py field URL NAME              GET URL with BENCH_TOKEN, print the
                                       top-level JSON field NAME

Credentials come from the environment so they stay off command lines.
"""

import argparse
import json
import os
import socket
import sys
import time
import urllib.error
import urllib.request


def free_port():
    # The port is released before the server binds it; on a quiet loopback
    # nothing else takes it in between.
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def process_alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie has exited; only its parent's wait() would remove it.
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return True


def answers(url):
    """Whether anything HTTP answers at url (an error status counts)."""
    try:
        with urllib.request.urlopen(url, timeout=2):
            return True
    except urllib.error.HTTPError:
        return True
    except (urllib.error.URLError, OSError):
        return False


def wait(url, pid, timeout):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pid and not process_alive(pid):
            sys.exit(f"net.py: process {pid} exited before {url} answered")
        if answers(url):
            return
        time.sleep(0.1)
    sys.exit(f"net.py: {url} did not answer within {timeout} s")


def request_json(url, body=None, token=None):
    headers = {"Accept": "application/json"}
    data = None
    if body is not None:
        headers["Content-Type"] = "application/json"
        data = json.dumps(body).encode()
    if token:
        headers["Authorization"] = f"Bearer {token}"
    request = urllib.request.Request(url, data=data, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return json.load(response)
    except urllib.error.HTTPError as e:
        sys.exit(f"net.py: {url} answered {e.code}: {e.read()[:300]!r}")


def login(url):
    pair = request_json(
        url,
        body={
            "username": os.environ["BENCH_USERNAME"],
            "password": os.environ["BENCH_PASSWORD"],
        },
    )
    print(pair["access"], pair["refresh"])


def field(url, name):
    print(json.dumps(request_json(url, token=os.environ.get("BENCH_TOKEN"))[name]))


def main(argv):
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("free-port")
    p = sub.add_parser("wait")
    p.add_argument("url")
    p.add_argument("--pid", type=int, default=0)
    p.add_argument("--timeout", type=float, default=30)
    p = sub.add_parser("login")
    p.add_argument("url")
    p = sub.add_parser("field")
    p.add_argument("url")
    p.add_argument("name")
    args = parser.parse_args(argv)

    if args.command == "free-port":
        print(free_port())
    elif args.command == "wait":
        wait(args.url, args.pid, args.timeout)
    elif args.command == "login":
        login(args.url)
    elif args.command == "field":
        field(args.url, args.name)


if __name__ == "__main__":
    main(sys.argv[1:])
