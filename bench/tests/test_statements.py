"""statements.py: `tmctl statements` output read and checked, turned into
pgbench scripts and EXPLAIN commands; against the recorded outputs in
fixtures/statements, and (where a PostgreSQL answers on 127.0.0.1) run."""

import os
import shutil
import subprocess
import tempfile
import unittest

import fake_tmctl
import helpers
import pgbench
import statements
from statements import Statement, StatementsError

LOCAL_SERVER = "postgres://postgres@127.0.0.1:5432/postgres"


def local_server_answers():
    if not shutil.which("psql"):
        return False
    done = subprocess.run(["psql", "-X", "-w", "-qAtc", "SELECT 1", LOCAL_SERVER], capture_output=True,
                          env=dict(os.environ, PGCONNECT_TIMEOUT="3"), check=False)
    return done.returncode == 0


class ParseTest(unittest.TestCase):
    def test_recorded_outputs_parse(self):
        first = statements.parse(helpers.fixture("alerts-list-first-page.json"))
        # Every signed-in request checks its user and its session first
        # (tmctl's defaults, user 1 in session 1).
        self.assertEqual([s.name for s in first], ["auth", "list"])
        self.assertEqual(first[0].params, ("1", "1"))
        self.assertIn("FROM users u JOIN sessions s ON s.user_id = u.id WHERE u.id = $1 AND u.is_active "
                      "AND s.id = $2 AND s.ended_at IS NULL AND s.expires_at > now()", first[0].sql)
        # The page is counted in its own statement: the count's filter, then the page's.
        self.assertEqual(statements.by_name(first, "list").params, ("Open", "High", "Open", "High"))
        self.assertIn("LIMIT 20 OFFSET 0", statements.by_name(first, "list").sql)
        deep = statements.parse(helpers.fixture("alerts-list-page-6064.json"))
        self.assertIn("OFFSET 121260", statements.by_name(deep, "list").sql)
        auth, get = statements.parse(helpers.fixture("alerts-get-123.json"))
        self.assertEqual((auth.name, get.name, get.params), ("auth", "get", ("123",)))
        for name in ("events-create.json", "events-list-window.json", "alerts-list-two-statuses.json"):
            self.assertEqual(statements.parse(helpers.fixture(name))[0].name, "auth", name)

    def test_malformed_outputs_are_refused(self):
        for text, message in [
            ("not json", "not JSON"),
            ("[]", "non-empty JSON array"),
            ('{"name": "x"}', "non-empty JSON array"),
            ('[{"name": "count", "params": []}]', "needs a name and its sql"),
            ('[{"name": "count", "sql": "SELECT $1", "params": [1]}]', "list of strings"),
            ('[{"name": "count", "sql": "SELECT $1, $2", "params": ["a"]}]', r"\$2 at most but 1 params"),
        ]:
            with self.subTest(text=text), self.assertRaisesRegex(StatementsError, message):
                statements.parse(text)

    def test_by_name_names_what_there_is(self):
        with self.assertRaisesRegex(StatementsError, "no statement named 'rows' .have auth, list"):
            statements.by_name(statements.parse(helpers.fixture("alerts-list-first-page.json")), "rows")


class FetchTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.tmctl = helpers.fake_tmctl(self.tmp.name)

    def tearDown(self):
        self.tmp.cleanup()

    def test_fetch_runs_tmctl_statements_with_the_query_string(self):
        found = statements.fetch(self.tmctl, "alerts-list", "severity=High&status=Open&page=6064")
        self.assertIn("OFFSET 121260", statements.by_name(found, "list").sql)
        self.assertEqual(statements.by_name(statements.fetch(self.tmctl, "alerts-get", 123), "get").params,
                         ("123",))

    def test_fetch_passes_the_user_and_the_session_to_tmctl(self):
        found = statements.fetch(self.tmctl, "alerts-get", 123, user=2)  # the recording made with --user 2
        self.assertEqual([(s.name, s.params) for s in found], [("auth", ("2", "1")), ("get", ("123",))])
        found = statements.fetch(self.tmctl, "alerts-list", "severity=High&status=Open", user=7)
        self.assertEqual(statements.by_name(found, "auth").params, ("7", "1"))
        self.assertEqual(statements.by_name(found, "list").params, ("Open", "High", "Open", "High"))
        found = statements.fetch(self.tmctl, "alerts-list", "severity=High&status=Open", user=7, session=12)
        self.assertEqual(statements.by_name(found, "auth").params, ("7", "12"))
        self.assertEqual(statements.by_name(found, "list").params, ("Open", "High", "Open", "High"))
        found = statements.fetch(self.tmctl, "alerts-get", 123, session=5)
        self.assertEqual([(s.name, s.params) for s in found], [("auth", ("1", "5")), ("get", ("123",))])
        with self.assertRaisesRegex(StatementsError, r"`\S+ statements alerts-list page=x --user 3` failed"):
            statements.fetch(self.tmctl, "alerts-list", "page=x", user=3)
        with self.assertRaisesRegex(StatementsError,
                                    r"`\S+ statements alerts-list page=x --user 3 --session 4` failed"):
            statements.fetch(self.tmctl, "alerts-list", "page=x", user=3, session=4)

    def test_the_fake_changes_what_tmctl_s_user_and_session_change(self):
        # fake_tmctl.py serves other users' and sessions' statements from
        # the recordings of user 1 in session 1; tmctl's own output for
        # --user 2 says that is right.
        self.assertEqual(fake_tmctl.as_user(helpers.fixture("alerts-get-123.json"), {"--user": "2"}),
                         helpers.fixture("alerts-get-123-user-2.json"))
        # The session is the auth statement's second parameter; nothing else changes.
        recorded = statements.parse(helpers.fixture("alerts-get-123.json"))
        served = statements.parse(fake_tmctl.as_user(helpers.fixture("alerts-get-123.json"),
                                                     {"--user": "2", "--session": "9"}))
        self.assertEqual(served, [Statement("auth", recorded[0].sql, ("2", "9")), recorded[1]])

    def test_a_rejected_query_string_is_an_error_with_tmctl_s_message(self):
        with self.assertRaisesRegex(StatementsError, r"status 2.*invalid query string 'page=x'"):
            statements.fetch(self.tmctl, "alerts-list", "page=x")

    def test_a_tmctl_without_the_command_or_with_bad_output_is_an_error(self):
        with self.assertRaisesRegex(StatementsError, "No such file"):
            statements.fetch(os.path.join(self.tmp.name, "missing"), "alerts-get", 1)
        os.environ["FAKE_TMCTL_OUTPUT"] = "[{}]"
        try:
            with self.assertRaisesRegex(StatementsError, "alerts-get 1`: a statement needs"):
                statements.fetch(self.tmctl, "alerts-get", 1)
        finally:
            del os.environ["FAKE_TMCTL_OUTPUT"]


class TokensTest(unittest.TestCase):
    def params(self, sql):
        return [text for kind, text in statements.tokens(sql) if kind == "param"]

    def test_parameters_outside_quotes_and_comments_only(self):
        sql = ("SELECT $1, '$2', \"$3\", $$ $4 $$, $q$ $5 $q$, E'\\' $6', a$7 -- $8\n"
               "/* $9 /* nested */ $10 */ FROM t WHERE x = $11::int AND y = ANY($12)")
        self.assertEqual(self.params(sql), ["1", "11", "12"])

    def test_the_pieces_put_back_together_are_the_statement(self):
        sql = statements.by_name(statements.parse(helpers.fixture("events-create.json")), "create").sql
        self.assertEqual("".join(text if kind != "param" else "$" + text for kind, text in statements.tokens(sql)),
                         sql)

    def test_unterminated_quotes_are_errors(self):
        for sql in ("SELECT 'x", 'SELECT "x', "SELECT $a$ x", "SELECT /* x"):
            with self.subTest(sql=sql), self.assertRaises(StatementsError):
                statements.tokens(sql)


