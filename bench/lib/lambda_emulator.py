"""A minimal AWS Lambda Runtime API on 127.0.0.1, for timing cold starts.

An emulator serves exactly one invocation: the first
`GET /2018-06-01/runtime/invocation/next` gets it, later ones wait until the
emulator stops (as the real API holds them until there is work). It records
when the function posts the invocation's response, or an invocation or init
error. One emulator per process start: a killed function's pending `next`
request then cannot take the following start's invocation.

Only what the Rust runtime (lambda_runtime / lambda_http) uses is here.
"""

import json
import re
import secrets
import sys
import threading
import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

API_PREFIX = "/2018-06-01/runtime"
ACCOUNT_ID = "123456789012"
REGION = "us-east-1"
# An execute-api host; the API's Lambda adapter treats such a host as the
# default endpoint. With the `$default` stage no prefix is stripped.
API_HOST = f"bench0api1.execute-api.{REGION}.amazonaws.com"


@dataclass
class Outcome:
    """What the function posted back, and when (time.perf_counter())."""

    kind: str  # "response", "invocation_error" or "init_error"
    received_at: float
    body: bytes

    def json(self):
        try:
            return json.loads(self.body)
        except ValueError:
            return None


def http_api_event(method, path, headers=None, body=None, query=""):
    """An API Gateway HTTP API (payload format 2.0) event for one request."""
    now = datetime.now(timezone.utc)
    all_headers = {
        "accept": "application/json",
        "host": API_HOST,
        "user-agent": "tm-bench",
        "x-forwarded-for": "203.0.113.10",
        "x-forwarded-port": "443",
        "x-forwarded-proto": "https",
    }
    if body is not None:
        all_headers["content-type"] = "application/json"
        all_headers["content-length"] = str(len(body.encode()))
    all_headers.update({k.lower(): v for k, v in (headers or {}).items()})
    return {
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": path,
        "rawQueryString": query,
        "headers": all_headers,
        "requestContext": {
            "accountId": ACCOUNT_ID,
            "apiId": API_HOST.split(".", 1)[0],
            "domainName": API_HOST,
            "domainPrefix": API_HOST.split(".", 1)[0],
            "http": {
                "method": method,
                "path": path,
                "protocol": "HTTP/1.1",
                "sourceIp": "203.0.113.10",
                "userAgent": "tm-bench",
            },
            "requestId": secrets.token_hex(8),
            "routeKey": "$default",
            "stage": "$default",
            "time": now.strftime("%d/%b/%Y:%H:%M:%S +0000"),
            "timeEpoch": int(now.timestamp() * 1000),
        },
        "body": body,
        "isBase64Encoded": False,
    }


def trace_id():
    """An X-Ray trace header in the shape Lambda sends."""
    return (
        f"Root=1-{int(time.time()):08x}-{secrets.token_hex(12)};"
        f"Parent={secrets.token_hex(8)};Sampled=0"
    )


class RuntimeApiEmulator:
    """Serves one invocation of `event` to `function_name` on 127.0.0.1."""

    def __init__(self, event, function_name, timeout_ms=30_000):
        self.event = event
        self.function_name = function_name
        self.timeout_ms = timeout_ms
        self.request_id = str(uuid.uuid4())
        self._delivered = threading.Lock()
        self._stopping = threading.Event()
        self._outcome_ready = threading.Event()
        self.outcome = None
        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._server.emulator = self
        # A short poll interval: stop() waits for it, once per measured start.
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )

    @property
    def address(self):
        """Host and port, as AWS_LAMBDA_RUNTIME_API takes them."""
        host, port = self._server.server_address[:2]
        return f"{host}:{port}"

    def start(self):
        self._thread.start()
        return self

    def stop(self):
        self._stopping.set()  # releases handlers waiting in `next`
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    def wait_outcome(self, timeout, keep_waiting=lambda: True):
        """The function's outcome, or None if none came within `timeout`
        seconds or `keep_waiting()` turned false (the process exited)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._outcome_ready.wait(0.005):
                return self.outcome
            if not keep_waiting():
                # It may have posted just before exiting.
                return self.outcome if self._outcome_ready.wait(0.05) else None
        return None

    # Called by the handler threads.

    def next_invocation(self):
        """(headers, body) of the invocation, or None once it was handed out
        and the emulator is stopping."""
        if not self._delivered.acquire(blocking=False):
            self._stopping.wait()
            return None
        headers = {
            "Lambda-Runtime-Aws-Request-Id": self.request_id,
            "Lambda-Runtime-Deadline-Ms": str(int(time.time() * 1000) + self.timeout_ms),
            "Lambda-Runtime-Invoked-Function-Arn": (
                f"arn:aws:lambda:{REGION}:{ACCOUNT_ID}:function:{self.function_name}"
            ),
            "Lambda-Runtime-Trace-Id": trace_id(),
            "Content-Type": "application/json",
        }
        return headers, json.dumps(self.event).encode()

    def record(self, kind, body, received_at):
        # The first outcome counts; a second one would be a runtime bug.
        if self.outcome is None:
            self.outcome = Outcome(kind, received_at, body)
            self._outcome_ready.set()


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):
        # Functions are killed mid-connection on purpose; that is no error.
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


_INVOCATION_POST = re.compile(
    re.escape(API_PREFIX) + r"/invocation/(?P<id>[^/]+)/(?P<what>response|error)$"
)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as the runtime client expects
    # Headers and body go out in one write, and without Nagle's delay, so the
    # emulator adds no tens-of-milliseconds stalls to what it measures.
    disable_nagle_algorithm = True

    def log_message(self, *args):
        pass

    def do_GET(self):
        if self.path != API_PREFIX + "/invocation/next":
            return self._reply(404, {"errorMessage": "not found"})
        invocation = self.server.emulator.next_invocation()
        if invocation is None:
            self.close_connection = True
            return None
        headers, body = invocation
        return self._send(200, headers, body)

    def do_POST(self):
        body = self._read_body()
        received_at = time.perf_counter()
        emulator = self.server.emulator
        if self.path == API_PREFIX + "/init/error":
            emulator.record("init_error", body, received_at)
            return self._reply(202, {"status": "OK"})
        match = _INVOCATION_POST.match(self.path)
        if not match:
            return self._reply(404, {"errorMessage": "not found"})
        if match["id"] != emulator.request_id:
            return self._reply(400, {"errorMessage": "unknown request id"})
        kind = "response" if match["what"] == "response" else "invocation_error"
        emulator.record(kind, body, received_at)
        return self._reply(202, {"status": "OK"})

    def _read_body(self):
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            return self._read_chunked()
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length)

    def _read_chunked(self):
        chunks = []
        while True:
            size = int(self.rfile.readline().split(b";", 1)[0].strip(), 16)
            if size == 0:
                # Trailers, if any, end with an empty line.
                while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                    pass
                return b"".join(chunks)
            chunks.append(self.rfile.read(size))
            self.rfile.readline()  # the CRLF after each chunk

    def _reply(self, status, payload):
        self._send(status, {"Content-Type": "application/json"}, json.dumps(payload).encode())

    def _send(self, status, headers, body):
        lines = [f"HTTP/1.1 {status} {self.responses.get(status, ('',))[0]}"]
        lines += [f"{name}: {value}" for name, value in headers.items()]
        lines.append(f"Content-Length: {len(body)}")
        head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
        try:
            self.wfile.write(head + body)
            self.wfile.flush()
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True
