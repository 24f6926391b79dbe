"""schemathesis hooks for scripts/fuzz-api: a check that a refused request
changed nothing, and an Idempotency-Key of its own for every request.

Runs with one worker, so responses arrive one at a time: the database's
digest after each response is compared with the digest after the previous
one. A 4xx whose digest differs changed the database. sign_in_throttle is left
out: counting a failed sign-in is a deliberate write, and so is its audit
row (sign_in.failed, sign_in.locked_out); so is an ingest key's
last_used_at, the record of a key's use, written (at most once a minute) by
any request the key authenticates. Sessions are digested apart, with the
audit rows of their reuse: a refresh token presented after it was rotated
is refused and ends its session (two holders, one of them a thief), the one
refusal that is meant to write.
"""

import itertools
import os
import re

import psycopg
import schemathesis

DIGEST_SQL = """
SELECT (SELECT md5(coalesce(string_agg(t, '|' ORDER BY t), '')) FROM (
  SELECT 'e' || e::text AS t FROM events e
  UNION ALL SELECT 'a' || a::text FROM alerts a
  UNION ALL SELECT 'h' || h::text FROM alert_history h
  UNION ALL SELECT 'm' || m::text FROM alert_comments m
  UNION ALL SELECT 't' || t::text FROM alert_timeline t
  UNION ALL SELECT 'u' || u::text FROM users u
  UNION ALL SELECT 'c' || c::text FROM alert_counts c
  UNION ALL SELECT 'n' || n::text FROM alert_assignee_counts n
  UNION ALL SELECT 'r' || r::text FROM alert_stats r
  UNION ALL SELECT 'g' || g::text FROM alert_stats_hist g
  UNION ALL SELECT 'k' || (k.id, k.name, k.source, k.prefix, k.secret_hash, k.created_by,
                           k.created_at, k.revoked_at)::text FROM ingest_keys k
  UNION ALL SELECT 's' || s::text FROM silences s
  UNION ALL SELECT 'i' || i::text FROM idempotency_keys i
  UNION ALL SELECT 'l' || l::text FROM audit_log l
    WHERE l.action NOT IN ('sign_in.failed', 'sign_in.locked_out', 'session.reuse_detected')
) rows),
       (SELECT md5(coalesce(string_agg(x, '|' ORDER BY x), '')) FROM (
  SELECT x::text AS x FROM sessions x
  UNION ALL SELECT l::text FROM audit_log l WHERE l.action = 'session.reuse_detected'
) ended)
"""

# A spent refresh token's second use ends its session: refused, and written.
_ENDS_SESSIONS = {("POST", "/api/token/refresh/")}

_last_digest = None


_db = None


def _digest() -> tuple[str, str]:
    """The digests of every table but sessions, and of sessions. One
    connection for the run: starting psql per response cost ~50 ms, most of
    each test case's time."""
    global _db
    if _db is None:
        _db = psycopg.connect(os.environ["FUZZ_DATABASE_URL"], autocommit=True)
    data, sessions = _db.execute(DIGEST_SQL).fetchone()
    return data, sessions


@schemathesis.check
def refused_requests_change_nothing(ctx, response, case):
    """A request answered 4xx left every table as it was."""
    global _last_digest
    now = _digest()
    before, _last_digest = _last_digest, now
    if before is None or not 400 <= response.status_code < 500:
        return
    data_changed = now[0] != before[0]
    sessions_changed = now[1] != before[1]
    if sessions_changed and (case.method.upper(), case.path) in _ENDS_SESSIONS:
        sessions_changed = False
    if data_changed or sessions_changed:
        raise AssertionError(
            f"{case.method} {case.path} was refused with {response.status_code} "
            "but the database changed"
        )


_sent = itertools.count(1)
_VALID_KEY = re.compile(r"[ -~]{1,255}")


@schemathesis.hook
def before_call(ctx, case, kwargs):
    """A valid generated Idempotency-Key gets a serial number: schemathesis
    reuses a generated value across requests, which a client does only for a
    retry of the same request. Otherwise a later POST of the stateful phase
    gets the replayed answer of an earlier one (as it should), whose event
    that phase may since have deleted, and "created resource not found"
    follows. Invalid keys stay as generated, so they are still refused;
    replays, reuse and overlap are tested end to end (cli/tests/api)."""
    headers = case.headers or {}
    for name, value in list(headers.items()):
        if name.lower() == "idempotency-key" and isinstance(value, str) and _VALID_KEY.fullmatch(value):
            headers[name] = f"{value[:240]}.{next(_sent)}"
