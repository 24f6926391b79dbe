"""Small HTTP chores for bench/run, all against 127.0.0.1: a free port,
waiting for the server, signing in, reading a list's count. Credentials are
passed in, never put on a command line."""

import json
import socket
import time
import urllib.error
import urllib.request


class NetError(Exception):
    pass


def free_port():
    # The port is released before the server binds it; on a quiet loopback
    # nothing else takes it in between.
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def answers(url):
    """Whether anything HTTP answers at url (an error status counts)."""
    try:
        with urllib.request.urlopen(url, timeout=2):
            return True
    except urllib.error.HTTPError:
        return True
    except (urllib.error.URLError, OSError):
        return False


def wait(url, alive, timeout):
    """Until url answers; NetError if `alive()` turns false or time runs out."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not alive():
            raise NetError(f"the process exited before {url} answered")
        if answers(url):
            return
        time.sleep(0.1)
    raise NetError(f"{url} did not answer within {timeout} s")


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
        raise NetError(f"{url} answered {e.code}: {e.read()[:300]!r}") from None
    except (urllib.error.URLError, OSError, ValueError) as e:
        raise NetError(f"{url}: {e}") from None


def login(url, username, password):
    """(access, refresh) tokens for the credentials."""
    pair = request_json(url, body={"username": username, "password": password})
    try:
        return pair["access"], pair["refresh"]
    except (KeyError, TypeError):
        raise NetError(f"{url}: no token pair in the answer") from None


def field(url, name, token=None):
    """The top-level JSON field `name` of GET url."""
    found = request_json(url, token=token)
    try:
        return found[name]
    except (KeyError, TypeError):
        raise NetError(f"{url}: no {name!r} in the answer") from None
