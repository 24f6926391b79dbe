"""driver.py's pieces that need no database: reading wrk's result, the
argon2 parameters, URLs; and bench/run's exit status for its command line."""

import base64
import contextlib
import io
import json
import os
import subprocess
import sys
import tempfile
import unittest

import helpers
import driver
import options
import report
import statements

RUN = os.path.join(helpers.TESTS, "..", "run")


def jwt(claims):
    """A JWT-shaped string with these claims (header and signature not real)."""
    payload = base64.urlsafe_b64encode(json.dumps(claims).encode()).decode().rstrip("=")
    return f"x.{payload}.y"


class PiecesTest(unittest.TestCase):
    def test_the_last_wrk_result_line_counts(self):
        output = ("Running 2s test\nBENCH_RESULT {\"rps\": 1.0}\nnoise\n"
                  "BENCH_RESULT {\"rps\": 2.5, \"requests\": 5}\n")
        self.assertEqual(driver.wrk_result(output), {"rps": 2.5, "requests": 5})
        self.assertIsNone(driver.wrk_result("unable to connect to 127.0.0.1:1"))
        self.assertIsNone(driver.wrk_result("BENCH_RESULT {broken"))

    def test_argon2_parameters_are_read_from_the_source(self):
        source = ("/// Memory\npub const MEMORY_KIB: u32 = 19_456;\npub const ITERATIONS: u32 = 2;\n"
                  "pub const PARALLELISM: u32 = 1;\npub const MIN_PASSWORD_CHARS: usize = 12;\n")
        self.assertEqual(driver.argon2_parameters(source),
                         {"memory_kib": 19456, "iterations": 2, "parallelism": 1})
        self.assertEqual(driver.argon2_parameters("")["memory_kib"], None)
        with open(os.path.join(driver.ROOT, driver.ARGON2_SOURCE), encoding="utf-8") as f:
            self.assertNotIn(None, driver.argon2_parameters(f.read()).values())

    def test_sslmode_is_added_to_a_url_with_or_without_a_query(self):
        self.assertEqual(driver.with_query("postgres://h/db", sslmode="require"), "postgres://h/db?sslmode=require")
        self.assertEqual(driver.with_query("postgres://h/db?user=u", sslmode="disable"),
                         "postgres://h/db?user=u&sslmode=disable")

    def test_statement_sources_quote_query_strings_as_a_shell_would_need(self):
        self.assertEqual(driver.statement_source("alerts-list", "severity=High&status=Open"),
                         "tmctl statements alerts-list 'severity=High&status=Open'")
        self.assertEqual(driver.statement_source("alerts-get", 7), "tmctl statements alerts-get 7")
        self.assertEqual(driver.statement_source("alerts-get", "ID", 2), "tmctl statements alerts-get ID --user 2")
        self.assertEqual(driver.statement_source("alerts-get", "ID", 2, 9),
                         "tmctl statements alerts-get ID --user 2 --session 9")

    def test_a_token_s_session_is_its_sid_claim(self):
        self.assertEqual(driver.token_session(jwt({"sub": "5", "sid": 11})), 11)
        # Unpadded base64url, whatever the payload's length, as JWTs are.
        for pad in ("", "a", "ab", "abc"):
            with self.subTest(pad=pad):
                self.assertEqual(driver.token_session(jwt({"sid": 4031, "jti": pad + "?>~"})), 4031)
        with self.assertRaises(KeyError):  # a token from before sessions
            driver.token_session(jwt({"sub": "5"}))

    def test_the_ingest_event_is_what_wrk_posts(self):
        self.assertEqual(driver.INGEST_EVENT["severity"], "High")  # so each raises an alert, as wrk's
        self.assertRegex(driver.INGEST_EVENT["source"], r"^sensor-\d{3}$")


