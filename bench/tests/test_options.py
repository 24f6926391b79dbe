"""options.py: bench/run's command line, defaults per mode, and what it refuses."""

import unittest

import helpers  # noqa: F401  (import path)
import options
from options import OptionError


class OptionsTest(unittest.TestCase):
    def test_full_run_defaults(self):
        o = options.parse([])
        self.assertEqual((o.mode, o.build, o.sizes, o.duration, o.connections, o.threads, o.cold_starts),
                         ("full", True, (100_000, 1_000_000), 10, 32, 2, 10))
        self.assertEqual((o.result_name, o.plans_dir, o.bench_db), ("latest", "bench/results/plans", "tm_bench"))

    def test_smoke_defaults_and_what_overrides_them(self):
        o = options.parse(["--smoke", "--no-build"])
        self.assertEqual((o.mode, o.build, o.sizes, o.duration, o.cold_starts), ("smoke", False, (2000,), 2, 3))
        self.assertEqual((o.result_name, o.plans_dir), ("smoke", "bench/results/smoke-plans"))
        o = options.parse(["--sizes", "10,20", "--smoke", "--duration", "5", "--connections", "8",
                           "--threads", "4", "--cold-starts", "1"])
        self.assertEqual((o.sizes, o.duration, o.connections, o.threads, o.cold_starts), ((10, 20), 5, 8, 4, 1))
        self.assertEqual(o.arguments, "--sizes 10,20 --smoke --duration 5 --connections 8 --threads 4 "
                                      "--cold-starts 1")

    def test_bench_db_comes_from_the_environment(self):
        self.assertEqual(options.parse([], {"BENCH_DB": "other_db"}).bench_db, "other_db")
        self.assertEqual(options.parse([], {"BENCH_DB": ""}).bench_db, "tm_bench")

    def test_what_is_refused(self):
        for argv, environ, message in [
            (["--fast"], {}, "unknown option --fast"),
            (["--sizes"], {}, "--sizes needs a value"),
            (["--duration", ""], {}, "--duration needs a value"),
            (["--sizes", "1e6"], {}, "numbers separated by commas"),
            (["--sizes", "1000,,2000"], {}, "numbers separated by commas"),
            (["--sizes", "2000,1000"], {}, "ascending and positive"),
            (["--sizes", "0"], {}, "ascending and positive"),
            (["--duration", "0"], {}, "positive whole number, got '0'"),
            (["--connections", "-1"], {}, "positive whole number"),
            (["--cold-starts", "2.5"], {}, "positive whole number"),
            (["--connections", "2", "--threads", "3"], {}, "must not exceed --connections"),
            ([], {"BENCH_DB": "tm-bench"}, "plain lower-case identifier"),
            ([], {"BENCH_DB": "x; DROP"}, "plain lower-case identifier"),
        ]:
            with self.subTest(argv=argv, environ=environ), self.assertRaisesRegex(OptionError, message):
                options.parse(argv, environ)

    def test_help(self):
        for flag in ("-h", "--help"):
            with self.assertRaises(options.HelpRequested):
                options.parse(["--smoke", flag, "--fast"])
        for option in ("--smoke", "--no-build", "--sizes", "--duration", "--connections", "--threads",
                       "--cold-starts", "TMCTL", "DATABASE_URL", "BENCH_DB", "BOOTSTRAP_TEMPLATE"):
            self.assertIn(option, options.USAGE)


if __name__ == "__main__":
    unittest.main()
