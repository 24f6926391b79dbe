"""The Runtime API emulator and the cold-start driver, against a fake bootstrap.

    python3 -m unittest discover -s bench/tests
"""

import contextlib
import io
import json
import os
import subprocess
import tempfile
import unittest

import helpers  # noqa: F401  (import path)
import coldstart
from lambda_emulator import RuntimeApiEmulator, http_api_event


def run_fake(mode, event, app_env=None):
    """Runs the fake against a fresh emulator; returns (outcome, process)."""
    with tempfile.TemporaryDirectory() as tmp:
        bootstrap = helpers.fake_bootstrap(tmp)
        with RuntimeApiEmulator(event, "tm-bench-test") as emulator:
            env = coldstart.function_environment("test", emulator.address, dict(app_env or {}, FAKE_MODE=mode))
            process = subprocess.Popen([bootstrap], env=env)
            try:
                outcome = emulator.wait_outcome(10, lambda: process.poll() is None)
            finally:
                process.kill()
                process.wait()
    return outcome, process


class EmulatorTest(unittest.TestCase):
    def test_serves_the_event_with_the_runtime_headers_and_records_the_response(self):
        event = http_api_event("GET", "/api/alerts/7/", headers={"Authorization": "Bearer t0k"})
        outcome, _ = run_fake("ok", event, {"DATABASE_URL": "postgres://x", "JWT_SECRET": "s"})
        self.assertEqual(outcome.kind, "response")
        self.assertEqual(outcome.json()["statusCode"], 200)
        seen = json.loads(outcome.json()["body"])
        self.assertEqual(seen["path"], "/api/alerts/7/")
        self.assertEqual(seen["method"], "GET")
        self.assertEqual(seen["authorization"], "Bearer t0k")
        self.assertEqual(
            seen["invocation_headers"],
            ["Lambda-Runtime-Aws-Request-Id", "Lambda-Runtime-Deadline-Ms",
             "Lambda-Runtime-Invoked-Function-Arn", "Lambda-Runtime-Trace-Id"],
        )
        for name in ("AWS_LAMBDA_RUNTIME_API", "AWS_LAMBDA_FUNCTION_NAME", "AWS_LAMBDA_FUNCTION_VERSION",
                     "AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "AWS_LAMBDA_LOG_GROUP_NAME",
                     "AWS_LAMBDA_LOG_STREAM_NAME", "AWS_REGION", "AWS_EC2_METADATA_DISABLED",
                     "DATABASE_URL", "JWT_SECRET"):
            self.assertIn(name, seen["env"])

    def test_a_post_body_reaches_the_function(self):
        event = http_api_event("POST", "/api/token/refresh/", body='{"refresh": "r"}')
        outcome, _ = run_fake("ok", event)
        seen = json.loads(outcome.json()["body"])
        self.assertEqual((seen["method"], seen["body"]), ("POST", '{"refresh": "r"}'))

    def test_a_chunked_response_is_read_whole(self):
        outcome, _ = run_fake("chunked", http_api_event("GET", "/api/events/1/"))
        self.assertEqual(outcome.json()["statusCode"], 200)

    def test_errors_are_recorded_as_such(self):
        outcome, _ = run_fake("invocation_error", http_api_event("GET", "/x"))
        self.assertEqual(outcome.kind, "invocation_error")
        outcome, _ = run_fake("init_error", http_api_event("GET", "/x"))
        self.assertEqual(outcome.kind, "init_error")

    def test_a_process_that_dies_ends_the_wait_without_an_outcome(self):
        outcome, process = run_fake("crash", http_api_event("GET", "/x"))
        self.assertIsNone(outcome)
        self.assertEqual(process.returncode, 3)


class ColdStartTest(unittest.TestCase):
    def measure(self, mode, starts=2):
        with tempfile.TemporaryDirectory() as tmp:
            bootstrap = helpers.fake_bootstrap(tmp)
            inputs = {"BENCH_ALERT_ID": "5", "BENCH_ANALYST_TOKEN": "t"}
            return coldstart.measure_function("alerts", bootstrap, starts, {"FAKE_MODE": mode}, tmp, inputs)

    def test_successful_starts_are_timed_and_sized(self):
        result = self.measure("ok", starts=3)
        self.assertEqual((result["starts"], result["ok"], result["errors"]), (3, 3, []))
        self.assertTrue(0 < result["min_ms"] <= result["median_ms"] <= result["max_ms"] < 10_000)
        self.assertGreater(result["peak_rss_kb_max"], 0)
        self.assertGreater(result["bootstrap_bytes"], 0)
        self.assertEqual(result["zip_source"], "zipped by bench")

    def test_a_non_200_status_is_a_failed_start(self):
        result = self.measure("status500")
        self.assertEqual(result["ok"], 0)
        self.assertIn("statusCode 500", result["errors"][0])
        self.assertIsNone(result["median_ms"])

    def test_a_crash_is_a_failed_start(self):
        result = self.measure("crash", starts=1)
        self.assertIn("exited with status 3", result["errors"][0])

    def test_run_measures_the_functions_there_are_and_lists_the_missing(self):
        with tempfile.TemporaryDirectory() as tmp:
            os.makedirs(os.path.join(tmp, "alerts"))
            helpers.fake_bootstrap(os.path.join(tmp, "alerts"))
            inputs = {"BENCH_ALERT_ID": "5", "BENCH_ANALYST_TOKEN": "t"}
            with contextlib.redirect_stderr(io.StringIO()):
                result = coldstart.run(os.path.join(tmp, "{fn}", "bootstrap"), 1, os.path.join(tmp, "logs"),
                                       {"FAKE_MODE": "ok"}, inputs, functions=("alerts", "events"))
        self.assertEqual(list(result["functions"]), ["alerts"])
        self.assertEqual(result["functions"]["alerts"]["ok"], 1)
        self.assertEqual(result["missing"], [os.path.join(tmp, "events", "bootstrap")])

    def test_each_function_gets_its_own_request(self):
        env = {"BENCH_REFRESH_TOKENS": ["r0", "r1"], "BENCH_ADMIN_TOKEN": "a", "BENCH_EVENT_ID": "9",
               "BENCH_ANALYST_TOKEN": "n", "BENCH_ALERT_ID": "4"}
        token = coldstart.function_event("token", env)
        self.assertEqual((token["requestContext"]["http"]["method"], token["rawPath"]),
                         ("POST", "/api/token/refresh/"))
        self.assertEqual(json.loads(token["body"]), {"refresh": "r0"})
        # A refresh token is spent by its use: the next start sends the next.
        self.assertEqual(json.loads(coldstart.function_event("token", env, 1)["body"]), {"refresh": "r1"})
        self.assertEqual(token["headers"]["content-type"], "application/json")
        events = coldstart.function_event("events", env)
        self.assertEqual((events["rawPath"], events["headers"]["authorization"]), ("/api/events/9/", "Bearer a"))
        alerts = coldstart.function_event("alerts", env)
        self.assertEqual((alerts["rawPath"], alerts["headers"]["authorization"]), ("/api/alerts/4/", "Bearer n"))


if __name__ == "__main__":
    unittest.main()