class CeilingTest(unittest.TestCase):
    """Bench.ceiling with pgbench stubbed: what it runs and what it records."""

    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.saved = driver.WORK, driver.FACTS, driver.pgbench.run
        driver.WORK, driver.FACTS = self.tmp.name, os.path.join(self.tmp.name, "facts.jsonl")
        self.bench = driver.Bench(options.parse(["--smoke"]), {})
        self.bench.bench_url, self.bench.size = "postgres://127.0.0.1/tm_bench", 2000
        self.bench.tmctl = helpers.fake_tmctl(self.tmp.name)
        self.calls = []

    def tearDown(self):
        driver.WORK, driver.FACTS, driver.pgbench.run = self.saved
        self.tmp.cleanup()

    def stub(self, ok, tps):
        def run(url, script, defines, clients, threads, duration, out):
            with open(script, encoding="utf-8") as f:
                self.calls.append((url, f.read(), defines, clients, threads, duration))
            return ok, {"tps": tps, "latency_ms": 1.0, "failed": 0, "transactions": 10}
        driver.pgbench.run = run

    def facts(self):
        return report.read_facts(driver.FACTS) if os.path.exists(driver.FACTS) else []

    def test_a_ceiling_runs_the_statements_at_wrk_s_concurrency_and_records_them(self):
        self.stub(True, 1234.5)
        get = statements.parse(helpers.fixture("alerts-get-123.json"))
        with contextlib.redirect_stderr(io.StringIO()):
            self.bench.ceiling("alert_by_id", get, "tmctl statements alerts-get ID", drawn={"p3": "random(3, 8)"})
        ((url, script, defines, clients, threads, duration),) = self.calls
        self.assertEqual((url, defines, clients, threads, duration),
                         (self.bench.bench_url, {"p1": "1", "p2": "1"}, 32, 2, 2))
        self.assertTrue(script.startswith("\\set p3 random(3, 8)\n"))
        (fact,) = self.facts()
        self.assertEqual((fact["kind"], fact["scenario"], fact["size"], fact["tps"], fact["clients"]),
                         ("pgbench", "alert_by_id", 2000, 1234.5, 32))
        self.assertEqual(fact["statements"], [g.as_json() for g in get])

    def test_the_ceilings_run_the_user_s_check_as_wrk_s_users_and_sessions_and_draw_the_get_s_id(self):
        self.stub(True, 100.0)
        self.bench.admin_user, self.bench.analyst_user = "bench-admin", "bench-analyst"
        ids = {"'bench-admin'": 5, "'bench-analyst'": 6}
        self.bench.sql_ints = lambda sql: [ids[sql.rsplit(" = ", 1)[1]]]
        # The sessions are those the tokens wrk sends name.
        self.bench.admin_token, self.bench.analyst_token = jwt({"sub": "5", "sid": 11}), jwt({"sub": "6", "sid": 12})
        fetched = []

        def fetch(kind, argument, user=None, session=None):
            fetched.append((kind, user, session))
            if kind == "events-create":  # the body recorded, not the bench's own event
                argument = json.loads(helpers.fixture("index.json"))["commands"]["events-create.json"][1]
            return statements.fetch(self.bench.tmctl, kind, argument, user=user, session=session)

        self.bench.fetch_statements = fetch
        self.bench.alert_ids = (123, 130)
        with contextlib.redirect_stderr(io.StringIO()):
            self.bench.load_ceiling_statements()
            self.bench.read_ceilings()
            self.bench.ingest_ceiling()
        self.assertEqual((self.bench.admin_id, self.bench.analyst_id), (5, 6))
        self.assertEqual((self.bench.admin_session, self.bench.analyst_session), (11, 12))
        # One batch statement per batch wrk sends, each as the admin in its session.
        self.assertEqual(fetched, [("alerts-list", 6, 12), ("events-create", 5, 11)]
                         + [("events-batch", 5, 11)] * driver.BATCH_COUNT + [("alerts-get", 6, 12)])
        first, alert, ingest = self.calls
        auth = ("SELECT u.role FROM users u JOIN sessions s ON s.user_id = u.id WHERE u.id = :p1 AND u.is_active "
                "AND s.id = :p2 AND s.ended_at IS NULL AND s.expires_at > now();")
        # The first page and the single alert as the analyst, ingest as the admin.
        self.assertEqual(first[1].splitlines()[0], auth)
        self.assertEqual((first[2]["p1"], first[2]["p2"]), ("6", "12"))
        # The alert's id is the get statement's $1, p3 after the check's p1 and p2: drawn, not defined.
        self.assertEqual(alert[1].splitlines()[:2], ["\\set p3 random(123, 130)", auth])
        self.assertTrue(alert[1].splitlines()[2].endswith("WHERE a.id = :p3;"))
        self.assertEqual(alert[2], {"p1": "6", "p2": "12"})
        self.assertEqual(ingest[1].splitlines()[0], auth)
        self.assertEqual((ingest[2]["p1"], ingest[2]["p2"]), ("5", "11"))
        recorded = {f["scenario"]: f for f in self.facts()}
        self.assertEqual(sorted(recorded), ["alert_by_id", "alerts_first_page", "ingest"])
        self.assertEqual(recorded["alert_by_id"]["drawn"], {"p3": "random(123, 130)"})
        self.assertEqual(recorded["alert_by_id"]["source"], "tmctl statements alerts-get ID --user 6 --session 12")
        self.assertTrue(recorded["alerts_first_page"]["source"].endswith(" --user 6 --session 12"))
        self.assertTrue(recorded["ingest"]["source"].endswith(" --user 5 --session 11"))
        for fact in recorded.values():
            self.assertEqual(fact["statements"][0]["name"], "auth")

    def test_a_failed_pgbench_is_a_problem_not_a_figure(self):
        self.stub(False, None)
        found = statements.parse(helpers.fixture("events-create.json"))
        with contextlib.redirect_stderr(io.StringIO()):
            self.bench.ceiling("ingest", found, "tmctl statements events-create")
        (fact,) = self.facts()
        self.assertEqual(fact["kind"], "problem")
        self.assertIn("pgbench ingest failed at 2000 events", fact["message"])

    def test_a_statement_pgbench_cannot_run_is_a_problem_and_pgbench_is_not_started(self):
        self.stub(True, 1.0)
        with contextlib.redirect_stderr(io.StringIO()):
            self.bench.ceiling("ingest", [statements.Statement("create", "SELECT 'a:b', $1", ("x",))], "t")
        self.assertEqual(self.calls, [])
        self.assertIn("would read a variable", self.facts()[0]["message"])


