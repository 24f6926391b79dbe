"""bench/run: benchmarks the API on this machine.

Loads a synthetic data set with SQL, drives `tmctl serve` with wrk, measures
the database's own ceilings with pgbench running the server's statements
for one request, the signed-in user's check included (from `tmctl
statements`: ingest, the triage list's first page, the single alert),
captures the plans of those statements and times Lambda cold
starts. Writes bench/results/latest.{md,json} (smoke.{md,json} with
--smoke), and on a full run the latest figures' section of
docs/performance.md. Every raw output is kept in bench/.work/.

Exit status: 1 when the run cannot be made (bad options, no binary, no
database, a setup step failing) or the server died; a smoke run also when
any problem was found; 130/143 when interrupted; else 0. Missed targets
never fail a run.
"""

import base64
import json
import os
import re
import secrets
import shutil
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from urllib.parse import urlsplit

import batches
import coldstart
import dburl
import explain
import machine
import net
import options
import pgbench
import report
import statements
from server import Server

ROOT = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
WORK = "bench/.work"  # raw outputs and logs of the last run, kept for a look afterwards
FACTS = f"{WORK}/facts.jsonl"
DOCS = "docs/performance.md"
PAGE_SIZE = 20  # the API's default page size (shared/src/http/pagination.rs)
ALERT_FILTER = "severity=High&status=Open"
WRK_TIMEOUT = "10s"  # above the server's own 8 s request timeout: slow answers count as latency
DEFAULT_BOOTSTRAP_TEMPLATE = "target/lambda/{fn}/bootstrap"
ARGON2_SOURCE = "shared/src/auth/password.rs"
# The event pgbench's ingest ceiling inserts, every transaction the same
# (pgbench's \set makes only numbers); wrk's vary source, type and text.
INGEST_EVENT = {"source": "sensor-001", "event_type": "intrusion", "severity": "High",
                "description": "pgbench ingest: suspicious traffic burst"}
# Batch ingest: 4 clients (wrk connections, pgbench clients), each sending
# batches of 1,000 from these many distinct ones (bench/lib/batches.py).
BATCH_CLIENTS = 4
BATCH_COUNT = 16
BATCH_DIR = f"{WORK}/batches"


class Failure(Exception):
    """The run cannot go on: logged, exit status 1, no results written."""


class Aborted(Exception):
    """The run stopped early after writing what it had measured."""


class Terminated(BaseException):
    """SIGTERM; a BaseException so that no `except Exception` swallows it."""


def log(message):
    print(f"bench: {message}", file=sys.stderr, flush=True)


def wrk_result(output):
    """The JSON of the last "BENCH_RESULT {...}" line wrk's done() printed, or None."""
    found = None
    for line in output.splitlines():
        if line.startswith("BENCH_RESULT "):
            found = line[len("BENCH_RESULT "):]
    if found is None:
        return None
    try:
        return json.loads(found)
    except json.JSONDecodeError:
        return None


def argon2_parameters(source_text):
    def constant(name):
        found = re.search(rf"^pub const {name}: u32 = ([0-9_]+);", source_text, re.MULTILINE)
        return int(found.group(1).replace("_", "")) if found else None

    return {"memory_kib": constant("MEMORY_KIB"), "iterations": constant("ITERATIONS"),
            "parallelism": constant("PARALLELISM")}


def with_query(url, **parameters):
    """url with query parameters added (after any it has)."""
    separator = "&" if urlsplit(url).query else "?"
    return url + separator + "&".join(f"{k}={v}" for k, v in parameters.items())


def statement_source(kind, argument, user=None, session=None):
    quoted = f"'{argument}'" if any(c in str(argument) for c in "&?{ ") else str(argument)
    return (f"tmctl statements {kind} {quoted}" + (f" --user {user}" if user is not None else "")
            + (f" --session {session}" if session is not None else ""))


def token_session(token):
    """The sign-in session an access token names (its `sid` claim)."""
    payload = token.split(".")[1]
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    return claims["sid"]


@dataclass
class Measurement:
    result: dict  # wrk's figures; None if wrk gave none
    peak_rss_kb: int
    rss_reset: bool


