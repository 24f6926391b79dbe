"""Times cold starts of the Lambda bootstraps, against lambda_emulator.

For each function, `starts` times: start an emulator holding one API Gateway
HTTP API (v2) request, exec the bootstrap with the environment Lambda gives
it, and time from just before the exec until the function posts its
response; check the response's statusCode is 200; read the process's peak RSS
(VmHWM); kill it. A start therefore includes what a real cold start does:
process start, configuration, and the first request with its first database
connection.

`run()` measures each function whose bootstrap exists: `app_env` (DATABASE_URL,
JWT_SECRET) is passed to the functions, `inputs` are the requests' inputs:
BENCH_REFRESH_TOKENS (token: a list, one for each start, since a refresh
token is spent by its use), BENCH_SIGNIN_USERNAME and BENCH_SIGNIN_PASSWORD
(token-signin), BENCH_ADMIN_TOKEN and BENCH_EVENT_ID (events),
BENCH_ANALYST_TOKEN and BENCH_ALERT_ID (alerts). It returns
{"functions": {NAME: {...}}, "missing": [...]}.
"""

import io
import json
import os
import secrets
import statistics
import subprocess
import sys
import time
import zipfile

from lambda_emulator import RuntimeApiEmulator, http_api_event

START_TIMEOUT_S = 20


def function_event(name, env, start=0):
    """The request each function answers on its `start`-th cold start."""
    if name == "token":
        tokens = env["BENCH_REFRESH_TOKENS"]
        body = json.dumps({"refresh": tokens[start % len(tokens)]})
        return http_api_event("POST", "/api/token/refresh/", body=body)
    if name == "token-signin":
        # A sign-in: the same bootstrap, with argon2's working memory in its peak.
        body = json.dumps({"username": env["BENCH_SIGNIN_USERNAME"],
                           "password": env["BENCH_SIGNIN_PASSWORD"]})
        return http_api_event("POST", "/api/token/", body=body)
    if name == "events":
        return http_api_event(
            "GET",
            f"/api/events/{env['BENCH_EVENT_ID']}/",
            headers={"authorization": f"Bearer {env['BENCH_ADMIN_TOKEN']}"},
        )
    if name == "alerts":
        return http_api_event(
            "GET",
            f"/api/alerts/{env['BENCH_ALERT_ID']}/",
            headers={"authorization": f"Bearer {env['BENCH_ANALYST_TOKEN']}"},
        )
    if name == "keys":
        return http_api_event("GET", "/api/keys/",
                              headers={"authorization": f"Bearer {env['BENCH_ADMIN_TOKEN']}"})
    if name == "silences":
        return http_api_event("GET", "/api/silences/",
                              headers={"authorization": f"Bearer {env['BENCH_ANALYST_TOKEN']}"})
    raise ValueError(f"no cold-start request defined for {name!r}")


def function_environment(name, runtime_api, app_env):
    """What Lambda sets for a function (the parts the runtime reads), plus
    the application's own variables. Nothing else leaks in from the caller."""
    env = {
        "AWS_LAMBDA_RUNTIME_API": runtime_api,
        "AWS_LAMBDA_FUNCTION_NAME": f"tm-bench-{name}",
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "128",
        "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/tm-bench-{name}",
        "AWS_LAMBDA_LOG_STREAM_NAME": (
            time.strftime("%Y/%m/%d") + f"/[$LATEST]{secrets.token_hex(16)}"
        ),
        "AWS_REGION": "us-east-1",
        "AWS_EC2_METADATA_DISABLED": "true",
        "PATH": "/usr/local/bin:/usr/bin:/bin",
        "TZ": ":UTC",
    }
    env.update(app_env)
    return env


def peak_rss_kb(pid):
    """A process's peak resident set (VmHWM) in KiB, or None."""
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except (OSError, ValueError):
        pass
    return None


