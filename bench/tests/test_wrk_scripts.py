"""The wrk scripts, run by wrk against a stub server on 127.0.0.1: what they
send and what their done() reports. Skipped where wrk is not installed."""

import json
import os
import re
import shutil
import subprocess
import threading
import unittest
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import helpers

WRK_DIR = os.path.join(helpers.TESTS, "..", "wrk")


class StubHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def do_GET(self):
        self.answer(404 if self.path.startswith("/missing") else 200, b"")

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.answer(201 if self.path == "/api/events/" else 200, body)

    def answer(self, status, body):
        with self.server.lock:
            self.server.seen.append((self.command, self.path, self.headers.get("Authorization"), body))
        payload = b'{"ok": true}'
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)


@unittest.skipUnless(shutil.which("wrk"), "wrk is not installed")
class WrkScriptsTest(unittest.TestCase):
    def setUp(self):
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), StubHandler)
        self.server.daemon_threads = True
        self.server.seen, self.server.lock = [], threading.Lock()
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.base = f"http://127.0.0.1:{self.server.server_address[1]}"

    def tearDown(self):
        self.server.shutdown()
        self.server.server_close()

    def wrk(self, script, path, **env):
        done = subprocess.run(
            ["wrk", "-t1", "-c2", "-d1s", "-s", os.path.join(WRK_DIR, script), self.base + path],
            env=dict(os.environ, **env), capture_output=True, text=True, timeout=30, check=True,
        )
        lines = [l for l in done.stdout.splitlines() if l.startswith("BENCH_RESULT ")]
        self.assertEqual(len(lines), 1, done.stdout + done.stderr)
        return json.loads(lines[0][len("BENCH_RESULT "):])

    def test_get_reports_every_figure_and_sends_the_token(self):
        result = self.wrk("get.lua", "/api/alerts/?severity=High&status=Open", BENCH_TOKEN="tok")
        for key in ("requests", "duration_s", "rps", "p50_ms", "p90_ms", "p99_ms", "max_ms",
                    "non_2xx", "socket_errors", "timeouts"):
            self.assertIsInstance(result[key], (int, float), key)
        self.assertGreater(result["requests"], 0)
        self.assertEqual((result["non_2xx"], result["socket_errors"]), (0, 0))
        self.assertIsNone(result["responses_2xx"])  # plain GETs do not count
        method, path, auth, _ = self.server.seen[0]
        self.assertEqual((method, path, auth), ("GET", "/api/alerts/?severity=High&status=Open", "Bearer tok"))

    def test_error_statuses_are_counted(self):
        result = self.wrk("get.lua", "/missing")
        self.assertGreater(result["non_2xx"], 0)
        self.assertEqual(result["non_2xx"], result["requests"])

    def test_random_alert_ids_stay_in_range(self):
        self.wrk("get_random_alert.lua", "/", BENCH_TOKEN="t", BENCH_ID_MIN="5", BENCH_ID_MAX="9")
        ids = {int(re.fullmatch(r"/api/alerts/(\d+)/", path).group(1)) for _, path, _, _ in self.server.seen}
        self.assertTrue(ids <= set(range(5, 10)), ids)
        self.assertGreater(len(ids), 1)

    def test_post_event_sends_high_events_and_counts_2xx(self):
        result = self.wrk("post_event.lua", "/api/events/", BENCH_TOKEN="adm")
        self.assertEqual(result["responses_2xx"], result["requests"])
        method, path, auth, body = self.server.seen[0]
        self.assertEqual((method, path, auth), ("POST", "/api/events/", "Bearer adm"))
        event = json.loads(body)
        self.assertEqual(event["severity"], "High")
        self.assertRegex(event["source"], r"^sensor-\d{3}$")
        self.assertIn(event["event_type"], ("intrusion", "malware", "anomaly"))
        self.assertGreater(len({json.loads(b)["source"] for _, _, _, b in self.server.seen}), 1)

    def test_post_json_sends_the_body_it_is_given(self):
        body = '{"username": "u", "password": "p"}'
        result = self.wrk("post_json.lua", "/api/token/", BENCH_BODY=body)
        self.assertEqual(result["responses_2xx"], result["requests"])
        method, path, auth, sent = self.server.seen[0]
        self.assertEqual((method, path, auth, sent.decode()), ("POST", "/api/token/", None, body))


if __name__ == "__main__":
    unittest.main()
