"""report.py: targets judged only where their conditions hold, problems
found, and a page rendered from a run's facts; plus the small helpers."""

import contextlib
import io
import json
import os
import tempfile
import unittest

import helpers  # noqa: F401  (import path)
import dburl
import record
import report


def wrk_result(rps=5000.0, p99=10.0, non_2xx=0, socket_errors=0, responses_2xx=None, requests=1000):
    return {"requests": requests, "duration_s": 10.0, "rps": rps, "p50_ms": 1.0, "p90_ms": 2.0,
            "p99_ms": p99, "max_ms": 30.0, "non_2xx": non_2xx, "socket_errors": socket_errors,
            "timeouts": 0, "responses_2xx": responses_2xx}


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
        {"kind": "pgbench", "size": size, "tps": 3000.0, "latency_ms": 10.0, "clients": 32},
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
        cold = found[5]["result"]["functions"]["alerts"]
        cold.update(ok=8, errors=["statusCode 500: ..."])
        self.assertIn("cold start alerts: 2 of 10 failed", report.build_document(found)["problems"][0])


class RenderTest(unittest.TestCase):
    def test_a_full_run_and_a_skipped_cold_start_render(self):
        with tempfile.TemporaryDirectory() as tmp:
            facts_path = os.path.join(tmp, "facts.jsonl")
            found = facts()[:5] + facts()[6:] + [{"kind": "cold_start", "skipped": "no bootstrap"}]
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
    def test_record_fields(self):
        self.assertEqual(record.parse_field("a=b=c"), ("a", "b=c"))
        self.assertEqual(record.parse_field("n:=3.5"), ("n", 3.5))
        self.assertEqual(record.parse_field("n:="), ("n", None))
        self.assertEqual(record.parse_field('o:={"x": [1]}'), ("o", {"x": [1]}))

    def test_database_urls(self):
        url = "postgres://u:p%40ss@127.0.0.1:5432/threatmon?sslmode=disable"
        self.assertEqual(dburl.with_database(url, "tm_bench"),
                         "postgres://u:p%40ss@127.0.0.1:5432/tm_bench?sslmode=disable")
        self.assertEqual(dburl.database_of(url), "threatmon")


if __name__ == "__main__":
    unittest.main()
