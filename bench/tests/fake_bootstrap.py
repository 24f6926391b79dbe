"""A stand-in for a Lambda bootstrap, to test the emulator without a Rust
build: it runs the Runtime API loop as a custom runtime does, behaving as
FAKE_MODE says: ok (answers 200 describing what it saw), chunked (the same,
body sent chunked), status500, invocation_error, init_error, crash, hang."""

import http.client
import json
import os
import sys
import time

RUNTIME = "/2018-06-01/runtime"


def post(conn, path, payload, chunked=False):
    body = json.dumps(payload).encode()
    if chunked:
        conn.request("POST", path, body=iter([body[:10], body[10:]]), encode_chunked=True,
                     headers={"Content-Type": "application/json", "Transfer-Encoding": "chunked"})
    else:
        conn.request("POST", path, body=body, headers={"Content-Type": "application/json"})
    conn.getresponse().read()


def describe(event, headers):
    """What the fake saw, returned as its response body for the test to check."""
    return {
        "env": sorted(k for k in os.environ if k.startswith("AWS_") or k in ("DATABASE_URL", "JWT_SECRET")),
        "invocation_headers": sorted(h for h in headers if h.lower().startswith("lambda-runtime-")),
        "method": event["requestContext"]["http"]["method"],
        "path": event["rawPath"],
        "authorization": event["headers"].get("authorization"),
        "body": event.get("body"),
    }


def main():
    mode = os.environ.get("FAKE_MODE", "ok")
    host, port = os.environ["AWS_LAMBDA_RUNTIME_API"].split(":")
    conn = http.client.HTTPConnection(host, int(port))
    if mode == "crash":
        sys.exit(3)
    if mode == "init_error":
        post(conn, f"{RUNTIME}/init/error", {"errorMessage": "no config", "errorType": "Init"})
        sys.exit(1)
    while True:
        conn.request("GET", f"{RUNTIME}/invocation/next")
        response = conn.getresponse()
        event = json.loads(response.read())
        request_id = response.getheader("Lambda-Runtime-Aws-Request-Id")
        headers = dict(response.getheaders())
        if mode == "hang":
            time.sleep(60)
        elif mode == "invocation_error":
            post(conn, f"{RUNTIME}/invocation/{request_id}/error", {"errorMessage": "boom"})
        elif mode == "status500":
            post(conn, f"{RUNTIME}/invocation/{request_id}/response", {"statusCode": 500, "body": "{}"})
        else:
            body = json.dumps(describe(event, headers))
            post(conn, f"{RUNTIME}/invocation/{request_id}/response",
                 {"statusCode": 200, "headers": {}, "body": body, "isBase64Encoded": False},
                 chunked=(mode == "chunked"))


if __name__ == "__main__":
    main()