class PgbenchScriptTest(unittest.TestCase):
    def test_the_first_page_is_one_transaction_of_the_user_s_check_and_the_counted_list(self):
        found = statements.parse(helpers.fixture("alerts-list-first-page.json"))
        script, defines = statements.pgbench_script(found)
        auth, listing = script.splitlines()
        self.assertEqual(auth, "SELECT u.role FROM users u JOIN sessions s ON s.user_id = u.id WHERE u.id = :p1 "
                               "AND u.is_active AND s.id = :p2 AND s.ended_at IS NULL AND s.expires_at > now();")
        # The list's $1 to $4 number on after the check's two.
        self.assertTrue(listing.startswith("WITH total AS (SELECT COALESCE(sum(n), 0)::bigint FROM alert_counts "
                                           "WHERE TRUE AND status = :p3 AND severity = :p4)"))
        self.assertIn("a.status = :p5 AND a.severity = :p6 ORDER BY", listing)
        self.assertTrue(listing.endswith("a.id DESC;"))
        self.assertNotIn("$", script)
        self.assertEqual(defines, {"p1": "1", "p2": "1", "p3": "Open", "p4": "High", "p5": "Open", "p6": "High"})
        self.assertEqual(statements.pgbench_define_args(defines)[:6], ["-D", "p1=1", "-D", "p2=1", "-D", "p3=Open"])

    def test_a_drawn_parameter_is_set_each_transaction_instead_of_defined(self):
        found = statements.parse(helpers.fixture("alerts-get-123.json"))
        script, defines = statements.pgbench_script(found, drawn={"p3": "random(5, 9)"})
        lines = script.splitlines()
        self.assertEqual(lines[0], "\\set p3 random(5, 9)")
        self.assertTrue(lines[1].endswith("WHERE u.id = :p1 AND u.is_active AND s.id = :p2 AND s.ended_at IS NULL "
                                          "AND s.expires_at > now();"))
        self.assertTrue(lines[2].endswith("WHERE a.id = :p3;"))
        self.assertEqual(defines, {"p1": "1", "p2": "1"})
        with self.assertRaisesRegex(StatementsError, "no parameter p4 to draw"):
            statements.pgbench_script(found, drawn={"p4": "random(1, 2)"})

    def test_ingest_keeps_its_quoted_literal_and_passes_every_field(self):
        found = statements.parse(helpers.fixture("events-create.json"))
        script, defines = statements.pgbench_script(found)
        self.assertTrue(script.startswith("SELECT u.role FROM users u JOIN sessions s ON s.user_id = u.id "
                                          "WHERE u.id = :p1 AND u.is_active AND s.id = :p2 AND s.ended_at IS NULL "
                                          "AND s.expires_at > now();\n"))
        # A High event without a dedup key: the event and its alert; the
        # absent key and silence are written as NULL, which pgbench cannot pass.
        self.assertIn("VALUES (:p3::text, :p4::event_type, :p5::severity, :p6::text, NULL::text, NULL::bigint)",
                      script)
        self.assertIn("'raised'::ingest_outcome", script)
        self.assertEqual(list(defines.values()), ["1", "1", "sensor-001", "intrusion", "High", "x"])

    def test_a_batch_passes_each_column_as_one_array(self):
        found = statements.parse(helpers.fixture("events-batch.json"))
        script, defines = statements.pgbench_script(found)
        self.assertEqual(len(script.splitlines()), 2)
        self.assertEqual(defines["p3"], '{"s-1","s-2"}')
        self.assertEqual(defines["p6"], '{"a \\"quoted\\" one","b"}')
        self.assertEqual(defines["p7"], '{"k",NULL}')

    def test_arrays_are_passed_as_their_literal(self):
        found = statements.parse(helpers.fixture("alerts-list-two-statuses.json"))
        script, defines = statements.pgbench_script(found)
        self.assertIn("= ANY(:p3)", script)
        self.assertEqual(defines["p4"], "{Open,Acknowledged}")

    def test_what_pgbench_would_misread_is_refused(self):
        for sql in ("SELECT 'a:b' = $1", "SELECT (ARRAY[1, 2])[1:2] = $1", "SELECT 1 WHERE x = $1 -- :x"):
            with self.subTest(sql=sql), self.assertRaisesRegex(StatementsError, "would read a variable"):
                statements.pgbench_script([Statement("q", sql, ("v",))])
        # Casts are fine: pgbench skips `::`.
        script, _ = statements.pgbench_script([Statement("q", "SELECT $1::text::varchar, now()::date", ("v",))])
        self.assertEqual(script, "SELECT :p1::text::varchar, now()::date;\n")

    def test_null_parameters_and_meta_command_lines_are_refused(self):
        with self.assertRaisesRegex(StatementsError, "NULL parameter .p1."):
            statements.pgbench_script([Statement("q", "SELECT $1", (None,))])
        with self.assertRaisesRegex(StatementsError, "meta-command"):
            statements.pgbench_script([Statement("q", "SELECT 1\n\\set x 1", ())])

    def test_a_trailing_semicolon_is_not_doubled(self):
        script, _ = statements.pgbench_script([Statement("q", "SELECT 1;  ", ())])
        self.assertEqual(script, "SELECT 1;\n")