def describe_outcome(outcome, process):
    """(status code or None, error message or None) of one start."""
    if outcome is None:
        code = process.poll()
        if code is not None:
            return None, f"exited with status {code} before responding"
        return None, f"no response within {START_TIMEOUT_S} s"
    if outcome.kind != "response":
        return None, f"{outcome.kind}: {outcome.body[:300].decode(errors='replace')}"
    payload = outcome.json()
    status = payload.get("statusCode") if isinstance(payload, dict) else None
    if status != 200:
        return status, f"statusCode {status}: {outcome.body[:300].decode(errors='replace')}"
    return status, None


def start_once(name, bootstrap, event, app_env, log):
    """One cold start: a dict with ms, peak_rss_kb, status_code and error."""
    with RuntimeApiEmulator(event, f"tm-bench-{name}") as emulator:
        env = function_environment(name, emulator.address, app_env)
        started = time.perf_counter()
        process = subprocess.Popen(
            [bootstrap], env=env, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT
        )
        try:
            outcome = emulator.wait_outcome(START_TIMEOUT_S, lambda: process.poll() is None)
            rss = peak_rss_kb(process.pid)
        finally:
            process.kill()
            process.wait()
    status, error = describe_outcome(outcome, process)
    return {
        "ms": round((outcome.received_at - started) * 1000, 3) if outcome else None,
        "peak_rss_kb": rss,
        "status_code": status,
        "error": error,
    }


def zipped_size(bootstrap, name):
    """Size of the deployment zip: the one scripts/lambda-build wrote beside
    the bootstrap if it is current, else one made here the same way."""
    built = os.path.join(os.path.dirname(bootstrap), f"{name}.zip")
    if os.path.isfile(built) and os.path.getmtime(built) >= os.path.getmtime(bootstrap):
        return os.path.getsize(built), "scripts/lambda-build"
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as z:
        z.write(bootstrap, "bootstrap")
    return len(buffer.getvalue()), "zipped by bench"


def summarise(starts):
    good = [s for s in starts if s["error"] is None]
    times = [s["ms"] for s in good]
    rss = [s["peak_rss_kb"] for s in starts if s["peak_rss_kb"] is not None]
    return {
        "starts": len(starts),
        "ok": len(good),
        "errors": [s["error"] for s in starts if s["error"]][:5],
        "median_ms": round(statistics.median(times), 3) if times else None,
        "min_ms": min(times) if times else None,
        "max_ms": max(times) if times else None,
        "peak_rss_kb_max": max(rss) if rss else None,
        "samples_ms": times,
    }


def measure_function(name, bootstrap, starts, app_env, log_dir, inputs):
    with open(os.path.join(log_dir, f"{name}.log"), "wb") as log:
        runs = [start_once(name, bootstrap, function_event(name, inputs, i), app_env, log)
                for i in range(starts)]
    result = summarise(runs)
    result["bootstrap"] = bootstrap
    result["bootstrap_bytes"] = os.path.getsize(bootstrap)
    result["zip_bytes"], result["zip_source"] = zipped_size(bootstrap, name.split("-", 1)[0])
    return result


FUNCTIONS = ("token", "token-signin", "events", "alerts", "keys", "silences")


def run(template, starts, log_dir, app_env, inputs, functions=FUNCTIONS):
    """Cold starts of each function; NAME-VARIANT runs NAME's bootstrap with
    another request. `template` is the bootstrap path with {fn} for NAME."""
    os.makedirs(log_dir, exist_ok=True)
    result = {"functions": {}, "missing": []}
    for name in functions:
        bootstrap = template.format(fn=name.split("-", 1)[0])
        if not os.access(bootstrap, os.X_OK):
            result["missing"].append(bootstrap)
            continue
        print(f"coldstart: {name}: {starts} starts of {bootstrap}", file=sys.stderr)
        result["functions"][name] = measure_function(name, bootstrap, starts, app_env, log_dir, inputs)
    return result