class Bench:
    def __init__(self, opts, environ):
        self.opts, self.environ = opts, dict(environ)
        self.tmctl = self.environ.get("TMCTL") or ""
        self.server = None
        self.size = None
        self.statements = {}  # those every size reuses, by use
        self.admin_id = self.analyst_id = None  # the bench users' ids, once they exist
        self.deep_page = None  # the middle page of the filtered alerts, at the latest size
        self.alert_ids = None  # (lowest, highest) alert id, at the latest size
        self.window = None  # the events window's (since, until), the same at every size
        self.cursor = None  # the middle cursor of the triage list, at the latest size
        self.stats_queries = {}  # the stats scenarios' query strings, at the latest size

    # ------------------------------------------------------------- helpers

    def record(self, kind, **fields):
        report.append_fact(FACTS, {"kind": kind, **fields})

    def problem(self, message):
        log(f"problem: {message}")
        self.record("problem", message=message)

    def abort(self, message):
        """Stops the run early, keeping what was measured so far."""
        self.problem(message)
        try:
            self.write_report()
        except Exception as e:  # the report of a broken run must not hide why it broke
            log(f"writing the report failed too: {e}")
        raise Aborted()

    def sql(self, statement, url=None):
        """One SQL statement against the bench database; unaligned, no
        headers, fields separated by spaces."""
        done = subprocess.run(["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-At", "-F", " ",
                               url or self.bench_url, "-c", statement],
                              capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise Failure(f"psql failed on {statement!r}: {done.stderr.strip()}")
        return done.stdout.strip()

    def sql_ints(self, statement):
        return [int(v) for v in self.sql(statement).split()]

    def tmctl_run(self, args, stdin=None, env=None):
        """tmctl with its output appended to tmctl.log; whether it succeeded."""
        with open(f"{WORK}/tmctl.log", "ab") as out:
            done = subprocess.run([self.tmctl, *args], input=stdin, stdout=out, stderr=subprocess.STDOUT,
                                  env=dict(self.environ, **(env or {})), check=False)
        return done.returncode == 0

    def fetch_statements(self, kind, argument, user=None, session=None):
        try:
            return statements.fetch(self.tmctl, kind, argument, user=user, session=session)
        except statements.StatementsError as e:
            raise Failure(str(e)) from None

    # -------------------------------------------------------------- setup

    def build_binaries(self):
        if not self.opts.build:
            return
        try:
            if not self.tmctl:
                log("building tmctl (release)")
                subprocess.run(["cargo", "build", "--release", "-p", "tmctl"], check=True)
            # The Lambda builds take minutes; smoke runs use whatever bootstraps exist.
            if not self.opts.smoke:
                log("building the Lambda bootstraps")
                subprocess.run(["scripts/lambda-build"], check=True)
        except (OSError, subprocess.CalledProcessError) as e:
            raise Failure(f"build failed: {e}") from None

    def check_tmctl(self):
        self.tmctl = self.tmctl or "target/release/tmctl"
        if not (os.path.isfile(self.tmctl) and os.access(self.tmctl, os.X_OK)):
            raise Failure(f"no {self.tmctl}: build it (cargo build --release -p tmctl) "
                          "or run without --no-build")

    def load_statements(self):
        """Asks tmctl for statements once up front, so that a tmctl without
        `statements` (or without its --user or --session) stops the run
        before any work.
        Any user id does here (tmctl needs no database); those the ceilings
        run are asked for once the bench users exist (load_ceiling_statements)."""
        first_page = self.fetch_statements("alerts-list", ALERT_FILTER, user=1, session=1)
        self.fetch_statements("events-create", json.dumps(INGEST_EVENT), user=1, session=1)
        try:
            statements.by_name(first_page, "list")
        except statements.StatementsError as e:
            raise Failure(f"tmctl statements alerts-list: {e}") from None

    def user_id(self, username):
        found = self.sql_ints(f"SELECT id FROM users WHERE username = {statements.sql_literal(username)}")
        if len(found) != 1:
            raise Failure(f"no user {username} in {self.opts.bench_db}")
        return found[0]

    def load_ceiling_statements(self):
        """The statements every size reuses, for the requests as wrk makes
        them: each starts with the signed-in user's check, whose parameters
        are the ids of the user wrk signs in as (the analyst for the reads,
        the admin for ingest) and of the session its token names."""
        self.admin_id, self.analyst_id = self.user_id(self.admin_user), self.user_id(self.analyst_user)
        self.admin_session = token_session(self.admin_token)
        self.analyst_session = token_session(self.analyst_token)
        self.statements["first_page"] = self.fetch_statements("alerts-list", ALERT_FILTER, user=self.analyst_id,
                                                              session=self.analyst_session)
        self.statements["ingest"] = self.fetch_statements("events-create", json.dumps(INGEST_EVENT),
                                                          user=self.admin_id, session=self.admin_session)
        paths = batches.write(BATCH_DIR, BATCH_COUNT)
        self.statements["ingest_batch"] = [self.fetch_statements("events-batch", path, user=self.admin_id,
                                                                 session=self.admin_session)
                                           for path in paths]

    def ensure_tools(self):
        packages = [] if shutil.which("wrk") else ["wrk"]
        if not (shutil.which("psql") and shutil.which("pgbench")):
            packages.append("postgresql-client")
        if not packages:
            return
        sudo = [] if os.geteuid() == 0 else ["sudo"]
        log(f"installing {' '.join(packages)}")
        try:
            subprocess.run([*sudo, "apt-get", "update", "-qq"], check=True)
            subprocess.run([*sudo, "env", "DEBIAN_FRONTEND=noninteractive", "apt-get", "install", "-y", "-qq",
                            *packages], check=True, stdout=subprocess.DEVNULL)
        except (OSError, subprocess.CalledProcessError) as e:
            raise Failure(f"installing {' '.join(packages)} failed: {e}") from None

    def choose_database_server(self):
        """server_url (where the server is), admin_url (a database to run
        CREATE DATABASE from) and bench_url (the bench database)."""
        done = subprocess.run(["scripts/pg-server"], env=dict(self.environ, TMCTL=self.tmctl),
                              stdout=subprocess.PIPE, text=True, check=False)
        if done.returncode != 0 or not done.stdout.strip():
            raise Failure("no PostgreSQL server to use")
        self.server_url = done.stdout.strip().splitlines()[-1]
        # A database cannot be dropped from a connection to itself.
        if dburl.database_of(self.server_url) == self.opts.bench_db:
            self.admin_url = dburl.with_database(self.server_url, "postgres")
        else:
            self.admin_url = self.server_url
        self.bench_url = dburl.with_database(self.server_url, self.opts.bench_db)

    def create_bench_database(self):
        db = self.opts.bench_db
        log(f"creating database {db} (dropping any previous one)")
        done = subprocess.run(["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", self.admin_url,
                               "-c", "SET client_min_messages = warning",
                               "-c", f"DROP DATABASE IF EXISTS {db} WITH (FORCE)",
                               "-c", f"CREATE DATABASE {db}"], stdout=subprocess.DEVNULL, check=False)
        if done.returncode != 0:
            raise Failure(f"could not create {db}")
        if not self.tmctl_run(["migrate"], env={"DATABASE_URL": self.bench_url}):
            raise Failure(f"tmctl migrate failed (see {WORK}/tmctl.log)")

    def create_users(self):
        """Throwaway users with random passwords; hex, so they need no JSON escaping."""
        self.admin_user, self.analyst_user = "bench-admin", "bench-analyst"
        self.admin_password, self.analyst_password = secrets.token_hex(16), secrets.token_hex(16)
        for user, role, password in ((self.admin_user, "admin", self.admin_password),
                                     (self.analyst_user, "analyst", self.analyst_password)):
            # tmctl reads the password from stdin, so it stays off the command line.
            if not self.tmctl_run(["user", "create", "--username", user, "--role", role],
                                  stdin=(password + "\n").encode(), env={"DATABASE_URL": self.bench_url}):
                raise Failure(f"tmctl user create failed (see {WORK}/tmctl.log)")

    def record_run(self):
        info = machine.describe(self.tmctl, self.bench_url)
        with open(f"{WORK}/machine.json", "w", encoding="utf-8") as f:
            json.dump(info, f)
        self.record("machine", info=info)
        o = self.opts
        self.record("run", mode=o.mode, arguments=o.arguments, sizes=list(o.sizes), duration_s=o.duration,
                    connections=o.connections, threads=o.threads, tmctl=self.tmctl,
                    pool_size=self.environ.get("DB_MAX_CONNECTIONS") or "10 (tmctl serve default)",
                    wrk_timeout=WRK_TIMEOUT)

    def record_argon2(self):
        with open(ARGON2_SOURCE, encoding="utf-8") as f:
            parameters = argon2_parameters(f.read())
        self.record("argon2", **parameters, hashing_slots=len(os.sched_getaffinity(0)), source=ARGON2_SOURCE)

    # --------------------------------------------------------------- server

    def start_server(self, binary=None, log_name="server.log"):
        """Long-lived tokens so none expires mid-run, and a sign-in limit no
        run can reach: the token scenario signs in thousands of times, 32 at
        once, and each attempt counts before its password is checked."""
        binary = binary or self.tmctl
        port = net.free_port()
        self.api = f"http://127.0.0.1:{port}"
        log(f"starting {binary} serve on 127.0.0.1:{port}")
        env = dict(self.environ, DATABASE_URL=self.bench_url, JWT_SECRET=self.jwt_secret,
                   ACCESS_TOKEN_LIFETIME="86400", LOGIN_MAX_FAILURES="1000000",
                   LOGIN_MAX_FAILURES_PER_ADDRESS="1000000")
        self.server = Server([binary, "serve", "--bind", f"127.0.0.1:{port}"], env, f"{WORK}/{log_name}")
        self.server.start()
        try:
            net.wait(f"{self.api}/api/alerts/", self.server.alive, 60)
        except net.NetError:
            raise Failure(f"the server did not come up (see {WORK}/server.log)") from None

    def stop_server(self):
        if self.server:
            self.server.stop()
            self.server = None

    def sign_in_for_cold_starts(self):
        """A refresh token for each token cold start (two runs of them: with
        TLS and without), each of its own session."""
        try:
            self.cold_start_refresh = [
                net.login(f"{self.api}/api/token/", self.admin_user, self.admin_password)[1]
                for _ in range(2 * max(self.opts.cold_starts, 1))]
        except net.NetError as e:
            raise Failure(f"sign-in for the cold starts failed: {e}") from None

    def sign_in_users(self):
        try:
            self.admin_token, _ = net.login(
                f"{self.api}/api/token/", self.admin_user, self.admin_password)
            self.analyst_token, _ = net.login(f"{self.api}/api/token/", self.analyst_user, self.analyst_password)
        except net.NetError as e:
            raise Failure(f"sign-in failed: {e}") from None

    # ----------------------------------------------------------------- data

    def load_events(self, size, count):
        """Adds count events, bringing the data set to size."""
        log(f"loading {count} events (data set of {size})")
        t0 = time.perf_counter()
        done = subprocess.run(["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "--single-transaction",
                               "-v", f"count={count}", "-f", "bench/sql/load.sql", self.bench_url],
                              stdout=subprocess.DEVNULL, check=False)
        if done.returncode != 0:
            raise Failure("loading events failed")
        t1 = time.perf_counter()
        done = subprocess.run(["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-c", "VACUUM ANALYZE",
                               self.bench_url], check=False)
        if done.returncode != 0:
            raise Failure("VACUUM ANALYZE failed")
        t2 = time.perf_counter()
        self.record("dataset", size=size, added=count, insert_s=round(t1 - t0, 3), vacuum_s=round(t2 - t1, 3),
                    events=self.sql_ints("SELECT count(*) FROM events")[0],
                    alerts=self.sql_ints("SELECT count(*) FROM alerts")[0])

    # ------------------------------------------------------------ scenarios

    def measure(self, name, script, path, connections=None, **env):
        """One wrk run of bench/wrk/SCRIPT against PATH with env's variables
        in its environment (tokens stay off the command line), at the run's
        concurrency unless `connections` is given."""
        out = f"{WORK}/wrk-{self.size}-{name}.txt"
        log(f"{self.size} events: {name}")
        if not self.server.alive():
            self.abort(f"the server died before {name} at {self.size} events (see {WORK}/server.log)")
        rss_reset = self.server.reset_peak_rss()
        o = self.opts
        connections = connections or o.connections
        threads = min(o.threads, connections)
        command = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{o.duration}s", "--timeout", WRK_TIMEOUT,
                   "-s", f"bench/wrk/{script}", self.api + path]
        with open(out, "w", encoding="utf-8") as f:
            try:
                subprocess.run(command, stdout=f, stderr=subprocess.STDOUT, env=dict(self.environ, **env),
                               timeout=o.duration * 3 + 60, check=False)
            except subprocess.TimeoutExpired:
                f.write("\nbench: wrk did not finish in time and was killed\n")
        rss = self.server.peak_rss_kb()
        with open(out, encoding="utf-8", errors="replace") as f:
            result = wrk_result(f.read())
        if result is None:
            log(f"wrk gave no result for {name} (see {out})")
        if not self.server.alive():
            self.abort(f"the server died during {name} at {self.size} events (see {WORK}/server.log)")
        return Measurement(result, rss, rss_reset)

    def record_scenario(self, name, path, m, **fields):
        self.record("api", size=self.size, scenario=name, path=path, result=m.result,
                    peak_rss_kb=m.peak_rss_kb, rss_reset=m.rss_reset, **fields)

    def list_count(self, token, path):
        """`count` of a list endpoint, as the given token sees it."""
        try:
            return int(net.field(self.api + path, "count", token=token))
        except (net.NetError, TypeError, ValueError) as e:
            raise Failure(f"could not count {path}: {e}") from None

    def scenario_alerts_first_page(self):
        path = f"/api/alerts/?{ALERT_FILTER}"
        self.record_scenario("alerts_first_page", path,
                             self.measure("alerts_first_page", "get.lua", path, BENCH_TOKEN=self.analyst_token))

    def scenario_alerts_deep_page(self):
        """The middle page of the filtered list: OFFSET makes PostgreSQL walk
        past every earlier row, so this is where a deep page costs most."""
        matching = self.list_count(self.analyst_token, f"/api/alerts/?{ALERT_FILTER}")
        pages = (matching + PAGE_SIZE - 1) // PAGE_SIZE
        self.deep_page = max(1, (pages + 1) // 2)
        path = f"/api/alerts/?{ALERT_FILTER}&page={self.deep_page}"
        m = self.measure("alerts_deep_page", "get.lua", path, BENCH_TOKEN=self.analyst_token)
        self.record_scenario("alerts_deep_page", path, m, page=self.deep_page, pages=pages, matching=matching)

    def scenario_alert_by_id(self):
        self.alert_ids = tuple(self.sql_ints("SELECT min(id), max(id) FROM alerts"))
        low, high = self.alert_ids
        m = self.measure("alert_by_id", "get_random_alert.lua", "/api/alerts/", BENCH_TOKEN=self.analyst_token,
                         BENCH_ID_MIN=str(low), BENCH_ID_MAX=str(high))
        self.record_scenario("alert_by_id", f"/api/alerts/{{{low}..{high}}}/", m)

    def scenario_ingest(self):
        """Every 2xx must be a row in the database; a few more rows than 2xx
        are fine: requests in flight when wrk stops still reach the database."""
        counts = "SELECT (SELECT count(*) FROM events), (SELECT count(*) FROM alerts)"
        events_before, alerts_before = self.sql_ints(counts)
        m = self.measure("ingest", "post_event.lua", "/api/events/", BENCH_TOKEN=self.admin_token)
        time.sleep(1)  # let the server finish what wrk left in flight
        events_after, alerts_after = self.sql_ints(counts)
        self.record_scenario("ingest", "/api/events/", m, ingest_check={
            "rows_added": events_after - events_before, "alerts_added": alerts_after - alerts_before})

    def scenario_ingest_baseline(self):
        """The single-event ingest again, served by BASELINE_TMCTL (the code
        before this round's changes) on the same database, just after: the
        target is that today's single ingest is within 10% of it."""
        baseline = self.environ.get("BASELINE_TMCTL")
        if not baseline:
            return
        main_server, main_api = self.server, self.api
        try:
            self.start_server(baseline, log_name="server-baseline.log")
            m = self.measure("ingest_baseline", "post_event.lua", "/api/events/", BENCH_TOKEN=self.admin_token)
            self.record_scenario("ingest_baseline", "/api/events/", m, binary=baseline)
        finally:
            self.stop_server()
            self.server, self.api = main_server, main_api

    def scenario_ingest_batch(self):
        """Batches of 1,000 from 4 clients. Every batch answered 2xx must be
        1,000 rows in the database. The rows are deleted afterwards, so that
        the data set keeps its size for what comes after."""
        counts = "SELECT (SELECT count(*) FROM events), (SELECT count(*) FROM alerts)"
        events_before, alerts_before = self.sql_ints(counts)
        last_event = self.sql_ints("SELECT coalesce(max(id), 0) FROM events")[0]
        m = self.measure("ingest_batch", "post_batch.lua", "/api/events/batch/", connections=BATCH_CLIENTS,
                         BENCH_TOKEN=self.admin_token, BENCH_BATCH_DIR=BATCH_DIR,
                         BENCH_BATCH_COUNT=str(BATCH_COUNT))
        time.sleep(1)
        events_after, alerts_after = self.sql_ints(counts)
        self.record_scenario("ingest_batch", "/api/events/batch/", m, batch_size=batches.BATCH_SIZE,
                             clients=BATCH_CLIENTS, ingest_check={
                                 "rows_added": events_after - events_before,
                                 "alerts_added": alerts_after - alerts_before,
                                 "events_per_answer": batches.BATCH_SIZE})
        first, *others = self.statements["ingest_batch"]
        self.ceiling("ingest_batch", first,
                     statement_source("events-batch", f"{BATCH_DIR}/batch-N.json", self.admin_id, self.admin_session),
                     clients=BATCH_CLIENTS, more=others)
        self.sql(f"DELETE FROM events WHERE id > {int(last_event)}")
        self.sql("VACUUM ANALYZE")

    def scenario_token(self):
        body = json.dumps({"username": self.admin_user, "password": self.admin_password})
        self.record_scenario("token", "/api/token/",
                             self.measure("token", "post_json.lua", "/api/token/", BENCH_BODY=body))

    def middle_cursor(self):
        """A cursor for the middle row of the filtered triage list, minted
        as the server would put it in a `next` link (tmctl cursor, with the
        server's JWT_SECRET): where a walk of the list is halfway."""
        row = self.sql(
            "SELECT to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"'), id "
            "FROM alerts WHERE status = 'Open' AND severity = 'High' ORDER BY created_at DESC, id DESC "
            "OFFSET (SELECT count(*) / 2 FROM alerts WHERE status = 'Open' AND severity = 'High') LIMIT 1")
        if not row:
            raise Failure("no Open High alerts to page through")
        at, alert_id = row.split()
        done = subprocess.run([self.tmctl, "cursor", "--path", "/api/alerts/", "--at", at, "--id", alert_id],
                              capture_output=True, text=True, env=dict(self.environ, JWT_SECRET=self.jwt_secret),
                              check=False)
        if done.returncode != 0:
            raise Failure(f"tmctl cursor failed: {done.stderr.strip()}")
        return done.stdout.strip()

    def scenario_alerts_cursor(self):
        """The triage list by cursor: its first page, and a page from the
        middle of the list (which by number is the costliest page)."""
        first = f"/api/alerts/?{ALERT_FILTER}&cursor="
        self.record_scenario("alerts_cursor_first", first,
                             self.measure("alerts_cursor_first", "get.lua", first, BENCH_TOKEN=self.analyst_token))
        self.cursor = self.middle_cursor()
        deep = f"/api/alerts/?{ALERT_FILTER}&cursor={self.cursor}"
        self.record_scenario("alerts_cursor_deep", deep,
                             self.measure("alerts_cursor_deep", "get.lua", deep, BENCH_TOKEN=self.analyst_token))

    def stats_query(self, days):
        """The stats' window of the last `days` days, as a query string."""
        since = self.sql(f"SELECT to_char((now() - interval '{int(days)} days') AT TIME ZONE 'UTC', "
                         "'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')")
        return f"since={since}"

    def scenario_stats(self):
        """The stats on the default window (the last 7 days) and on 30."""
        for name, query in (("stats_7d", ""), ("stats_30d", self.stats_query(30))):
            path = "/api/alerts/stats/" + (f"?{query}" if query else "")
            self.record_scenario(name, path, self.measure(name, "get.lua", path, BENCH_TOKEN=self.analyst_token))
            self.stats_queries[name] = query

    def scenario_bulk(self):
        """At the largest size: every Open High alert acknowledged by
        repeated calls by filter (at most 10,000 each), timed one by one,
        while wrk reads the triage list. Put back afterwards (statuses and
        assignees by SQL), so that what comes after sees the data set as
        loaded."""
        picked = self.sql_ints("SELECT count(*) FROM alerts WHERE status = 'Open' AND severity = 'High'")[0]
        first_changed = self.sql_ints("SELECT coalesce(max(id), 0) FROM alert_timeline")[0]
        body = {"filter": {"severity": "High", "status": "Open"}, "set": {"status": "Acknowledged"}}
        calls, answers = [], []
        reader = {}

        def read():
            reader["m"] = self.measure("bulk_reader", "get.lua", f"/api/alerts/?{ALERT_FILTER}",
                                       BENCH_TOKEN=self.analyst_token)

        thread = threading.Thread(target=read)
        thread.start()
        time.sleep(1)  # wrk connected and reading before the first call
        t0 = time.perf_counter()
        while len(calls) < 1000:
            started = time.perf_counter()
            try:
                answer = net.request_json(self.api + "/api/alerts/bulk/", body=body, token=self.admin_token)
            except net.NetError as e:
                self.problem(f"bulk call {len(calls) + 1} failed: {e}")
                break
            calls.append(round((time.perf_counter() - started) * 1000, 1))
            answers.append(answer)
            if not answer.get("truncated"):
                break
        total_s = time.perf_counter() - t0
        thread.join()
        updated = sum(a.get("updated", 0) for a in answers)
        ordered = sorted(calls)
        p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] if ordered else None
        m = reader["m"]
        self.record("api", size=self.size, scenario="bulk_reader", path=f"/api/alerts/?{ALERT_FILTER}",
                    result=m.result, peak_rss_kb=m.peak_rss_kb, rss_reset=m.rss_reset,
                    overlap_s=round(total_s, 2))
        self.record("bulk", size=self.size, open_high=picked, updated=updated, calls=len(calls),
                    call_ms=calls, p99_ms=p99, max_ms=ordered[-1] if ordered else None,
                    seconds=round(total_s, 2),
                    alerts_per_s=round(updated / total_s) if total_s > 0 else None,
                    last=answers[-1] if answers else None)
        log(f"{self.size} events: bulk acknowledged {updated} of {picked} in {total_s:.1f} s, "
            f"{len(calls)} calls, p99 {p99} ms")
        # Put the data set back as loaded: statuses, assignees and times.
        self.sql("UPDATE alerts SET status = 'Open', assignee_id = NULL, acknowledged_at = NULL "
                 f"WHERE id IN (SELECT alert_id FROM alert_timeline WHERE id > {int(first_changed)} "
                 "AND kind = 'status_changed')")
        self.sql(f"DELETE FROM alert_timeline WHERE id > {int(first_changed)}")
        self.sql("VACUUM ANALYZE alerts")

    def choose_events_window(self):
        """A window in the middle of the loaded data's 90 days: chosen once,
        so every size is asked for the same window, and well away from the
        rows the ingest scenarios add (stamped now). 5 minutes; 6 hours in a
        smoke run, whose 2,000 events would leave a 5-minute window empty."""
        length = "6 hours" if self.opts.smoke else "5 minutes"
        stamp = """'YYYY-MM-DD"T"HH24:MI:SS"Z"'"""
        self.window = tuple(self.sql(
            f"SELECT to_char(t AT TIME ZONE 'UTC', {stamp}), "
            f"to_char((t + interval '{length}') AT TIME ZONE 'UTC', {stamp}) "
            "FROM (SELECT date_trunc('minute', now() - interval '45 days') AS t) middle").split())

    def window_query(self):
        return f"since={self.window[0]}&until={self.window[1]}"

    def scenario_events_window(self):
        if not self.window:
            self.choose_events_window()
        path = f"/api/events/?{self.window_query()}"
        matching = self.list_count(self.admin_token, path)
        m = self.measure("events_window", "get.lua", path, BENCH_TOKEN=self.admin_token)
        self.record_scenario("events_window", path, m, since=self.window[0], until=self.window[1],
                             matching=matching)

    # ------------------------------------------------------------- ceilings

    def ceiling(self, scenario, found, source, drawn=None, clients=None, more=()):
        """pgbench running the server's statements for one request of
        scenario (all of them, the user's check included), one transaction
        per request, at wrk's concurrency (or `clients`). `more` are the
        statements of further requests of the same kind (other batches):
        each transaction then runs one of them all, picked at random."""
        log(f"{self.size} events: pgbench {scenario} ceiling")
        base = f"{WORK}/pgbench-{self.size}-{scenario}"
        paths, defines = [], {}
        for k, each in enumerate([found, *more]):
            path = base + (".sql" if k == 0 else f"-{k}.sql")
            try:
                script, own = statements.pgbench_script(each, drawn if k == 0 else None,
                                                        prefix="" if k == 0 else f"s{k}_")
            except statements.StatementsError as e:
                self.problem(f"pgbench {scenario}: {e}")
                return
            with open(path, "w", encoding="utf-8") as f:
                f.write(script)
            paths.append(path)
            defines.update(own)
        o = self.opts
        clients = clients or o.connections
        threads = min(o.threads, clients)
        ok, figures = pgbench.run(self.bench_url, paths[0] if len(paths) == 1 else paths, defines, clients,
                                  threads, o.duration, base + ".txt")
        if not ok or figures["tps"] is None:
            self.problem(f"pgbench {scenario} failed at {self.size} events (see {base}.txt)")
            return
        self.record("pgbench", size=self.size, scenario=scenario, **figures, clients=clients,
                    threads=threads, duration_s=o.duration, source=source, script=base + ".sql",
                    statements=[s.as_json() for s in found], drawn=drawn or {})

    def read_ceilings(self):
        self.ceiling("alerts_first_page", self.statements["first_page"],
                     statement_source("alerts-list", ALERT_FILTER, self.analyst_id, self.analyst_session))
        low, high = self.alert_ids
        try:
            get = self.fetch_statements("alerts-get", low, user=self.analyst_id, session=self.analyst_session)
        except Failure as e:
            self.problem(str(e))
            return
        # The alert's id is the "get" statement's one parameter, wherever the
        # statements before it put it among pgbench's variables.
        try:
            if len(statements.by_name(get, "get").params) != 1:
                raise statements.StatementsError(
                    f"expected a get statement with one parameter, got {[s.as_json() for s in get]}")
            alert_id = statements.pgbench_variable(get, "get")
        except statements.StatementsError as e:
            self.problem(f"tmctl statements alerts-get: {e}")
            return
        self.ceiling("alert_by_id", get, statement_source("alerts-get", "ID", self.analyst_id, self.analyst_session),
                     drawn={alert_id: f"random({low}, {high})"})

    def triage_ceilings(self):
        """The cursor pages and the stats, as the reads above."""
        env = {"JWT_SECRET": self.jwt_secret}
        asked = [("alerts_cursor_first", "alerts-list", f"{ALERT_FILTER}&cursor="),
                 ("alerts_cursor_deep", "alerts-list", f"{ALERT_FILTER}&cursor={self.cursor}")]
        asked += [(name, "alerts-stats", query) for name, query in self.stats_queries.items()]
        for scenario, kind, query in asked:
            try:
                found = statements.fetch(self.tmctl, kind, query, user=self.analyst_id, env=env,
                                         session=self.analyst_session)
            except statements.StatementsError as e:
                self.problem(str(e))
                continue
            self.ceiling(scenario, found, statement_source(kind, query, self.analyst_id, self.analyst_session))

    def ingest_ceiling(self):
        self.ceiling("ingest", self.statements["ingest"],
                     statement_source("events-create", json.dumps(INGEST_EVENT), self.admin_id, self.admin_session))

    def run_scenarios(self):
        self.scenario_alerts_first_page()
        self.scenario_alerts_deep_page()
        self.scenario_alert_by_id()
        self.scenario_alerts_cursor()
        self.scenario_stats()
        # Beside the reads they bound, before ingest adds rows to the pages.
        self.read_ceilings()
        self.triage_ceilings()
        self.scenario_ingest()
        self.scenario_ingest_baseline()
        self.scenario_token()
        self.scenario_events_window()
        self.ingest_ceiling()
        if self.size == self.opts.sizes[-1]:
            self.scenario_bulk()
            # Last: it adds (and then deletes) about a million rows.
            self.scenario_ingest_batch()

    # ---------------------------------------------------------------- plans

    def capture_plans(self):
        log(f"{self.size} events: query plans")
        shutil.rmtree(self.opts.plans_dir, ignore_errors=True)
        deep = f"{ALERT_FILTER}&page={self.deep_page}"
        middle_alert = self.sql_ints(
            "SELECT min(id) FROM alerts WHERE id >= (SELECT (min(id) + max(id)) / 2 FROM alerts)")[0]
        try:
            first = self.statements["first_page"]
            deep_found = statements.fetch(self.tmctl, "alerts-list", deep)
            window = statements.fetch(self.tmctl, "events-list", self.window_query())
            get = statements.fetch(self.tmctl, "alerts-get", middle_alert)
            cursor_query = f"{ALERT_FILTER}&cursor={self.cursor}"
            cursor = statements.fetch(self.tmctl, "alerts-list", cursor_query,
                                      env={"JWT_SECRET": self.jwt_secret})
            stats_30d = self.stats_queries.get("stats_30d", "")
            stats = statements.fetch(self.tmctl, "alerts-stats", stats_30d)
            stats_7d = statements.fetch(self.tmctl, "alerts-stats", "")
            # The requests' own statements: the user's check ("auth", a
            # primary-key lookup in a table of two users) has no plan worth keeping.
            queries = [
                ("alerts_list_first_page", statement_source("alerts-list", ALERT_FILTER),
                 statements.by_name(first, "list")),
                ("alerts_list_deep_page", statement_source("alerts-list", deep), statements.by_name(deep_found, "list")),
                ("events_window_list", statement_source("events-list", self.window_query()),
                 statements.by_name(window, "list")),
                ("events_window_count", statement_source("events-list", self.window_query()),
                 statements.by_name(window, "count")),
                ("alert_get", statement_source("alerts-get", middle_alert), statements.by_name(get, "get")),
                ("alerts_cursor_deep", statement_source("alerts-list", cursor_query),
                 statements.by_name(cursor, "list")),
                ("stats_7d", statement_source("alerts-stats", ""),
                 statements.by_name(stats_7d, "stats")),
                ("stats_30d", statement_source("alerts-stats", stats_30d),
                 statements.by_name(stats, "stats")),
            ]
        except statements.StatementsError as e:
            self.problem(f"capturing query plans failed: {e}")
            return
        result = explain.capture(self.bench_url, queries, self.opts.plans_dir)
        with open(f"{WORK}/plans.json", "w", encoding="utf-8") as f:
            json.dump(result, f, indent=1)
        self.record("plans", size=self.size, result=result,
                    events=self.sql_ints("SELECT count(*) FROM events")[0],
                    alerts=self.sql_ints("SELECT count(*) FROM alerts")[0])

    # ---------------------------------------------------------- cold starts

    def cold_starts(self):
        template = self.environ.get("BOOTSTRAP_TEMPLATE") or DEFAULT_BOOTSTRAP_TEMPLATE
        if not any(os.access(template.format(fn=fn), os.X_OK) for fn in ("token", "events", "alerts")):
            log(f"no Lambda bootstraps at {template}: skipping cold starts")
            self.record("cold_start", skipped=f"no bootstrap at {template} (scripts/lambda-build makes them)")
            return
        middle = "SELECT min(id) FROM {0} WHERE id >= (SELECT (min(id) + max(id)) / 2 FROM {0})"
        inputs = {
            "BENCH_ADMIN_TOKEN": self.admin_token,
            "BENCH_ANALYST_TOKEN": self.analyst_token,
            "BENCH_EVENT_ID": self.sql(middle.format("events")), "BENCH_ALERT_ID": self.sql(middle.format("alerts")),
            "BENCH_SIGNIN_USERNAME": self.admin_user, "BENCH_SIGNIN_PASSWORD": self.admin_password,
        }
        # The sign-in scenario's last requests were cut off by wrk after being
        # counted as attempts; clear them so the function's own (default)
        # sign-in limit does not refuse the sign-in cold starts.
        self.sql("DELETE FROM sign_in_throttle")
        # As deployed, the functions reach RDS over TLS (sslmode=require);
        # when the server here has TLS, that is the measured start, and a
        # start without TLS is measured beside it to show what the handshake costs.
        # A refresh token is spent by its use: each start gets its own.
        refresh = iter(self.cold_start_refresh)
        def with_tokens():
            return dict(inputs, BENCH_REFRESH_TOKENS=[next(refresh) for _ in range(self.opts.cold_starts)])
        if self.sql("SHOW ssl") == "on":
            self.cold_start_run("cold_start", "tls", with_query(self.bench_url, sslmode="require"), template,
                                with_tokens())
            self.cold_start_run("cold_start_plain", "plain", with_query(self.bench_url, sslmode="disable"),
                                template, with_tokens())
        else:
            log("this PostgreSQL has no TLS: cold starts without it")
            self.cold_start_run("cold_start", "plain", with_query(self.bench_url, sslmode="disable"), template,
                                with_tokens())

    def cold_start_run(self, kind, label, url, template, inputs):
        log(f"Lambda cold starts, database connection {label} ({self.opts.cold_starts} per function)")
        try:
            result = coldstart.run(template, self.opts.cold_starts, f"{WORK}/lambda-{label}",
                                   {"DATABASE_URL": url, "JWT_SECRET": self.jwt_secret}, inputs)
        except Exception as e:  # a broken driver is a problem to report, not a reason to lose the run
            self.problem(f"the cold-start driver failed ({label}): {e}")
            return
        with open(f"{WORK}/coldstart-{label}.json", "w", encoding="utf-8") as f:
            json.dump(result, f, indent=1)
        self.record(kind, connection=label, result=result)

    # -------------------------------------------------------------- results

    def write_report(self):
        """Smoke runs fail on any problem (that is how CI notices rot); full
        runs report problems beside the figures, as errors under load are
        results too. Returns the exit status."""
        out = f"bench/results/{self.opts.result_name}"
        os.makedirs("bench/results", exist_ok=True)
        doc = report.build_document(report.read_facts(FACTS))
        report.write(doc, out + ".json", out + ".md")
        report.print_summary(doc)
        if not self.opts.smoke:
            try:
                report.update_docs(doc, DOCS, out + ".md")
                log(f"latest figures written to {DOCS}")
            except (OSError, ValueError) as e:
                log(f"could not write the latest figures to {DOCS}: {e}")
        if doc["problems"] and self.opts.smoke:
            log(f"results: {out}.md, {out}.json (problems found, see above)")
            return 1
        log(f"results: {out}.md, {out}.json")
        return 0

    # ------------------------------------------------------------------ run

    def run(self):
        self.build_binaries()
        self.check_tmctl()
        self.load_statements()
        shutil.rmtree(WORK, ignore_errors=True)
        os.makedirs(WORK)
        self.ensure_tools()
        self.choose_database_server()
        self.create_bench_database()
        self.create_users()
        self.jwt_secret = secrets.token_hex(32)
        self.record_run()
        self.record_argon2()

        self.start_server()
        self.sign_in_users()
        # After signing in: the user's check names the token's session.
        self.load_ceiling_statements()
        loaded = 0
        for size in self.opts.sizes:
            self.size = size
            self.load_events(size, size - loaded)
            loaded = size
            self.run_scenarios()
        self.capture_plans()
        self.sign_in_for_cold_starts()
        self.stop_server()

        self.cold_starts()
        return self.write_report()


def _terminate(signum, frame):
    raise Terminated()


def main(argv, environ=None):
    os.chdir(ROOT)
    environ = os.environ if environ is None else environ
    try:
        opts = options.parse(argv, environ)
    except options.HelpRequested:
        sys.stdout.write(options.USAGE)
        return 0
    except options.OptionError as e:
        log(f"error: {e}")
        return 1
    signal.signal(signal.SIGTERM, _terminate)
    bench = Bench(opts, environ)
    try:
        return bench.run()
    except Failure as e:
        log(f"error: {e}")
        return 1
    except Aborted:
        return 1
    except KeyboardInterrupt:
        return 130
    except Terminated:
        return 143
    finally:
        bench.stop_server()  # the private PostgreSQL, if one was started, is meant to stay