class PgbenchVariableTest(unittest.TestCase):
    def test_a_statement_s_parameter_numbers_on_from_the_statements_before_it(self):
        get = statements.parse(helpers.fixture("alerts-get-123.json"))
        self.assertEqual(statements.pgbench_variable(get, "get"), "p3")  # after the user's check's two
        self.assertEqual(statements.pgbench_variable(get, "auth"), "p1")
        self.assertEqual(statements.pgbench_variable(get, "auth", 2), "p2")
        first = statements.parse(helpers.fixture("alerts-list-first-page.json"))
        self.assertEqual(statements.pgbench_variable(first, "list", 2), "p4")
        self.assertEqual(statements.pgbench_variable(first, "list", 4), "p6")
        # Whatever comes first, the number names the get statement's id in the script.
        alone = [statements.by_name(get, "get")]
        self.assertEqual(statements.pgbench_variable(alone, "get"), "p1")
        script, _ = statements.pgbench_script(get, drawn={statements.pgbench_variable(get, "get"): "random(1, 2)"})
        self.assertTrue(script.splitlines()[-1].endswith("WHERE a.id = :p3;"))

    def test_a_missing_statement_or_parameter_is_an_error(self):
        first = statements.parse(helpers.fixture("alerts-list-first-page.json"))
        with self.assertRaisesRegex(StatementsError, "no statement named 'get' .have auth, list"):
            statements.pgbench_variable(first, "get")
        for number in (0, 5):
            with self.subTest(number=number), self.assertRaisesRegex(StatementsError,
                                                                     rf"list has no parameter \${number} .it has 4"):
                statements.pgbench_variable(first, "list", number)


class ExplainCommandsTest(unittest.TestCase):
    def test_literals(self):
        self.assertEqual(statements.sql_literal("High"), "'High'")
        self.assertEqual(statements.sql_literal("O'Brien"), "'O''Brien'")
        self.assertEqual(statements.sql_literal("a\\b'"), "E'a\\\\b'''")
        self.assertEqual(statements.sql_literal(None), "NULL")

    def test_prepare_then_explain_the_execution_with_the_parameters(self):
        get = statements.by_name(statements.parse(helpers.fixture("alerts-get-123.json")), "get")
        commands = statements.explain_commands(get, "force_generic_plan")
        self.assertEqual(commands[0], "SET plan_cache_mode = force_generic_plan")
        self.assertEqual(commands[1], "SET jit = off")
        self.assertEqual(commands[2], "PREPARE bench_query AS " + get.sql)
        self.assertEqual(commands[-1], "EXPLAIN (ANALYZE, BUFFERS) EXECUTE bench_query('123')")
        self.assertEqual(statements.execute_command(Statement("q", "SELECT 1", ())), "EXECUTE bench_query")


