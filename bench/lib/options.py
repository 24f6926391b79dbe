"""bench/run's command line and environment."""

import re
from dataclasses import dataclass

USAGE = """\
Usage: bench/run [options]
  --smoke            seconds-long run on a tiny data set (CI); writes bench/results/smoke.*
                     and exits non-zero on socket errors, non-2xx answers or a dead server
  --no-build         use the binaries as they are (no cargo build, no scripts/lambda-build)
  --sizes LIST       data-set sizes in events, ascending (default 100000,1000000; smoke 2000)
  --duration SECS    wrk and pgbench run time per scenario (default 10; smoke 2)
  --connections N    wrk connections and pgbench clients (default 32)
  --threads N        wrk and pgbench threads (default 2)
  --cold-starts N    starts per Lambda function (default 10; smoke 3)
Environment:
  TMCTL              the tmctl binary (default target/release/tmctl, built unless --no-build);
                     `tmctl statements` gives the SQL that pgbench and EXPLAIN run
  DATABASE_URL       the PostgreSQL server to use (default 127.0.0.1:5432 if it answers,
                     else `tmctl db start`); a database BENCH_DB is (re)created on it
  BENCH_DB           that database's name (default tm_bench)
  BOOTSTRAP_TEMPLATE Lambda bootstrap paths (default target/lambda/{fn}/bootstrap)
  DB_MAX_CONNECTIONS, RUST_LOG, ...  passed on to `tmctl serve`
"""

DEFAULTS = {
    "full": {"sizes": "100000,1000000", "duration": "10", "cold_starts": "10"},
    "smoke": {"sizes": "2000", "duration": "2", "cold_starts": "3"},
}
VALUED = {"--sizes": "sizes", "--duration": "duration", "--connections": "connections",
          "--threads": "threads", "--cold-starts": "cold_starts"}
WHOLE_NUMBER = re.compile(r"[1-9][0-9]*")


class OptionError(Exception):
    """A command line or environment bench/run cannot run with."""


class HelpRequested(Exception):
    pass


@dataclass(frozen=True)
class Options:
    mode: str  # "full" or "smoke"
    build: bool
    sizes: tuple
    duration: int
    connections: int
    threads: int
    cold_starts: int
    bench_db: str
    arguments: str  # the command line as given, for the results

    @property
    def smoke(self):
        return self.mode == "smoke"

    @property
    def result_name(self):
        return "smoke" if self.smoke else "latest"

    @property
    def plans_dir(self):
        return "bench/results/" + ("smoke-plans" if self.smoke else "plans")


def parse(argv, environ=None):
    """Options from the arguments and BENCH_DB; OptionError if they make no
    sense, HelpRequested for -h/--help."""
    environ = {} if environ is None else environ
    mode, build, given = "full", True, {}
    args = list(argv)
    while args:
        arg = args.pop(0)
        if arg == "--smoke":
            mode = "smoke"
        elif arg == "--no-build":
            build = False
        elif arg in VALUED:
            if not args or args[0] == "":
                raise OptionError(f"{arg} needs a value")
            given[VALUED[arg]] = args.pop(0)
        elif arg in ("-h", "--help"):
            raise HelpRequested()
        else:
            raise OptionError(f"unknown option {arg} (see --help)")
    values = dict(DEFAULTS[mode], connections="32", threads="2")
    values.update(given)

    if not re.fullmatch(r"[0-9]+(,[0-9]+)*", values["sizes"]):
        raise OptionError("--sizes takes numbers separated by commas")
    for key in ("duration", "connections", "threads", "cold_starts"):
        if not WHOLE_NUMBER.fullmatch(values[key]):
            raise OptionError(f"expected a positive whole number, got '{values[key]}'")
    numbers = {key: int(values[key]) for key in ("duration", "connections", "threads", "cold_starts")}
    if numbers["threads"] > numbers["connections"]:
        raise OptionError("--threads must not exceed --connections")
    sizes = tuple(int(s) for s in values["sizes"].split(","))
    previous = 0
    for size in sizes:
        if size <= previous:
            raise OptionError("--sizes must be ascending and positive")
        previous = size
    bench_db = environ.get("BENCH_DB") or "tm_bench"
    if not re.fullmatch(r"[a-z_][a-z0-9_]*", bench_db):
        raise OptionError("BENCH_DB must be a plain lower-case identifier")
    return Options(mode=mode, build=build, sizes=sizes, bench_db=bench_db,
                   arguments=" ".join(argv), **numbers)
