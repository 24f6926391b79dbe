"""report.py: targets judged only where their conditions hold, problems
found, and a page rendered from a run's facts; plus the small helpers."""

import contextlib
import io
import json
import os
import tempfile
import unittest

import helpers
import dburl
import report


def wrk_result(rps=5000.0, p99=10.0, non_2xx=0, socket_errors=0, responses_2xx=None, requests=1000):
    return {"requests": requests, "duration_s": 10.0, "rps": rps, "p50_ms": 1.0, "p90_ms": 2.0,
            "p99_ms": p99, "max_ms": 30.0, "non_2xx": non_2xx, "socket_errors": socket_errors,
            "timeouts": 0, "responses_2xx": responses_2xx}


def ran(*names):
    """A ceiling's recorded statements, by name (the SQL does not matter here)."""
    return [{"name": name, "sql": "SELECT 1", "params": []} for name in names]


def facts(size=1_000_000, connections=32, **overrides):
    api = {
        "alerts_first_page": wrk_result(rps=4000, p99=15),
        "alerts_deep_page": wrk_result(rps=100, p99=300),
        "alert_by_id": wrk_result(p99=4),
        "ingest": wrk_result(rps=2000, responses_2xx=1000),
        "token": wrk_result(rps=50),
        "events_window": wrk_result(),
    }
    api.update(overrides)
    found = [
        {"kind": "run", "mode": "full", "connections": connections, "threads": 2, "duration_s": 10,
         "tmctl": "target/release/tmctl", "pool_size": "10"},
        {"kind": "machine", "info": {"date": "2026-11-24T00:00:00Z", "nproc": 2}},
        {"kind": "dataset", "size": size, "added": size, "insert_s": 10.0, "vacuum_s": 2.0,
         "events": size, "alerts": size * 4 // 10},
        {"kind": "argon2", "memory_kib": 19456, "iterations": 2, "parallelism": 1, "hashing_slots": 2},
        {"kind": "pgbench", "size": size, "scenario": "ingest", "tps": 3000.0, "latency_ms": 10.0,
         "failed": 0, "clients": 32, "statements": ran("auth", "create"), "drawn": {}},
        {"kind": "pgbench", "size": size, "scenario": "alerts_first_page", "tps": 8000.0, "latency_ms": 4.0,
         "failed": 0, "clients": 32, "statements": ran("auth", "count", "list"), "drawn": {}},
        {"kind": "pgbench", "size": size, "scenario": "alert_by_id", "tps": 20000.0, "latency_ms": 1.6,
         "failed": 0, "clients": 32, "statements": ran("auth", "get"), "drawn": {"p2": "random(1, 400000)"}},
        {"kind": "cold_start", "result": {"missing": [], "functions": {"alerts": {
            "starts": 10, "ok": 10, "errors": [], "median_ms": 25.0, "min_ms": 20.0, "max_ms": 40.0,
            "peak_rss_kb_max": 16 * 1024, "bootstrap_bytes": 8 * 2**20, "zip_bytes": 3 * 2**20,
            "zip_source": "scripts/lambda-build", "samples_ms": []}}}},
    ]
    for scenario, result in api.items():
        entry = {"kind": "api", "size": size, "scenario": scenario, "path": "/", "result": result,
                 "peak_rss_kb": 20000, "rss_reset": True}
        if scenario == "ingest":
            entry["ingest_check"] = {"rows_added": 1003, "alerts_added": 1003}
        found.append(entry)
    return found


def statuses(doc):
    return {t["name"]: t["status"] for t in doc["targets"]}


class TargetsTest(unittest.TestCase):
    def test_each_target_is_judged_at_the_target_load(self):
        doc = report.build_document(facts())
        s = statuses(doc)
        self.assertEqual(s["Alert list (first page): throughput"], "met")
        self.assertEqual(s["Alert list (first page): p99"], "met")
        self.assertEqual(s["Alert list (middle page): throughput"], "missed")
        self.assertEqual(s["Single alert: p99"], "met")
        self.assertEqual(s["Ingest: API rps / pgbench tps"], "met")  # 2000 / 3000
        self.assertEqual(s["Cold start median (alerts)"], "met")
        self.assertEqual(s["Function peak RSS (alerts)"], "missed")  # 16 MiB
        self.assertEqual(s["Bootstrap size (alerts)"], "met")
        self.assertEqual(doc["problems"], [])

    def test_list_targets_are_not_judged_at_another_size_or_concurrency(self):
        for doc in (report.build_document(facts(size=2000)),
                    report.build_document(facts(connections=8))):
            self.assertEqual(statuses(doc)["Alert list (first page): throughput"], "n/a")

    def test_ingest_ratio_uses_the_same_size(self):
        doc = report.build_document(facts())
        self.assertEqual(doc["ingest_vs_pgbench"],
                         [{"size": 1_000_000, "api_rps": 2000, "pgbench_tps": 3000.0, "ratio": 0.667}])


class CeilingsTest(unittest.TestCase):
    def test_reads_are_set_against_pgbench_running_their_statements(self):
        doc = report.build_document(facts())
        self.assertEqual(doc["reads_vs_pgbench"], [
            {"size": 1_000_000, "scenario": "alerts_first_page", "api_rps": 4000, "pgbench_tps": 8000.0,
             "ratio": 0.5},
            {"size": 1_000_000, "scenario": "alert_by_id", "api_rps": 5000.0, "pgbench_tps": 20000.0,
             "ratio": 0.25},
        ])

    def test_each_ratio_takes_its_own_scenario_and_size(self):
        found = facts() + [
            {"kind": "dataset", "size": 2000, "added": 2000, "insert_s": 1.0},
            {"kind": "api", "size": 2000, "scenario": "alert_by_id", "path": "/", "result": wrk_result(rps=900)},
            {"kind": "pgbench", "size": 2000, "scenario": "alert_by_id", "tps": 1000.0},
            {"kind": "pgbench", "size": 2000, "scenario": "ingest", "tps": 1.0},  # no API ingest at 2000
        ]
        doc = report.build_document(found)
        self.assertEqual([(r["size"], r["scenario"], r["ratio"]) for r in doc["reads_vs_pgbench"]],
                         [(1_000_000, "alerts_first_page", 0.5), (1_000_000, "alert_by_id", 0.25),
                          (2000, "alert_by_id", 0.9)])
        self.assertEqual([r["size"] for r in doc["ingest_vs_pgbench"]], [1_000_000])

    def test_a_run_from_before_the_read_ceilings_still_reads(self):
        found = [f for f in facts() if f["kind"] != "pgbench"]
        found.append({"kind": "pgbench", "size": 1_000_000, "tps": 4000.0, "latency_ms": 8.0, "clients": 32})
        doc = report.build_document(found)
        self.assertEqual(doc["ingest_vs_pgbench"][0]["ratio"], 0.5)
        self.assertEqual(doc["reads_vs_pgbench"], [])
        self.assertIn("## Reads against the database's ceiling\n\nNot measured.", report.render_markdown(doc))

    def test_failed_pgbench_transactions_are_problems(self):
        found = facts()
        found[5]["failed"] = 7
        self.assertIn("pgbench alerts_first_page at 1,000,000 events: 7 failed transactions",
                      report.build_document(found)["problems"])

    def test_the_page_shows_both_ceilings(self):
        page = report.render_markdown(report.build_document(facts()))
        ingest = page.index("## Ingest against the database's ceiling")
        reads = page.index("## Reads against the database's ceiling")
        self.assertLess(ingest, reads)
        self.assertIn("tmctl statements events-create", page[ingest:reads])
        self.assertIn("| 1,000,000 | 2,000 | 3,000.0 | 0.67 |", page[ingest:reads])
        self.assertIn("| GET /api/alerts/?severity=High&status=Open (first page, analyst) | 1,000,000 | "
                      "4,000 | 8,000.0 | 0.50 |", page[reads:])
        self.assertIn("| GET /api/alerts/{id}/, random ids (analyst) | 1,000,000 | 5,000.0 | 20,000.0 | 0.25 |",
                      page[reads:])
        self.assertIn("-c 32 -j 2 -T 10", page[reads:])

    def test_the_page_says_each_ceiling_runs_the_user_s_check_first(self):
        page = report.render_markdown(report.build_document(facts()))
        ingest = page.index("## Ingest against the database's ceiling")
        reads = page.index("## Reads against the database's ceiling")
        self.assertIn("the signed-in user's check, then the insert", page[ingest:reads])
        self.assertIn("the ratio compares like with like", page[ingest:reads])
        self.assertIn("| 1,000,000 | auth, create | 3,000.0 |", page[ingest:reads])
        self.assertIn("the signed-in user's check, then for the first page", page[reads:])
        self.assertIn("(`\\set p2 random(1, 400000)`)", page[reads:])
        self.assertIn("| alerts_first_page | 1,000,000 | auth, count, list | 8,000.0 |", page[reads:])
        self.assertIn("| alert_by_id | 1,000,000 | auth, get | 20,000.0 |", page[reads:])
        self.assertNotIn("without the signed-in user's check", page)
        summary = report.md_summary(report.build_document(facts()), "latest.md")
        self.assertIn("for the same request, the signed-in user's check included, at the same", summary)

    def test_ceilings_of_runs_from_before_the_user_s_check_are_said_to_lack_it(self):
        found = facts()
        for fact in found:
            if fact["kind"] == "pgbench":
                fact["statements"] = [s for s in fact["statements"] if s["name"] != "auth"]
        found.append({"kind": "pgbench", "size": 2000, "scenario": "ingest", "tps": 1.0})  # none recorded
        doc = report.build_document(found)
        self.assertEqual(report.without_user_check(doc, 1_000_000), ["alert_by_id", "alerts_first_page", "ingest"])
        self.assertEqual(report.without_user_check(doc, 2000), ["ingest"])
        page = report.render_markdown(doc)
        ingest = page.index("## Ingest against the database's ceiling")
        reads = page.index("## Reads against the database's ceiling")
        self.assertIn("one transaction per request: the insert", page[ingest:reads])
        self.assertIn("This run's ingest ceiling ran without the signed-in user's check", page[ingest:reads])
        self.assertIn("| 2,000 | not recorded |", page[ingest:reads])
        self.assertIn("This run's alert_by_id, alerts_first_page ceilings ran without", page[reads:])
        self.assertNotIn("like with like", page)
        summary = report.md_summary(doc, "latest.md")
        self.assertIn("for the same request (without the signed-in user's check, which this run predates, "
                      "for: GET /api/alerts/?severity=High&status=Open (first page, analyst); "
                      "GET /api/alerts/{id}/, random ids (analyst); POST /api/events/, High event (admin)) "
                      "at the same concurrency", summary)


class DocsSectionTest(unittest.TestCase):
    PAGE = ("# Performance\n\nProse.\n\n" + report.DOCS_BEGIN + "\nold figures\n" + report.DOCS_END
            + "\n\nMore prose.\n")

    def test_only_the_marked_section_is_rewritten(self):
        updated = report.replace_section(self.PAGE, "new figures\n")
        self.assertEqual(updated, self.PAGE.replace("\nold figures\n", "\n\nnew figures\n\n"))
        self.assertEqual(report.replace_section(updated, "new figures"), updated)  # stable

    def test_missing_or_repeated_markers_are_errors(self):
        for page in ("no markers", report.DOCS_END + report.DOCS_BEGIN, self.PAGE + report.DOCS_BEGIN):
            with self.subTest(page=page), self.assertRaises(ValueError):
                report.replace_section(page, "x")

    def test_the_summary_has_each_scenario_with_its_ceiling_and_the_targets(self):
        summary = report.md_summary(report.build_document(facts()), "../bench/results/latest.md")
        self.assertIn("[latest.md](../bench/results/latest.md)", summary)
        self.assertIn("| GET /api/alerts/?severity=High&status=Open (first page, analyst) | 4,000 | 15 | "
                      "8,000.0 | 0.50 |", summary)
        self.assertIn("| POST /api/events/, High event (admin) | 2,000 | 10.00 | 3,000.0 | 0.67 |", summary)
        self.assertIn("| POST /api/token/ (admin credentials) | 50 | 10.00 | - | - |", summary)
        self.assertIn("| Single alert: p99 | < 5 ms | 4 ms | met |", summary)
        self.assertIn("Problems: none.", summary)

    def test_the_summary_says_which_ceilings_a_run_lacks_and_shows_cold_starts(self):
        found = [f for f in facts() if f.get("scenario") != "alert_by_id" or f["kind"] != "pgbench"]
        summary = report.md_summary(report.build_document(found), "latest.md")
        self.assertIn("(not measured in this run for: GET /api/alerts/{id}/, random ids (analyst))", summary)
        self.assertIn("| alerts | 25.00 | 16.0 |", summary)
        full = report.md_summary(report.build_document(facts()), "latest.md")
        self.assertNotIn("not measured", full)

    def test_update_docs_writes_the_figures_of_a_results_document(self):
        doc = report.build_document(facts())
        with tempfile.TemporaryDirectory() as tmp:
            os.makedirs(os.path.join(tmp, "docs"))
            docs = os.path.join(tmp, "docs", "performance.md")
            with open(docs, "w", encoding="utf-8") as f:
                f.write(self.PAGE)
            results = os.path.join(tmp, "bench", "results", "latest.json")
            os.makedirs(os.path.dirname(results))
            with open(results, "w", encoding="utf-8") as f:
                json.dump(doc, f)
            with self.assertRaises(SystemExit) as exit_:
                report.main(["--docs", docs, "--from-json", results])
            self.assertEqual(exit_.exception.code, 0)
            with open(docs, encoding="utf-8") as f:
                page = f.read()
        self.assertTrue(page.startswith("# Performance\n\nProse.\n\n" + report.DOCS_BEGIN))
        self.assertTrue(page.endswith(report.DOCS_END + "\n\nMore prose.\n"))
        self.assertIn("(../bench/results/latest.md)", page)
        self.assertNotIn("old figures", page)

    def test_the_committed_results_render_into_the_docs(self):
        with open(os.path.join(helpers.TESTS, "..", "results", "latest.json"), encoding="utf-8") as f:
            doc = json.load(f)
        summary = report.md_summary(doc, "../bench/results/latest.md")
        self.assertIn("Alert list (first page): throughput", summary)


class ProblemsTest(unittest.TestCase):
    def test_errors_missing_results_and_lost_rows_are_problems(self):
        doc = report.build_document(facts(
            alerts_first_page=wrk_result(non_2xx=3),
            alert_by_id=wrk_result(socket_errors=2),
            events_window=None,
            ingest=wrk_result(responses_2xx=2000),  # only 1003 rows were added
        ) + [{"kind": "problem", "message": "the server died"}])
        text = "\n".join(doc["problems"])
        self.assertIn("the server died", text)
        self.assertIn("alerts_first_page at 1,000,000 events: 3 answers", text)
        self.assertIn("alert_by_id at 1,000,000 events: 2 socket errors", text)
        self.assertIn("events_window at 1,000,000 events: wrk gave no result", text)
        self.assertIn("2000 events acknowledged but only 1003 rows added", text)

    def test_failed_cold_starts_are_problems(self):
        found = facts()
        cold = next(f for f in found if f["kind"] == "cold_start")["result"]["functions"]["alerts"]
        cold.update(ok=8, errors=["statusCode 500: ..."])
        self.assertIn("cold start alerts: 2 of 10 failed", report.build_document(found)["problems"][0])


class RenderTest(unittest.TestCase):
    def test_a_full_run_and_a_skipped_cold_start_render(self):
        with tempfile.TemporaryDirectory() as tmp:
            facts_path = os.path.join(tmp, "facts.jsonl")
            found = [f for f in facts() if f["kind"] != "cold_start"] + [{"kind": "cold_start",
                                                                        "skipped": "no bootstrap"}]
            with open(facts_path, "w", encoding="utf-8") as f:
                f.writelines(json.dumps(x) + "\n" for x in found)
            out_json, out_md = os.path.join(tmp, "r.json"), os.path.join(tmp, "r.md")
            with self.assertRaises(SystemExit) as exit_, contextlib.redirect_stdout(io.StringIO()):
                report.main(["--facts", facts_path, "--json", out_json, "--md", out_md])
            self.assertEqual(exit_.exception.code, 0)
            with open(out_md, encoding="utf-8") as f:
                page = f.read()
            self.assertIn("## Targets", page)
            self.assertIn("Skipped: no bootstrap", page)
            self.assertIn("argon2id m=19456 KiB, t=2, p=1", page)
            with open(out_json, encoding="utf-8") as f:
                self.assertEqual(json.load(f)["problems"], [])


class ExitStatusTest(unittest.TestCase):
    def run_report(self, *flags):
        with tempfile.TemporaryDirectory() as tmp:
            facts_path = os.path.join(tmp, "facts.jsonl")
            with open(facts_path, "w", encoding="utf-8") as f:
                f.writelines(json.dumps(x) + "\n" for x in facts(alert_by_id=wrk_result(socket_errors=1)))
            args = ["--facts", facts_path, "--json", os.path.join(tmp, "r.json"),
                    "--md", os.path.join(tmp, "r.md"), *flags]
            with self.assertRaises(SystemExit) as exit_, contextlib.redirect_stdout(io.StringIO()), \
                    contextlib.redirect_stderr(io.StringIO()):
                report.main(args)
            return exit_.exception.code

    def test_problems_fail_a_smoke_run_only(self):
        self.assertEqual(self.run_report("--fail-on-problems"), 1)
        self.assertEqual(self.run_report(), 0)


class HelpersTest(unittest.TestCase):
    def test_facts_are_appended_one_a_line_and_read_back(self):
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "facts.jsonl")
            report.append_fact(path, {"kind": "run", "sizes": [1, 2]})
            report.append_fact(path, {"kind": "problem", "message": "a\nb"})
            self.assertEqual(report.read_facts(path), [{"kind": "run", "sizes": [1, 2]},
                                                       {"kind": "problem", "message": "a\nb"}])
            with self.assertRaises(ValueError):
                report.append_fact(path, {"size": 1})

    def test_database_urls(self):
        url = "postgres://u:p%40ss@127.0.0.1:5432/threatmon?sslmode=disable"
        self.assertEqual(dburl.with_database(url, "tm_bench"),
                         "postgres://u:p%40ss@127.0.0.1:5432/tm_bench?sslmode=disable")
        self.assertEqual(dburl.database_of(url), "threatmon")


if __name__ == "__main__":
    unittest.main()