@unittest.skipUnless(shutil.which("pgbench") and local_server_answers(),
                     "no pgbench, or no PostgreSQL at 127.0.0.1:5432")
class AgainstPostgresTest(unittest.TestCase):
    """The scripts and commands run as PostgreSQL and pgbench read them:
    parameter types inferred from context, `::` casts left alone."""

    def test_pgbench_runs_a_converted_script_with_defined_and_drawn_parameters(self):
        found = [Statement("count", "SELECT count(*)::bigint FROM pg_type WHERE typname = $1 AND oid > $2", ("int4", "0")),
                 Statement("list", "SELECT oid::int FROM pg_type WHERE oid = ANY($1) AND typlen > $2",
                           ("{16,23}", "0"))]
        with tempfile.TemporaryDirectory() as tmp:
            script, defines = statements.pgbench_script(found, drawn={"p4": "random(0, 1)"})
            path = os.path.join(tmp, "s.sql")
            with open(path, "w", encoding="utf-8") as f:
                f.write(script)
            ok, figures = pgbench.run(LOCAL_SERVER, path, defines, 2, 1, 1, os.path.join(tmp, "out.txt"))
            with open(os.path.join(tmp, "out.txt"), encoding="utf-8") as f:
                output = f.read()
        self.assertTrue(ok, output)
        self.assertEqual(figures["failed"], 0, output)
        self.assertGreater(figures["tps"], 0)

    def test_explain_infers_the_parameter_types(self):
        import explain

        plan = explain.explain(LOCAL_SERVER, Statement("q", "SELECT typname FROM pg_type WHERE oid = $1 AND "
                                                            "typname <> $2::text", ("23", "it's")), "force_generic_plan")
        summary = explain.summarise("q", "generic", plan, "q.txt")
        self.assertEqual(summary["parameter_types"], "{oid,text}")
        self.assertIsNotNone(summary["execution_ms"])


class PgbenchOutputTest(unittest.TestCase):
    def test_the_summary_figures_are_read(self):
        output = ("transaction type: s.sql\nnumber of transactions actually processed: 19277\n"
                  "number of failed transactions: 3 (0.016%)\nlatency average = 0.103 ms\n"
                  "initial connection time = 8.969 ms\ntps = 19401.577529 (without initial connection time)\n")
        self.assertEqual(pgbench.parse_output(output),
                         {"tps": 19401.577529, "latency_ms": 0.103, "failed": 3, "transactions": 19277})
        self.assertEqual(pgbench.parse_output("pgbench: error: connection failed"),
                         {"tps": None, "latency_ms": None, "failed": None, "transactions": None})

    def test_the_command_passes_concurrency_and_variables(self):
        command = pgbench.command("postgres://x/db", "s.sql", {"p1": "Open"}, 32, 2, 10)
        self.assertEqual(command, ["pgbench", "-n", "-M", "prepared", "-c", "32", "-j", "2", "-T", "10",
                                   "-f", "s.sql", "-D", "p1=Open", "postgres://x/db"])


if __name__ == "__main__":
    unittest.main()


class PgbenchCommandTest(unittest.TestCase):
    def test_several_scripts_run_with_equal_weights_and_prefixed_variables(self):
        import pgbench
        command = pgbench.command("postgres://x", ["a.sql", "b.sql"], {"p1": "1", "s1_p1": "2"}, 4, 2, 10)
        self.assertIn("a.sql@1", command)
        self.assertIn("b.sql@1", command)
        self.assertEqual(pgbench.command("postgres://x", "a.sql", {}, 4, 2, 10)[-3:-1], ["-f", "a.sql"])
        found = statements.parse(helpers.fixture("events-batch.json"))
        script, defines = statements.pgbench_script(found, prefix="s3_")
        self.assertIn(":s3_p3::text[]", script)
        self.assertEqual(set(defines), {f"s3_p{n}" for n in range(1, 9)})