class CommandLineTest(unittest.TestCase):
    def run_bench(self, *args):
        return subprocess.run([sys.executable, RUN, *args], capture_output=True, text=True, timeout=30,
                              check=False)

    def test_help_exits_0_and_bad_options_exit_1(self):
        done = self.run_bench("--help")
        self.assertEqual(done.returncode, 0)
        self.assertTrue(done.stdout.startswith("Usage: bench/run [options]"))
        done = self.run_bench("--sizes", "3,2")
        self.assertEqual(done.returncode, 1)
        self.assertEqual(done.stderr, "bench: error: --sizes must be ascending and positive\n")

    def test_a_missing_tmctl_stops_the_run_before_any_work(self):
        with contextlib.redirect_stderr(io.StringIO()) as err:
            status = driver.main(["--smoke", "--no-build"], dict(os.environ, TMCTL="/nonexistent/tmctl"))
        self.assertEqual(status, 1)
        self.assertIn("no /nonexistent/tmctl", err.getvalue())

    def test_a_tmctl_without_statements_stops_the_run_before_any_work(self):
        with contextlib.redirect_stderr(io.StringIO()) as err:
            status = driver.main(["--smoke", "--no-build"], dict(os.environ, TMCTL="/bin/false"))
        self.assertEqual(status, 1)
        # Asked with --user and --session, so a tmctl from before them stops the run here too.
        self.assertIn("`/bin/false statements alerts-list severity=High&status=Open --user 1 --session 1` failed",
                      err.getvalue())


if __name__ == "__main__":
    unittest.main()
