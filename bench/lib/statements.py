"""The server's own SQL, from `tmctl statements`, and what bench/run makes of it.

    tmctl statements alerts-list 'severity=High&status=Open&page=2'
    tmctl statements events-list 'since=...&until=...'
    tmctl statements alerts-get 123 --user 2
    tmctl statements events-create '{"source": ..., ...}'

each print a JSON array of {"name", "sql", "params"}: the statements the
server runs for that request, in order, with the text form of each
parameter. The first is "auth", the signed-in user's check every such
request runs before its own (its parameters are the user's id, `--user ID`,
and the id of the sign-in session the token names, `--session ID`, each 1
unless given); then the request's own ("count" and "list", "get",
"create"). The benchmark keeps no copy of them, so nothing here is kept
in step with the store by hand. From them it makes:

- a pgbench script: `$n` becomes a pgbench variable `:pN` (numbered across
  the script's statements) given with `-D pN=value`, or drawn per
  transaction with `\\set`. With `-M prepared` pgbench sends variables as
  parameters, untyped, so PostgreSQL infers each one's type from its place
  in the statement, as it does for the server's;
- the psql commands of an EXPLAIN: `PREPARE q AS <sql>` (parameter types
  inferred the same way) and `EXECUTE q(<the parameters as literals>)`.
"""

import json
import os
import re
import subprocess
from dataclasses import dataclass

IDENT_START = re.compile(r"[A-Za-z_\u0080-\U0010ffff]")
IDENT_CHAR = re.compile(r"[A-Za-z0-9_$\u0080-\U0010ffff]")
# pgbench reads a colon followed by one of these as a variable (`::` it skips).
PGBENCH_NAME_CHAR = re.compile(r"[A-Za-z0-9_\u0080-\U0010ffff]")
DOLLAR_TAG = re.compile(r"\$([A-Za-z_\u0080-\U0010ffff][A-Za-z0-9_\u0080-\U0010ffff]*)?\$")


class StatementsError(Exception):
    """tmctl gave no usable statements, or a statement pgbench cannot run."""


@dataclass(frozen=True)
class Statement:
    name: str
    sql: str
    params: tuple

    def as_json(self):
        return {"name": self.name, "sql": self.sql, "params": list(self.params)}


# ------------------------------------------------------------- from tmctl

def parse(text):
    """`tmctl statements` output as a list of Statement; StatementsError if
    it is not an array of {"name": str, "sql": str, "params": [str|null]}."""
    try:
        found = json.loads(text)
    except json.JSONDecodeError as e:
        raise StatementsError(f"not JSON: {e}") from None
    if not isinstance(found, list) or not found:
        raise StatementsError("expected a non-empty JSON array of statements")
    statements = []
    for item in found:
        if not isinstance(item, dict):
            raise StatementsError(f"expected an object, got {item!r}")
        name, sql, params = item.get("name"), item.get("sql"), item.get("params")
        if not isinstance(name, str) or not name or not isinstance(sql, str) or not sql.strip():
            raise StatementsError(f"a statement needs a name and its sql: {item!r}")
        if not isinstance(params, list) or not all(p is None or isinstance(p, str) for p in params):
            raise StatementsError(f"{name}: params must be a list of strings")
        highest = max(parameter_numbers(sql), default=0)
        if highest != len(params):
            raise StatementsError(f"{name}: the sql uses ${highest} at most but {len(params)} params are given")
        statements.append(Statement(name, sql, tuple(params)))
    return statements


def fetch(tmctl, kind, argument, user=None, env=None, session=None):
    """The statements tmctl says the server runs for one request, made as
    the user whose id is user in the sign-in session whose id is session
    (tmctl's defaults, 1 and 1, when None); `env` adds to its environment
    (JWT_SECRET, for a cursor)."""
    command = [tmctl, "statements", kind, str(argument)]
    if user is not None:
        command += ["--user", str(user)]
    if session is not None:
        command += ["--session", str(session)]
    shown = " ".join(command)
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=60, check=False,
                              env=dict(os.environ, **env) if env else None)
    except (OSError, subprocess.TimeoutExpired) as e:
        raise StatementsError(f"{tmctl} statements {kind}: {e}") from None
    if done.returncode != 0:
        raise StatementsError(f"`{shown}` failed "
                              f"(status {done.returncode}): {done.stderr.strip()[:500]}")
    try:
        return parse(done.stdout)
    except StatementsError as e:
        raise StatementsError(f"`{shown}`: {e}") from None


def by_name(statements, name):
    for statement in statements:
        if statement.name == name:
            return statement
    raise StatementsError(f"no statement named {name!r} (have {', '.join(s.name for s in statements)})")


def pgbench_variable(statements, name, number=1):
    """The pgbench variable (`pN`) that `$number` of the statement named
    name becomes in pgbench_script(statements): N counts on from the
    parameters of the statements before it (`$1` of "get" after "auth",
    which has two, is p3)."""
    offset = 0
    for statement in statements:
        if statement.name == name:
            if not 1 <= number <= len(statement.params):
                raise StatementsError(f"{name} has no parameter ${number} "
                                      f"(it has {len(statement.params)})")
            return f"p{offset + number}"
        offset += len(statement.params)
    by_name(statements, name)  # raises, naming what there is


# ------------------------------------------------------------ SQL lexing

def _skip_quoted(sql, i, quote, backslash_escapes=False):
    """Index just past the literal or identifier opening at sql[i]."""
    i += 1
    while i < len(sql):
        c = sql[i]
        if backslash_escapes and c == "\\":
            i += 2
            continue
        if c == quote:
            if sql.startswith(quote, i + 1):  # doubled: an escaped quote
                i += 2
                continue
            return i + 1
        i += 1
    raise StatementsError(f"unterminated {quote} in: {sql[:200]}")


def _skip_block_comment(sql, i):
    depth, i = 0, i
    while i < len(sql):
        if sql.startswith("/*", i):
            depth, i = depth + 1, i + 2
        elif sql.startswith("*/", i):
            depth, i = depth - 1, i + 2
            if depth == 0:
                return i
        else:
            i += 1
    raise StatementsError(f"unterminated comment in: {sql[:200]}")


def tokens(sql):
    """The statement as (kind, text) pieces: kind "param" for `$n` (text is
    n), "quoted" for string literals, quoted identifiers, dollar-quoted
    strings and comments (where `$n` and `:x` mean nothing to PostgreSQL),
    "code" for the rest."""
    pieces, code, i = [], [], 0

    def flush():
        if code:
            pieces.append(("code", "".join(code)))
            code.clear()

    while i < len(sql):
        c = sql[i]
        previous = sql[i - 1] if i else ""
        in_word = bool(previous and IDENT_CHAR.match(previous))
        end = None
        if c == "'":
            escapes = previous in ("E", "e") and not (i >= 2 and IDENT_CHAR.match(sql[i - 2]))
            end = _skip_quoted(sql, i, "'", backslash_escapes=escapes)
        elif c == '"':
            end = _skip_quoted(sql, i, '"')
        elif sql.startswith("--", i):
            newline = sql.find("\n", i)
            end = len(sql) if newline < 0 else newline
        elif sql.startswith("/*", i):
            end = _skip_block_comment(sql, i)
        elif c == "$" and not in_word:
            digits = re.match(r"\$([0-9]+)", sql[i:])
            tag = DOLLAR_TAG.match(sql, i)
            if digits:
                flush()
                pieces.append(("param", digits.group(1)))
                i += len(digits.group(0))
                continue
            if tag:
                close = sql.find(tag.group(0), tag.end())
                if close < 0:
                    raise StatementsError(f"unterminated {tag.group(0)} string in: {sql[:200]}")
                end = close + len(tag.group(0))
        if end is None:
            code.append(c)
            i += 1
        else:
            flush()
            pieces.append(("quoted", sql[i:end]))
            i = end
    flush()
    return pieces


def parameter_numbers(sql):
    return {int(text) for kind, text in tokens(sql) if kind == "param"}


# ---------------------------------------------------------------- pgbench

def _pgbench_hazard(text):
    """A place where pgbench would see a variable the statement does not
    mean: one colon followed by a name character (pgbench skips `::`, but
    substitutes even inside quotes)."""
    for match in re.finditer(r":+", text):
        after = text[match.end():match.end() + 1]
        if len(match.group(0)) == 1 and after and PGBENCH_NAME_CHAR.match(after):
            return text[max(0, match.start() - 20):match.end() + 20]
    return None


def pgbench_script(statements, drawn=None, prefix=""):
    """A pgbench script running the statements in order, one transaction
    for all of them, and the `-D` variables it needs, as (text, {name: value}).

    `$n` of the k-th statement becomes `:pN` (`:<prefix>pN`), N counting on
    from the previous statements' parameters; a prefix keeps the variables
    of scripts pgbench runs side by side apart. `drawn` maps a variable name (`p1`) to
    a pgbench expression drawn afresh each transaction (`random(1, 100)`)
    instead of the statement's value."""
    drawn = dict(drawn or {})
    lines, defines, offset = [], {}, 0
    for statement in statements:
        parts = []
        for kind, text in tokens(statement.sql):
            if kind == "param":
                parts.append(f":{prefix}p{offset + int(text)}")
                continue
            hazard = _pgbench_hazard(text)  # quoted text too: pgbench does not look at quotes
            if hazard:
                raise StatementsError(f"{statement.name}: pgbench would read a variable in ...{hazard}...")
            parts.append(text)
        for number, value in enumerate(statement.params, start=offset + 1):
            name = f"{prefix}p{number}"
            if name in drawn:
                continue
            if value is None:
                raise StatementsError(f"{statement.name}: pgbench cannot pass a NULL parameter ({name})")
            defines[name] = value
        offset += len(statement.params)
        body = "".join(parts).strip().rstrip(";").strip()
        if any(line.lstrip().startswith("\\") for line in body.splitlines()):
            raise StatementsError(f"{statement.name}: a line starting with a backslash "
                                  "would be a pgbench meta-command")
        lines.append(body + ";")
    unknown = set(drawn) - {f"{prefix}p{n}" for n in range(1, offset + 1)}
    if unknown:
        raise StatementsError(f"no parameter {', '.join(sorted(unknown))} to draw")
    header = [f"\\set {name} {expression}" for name, expression in sorted(drawn.items())]
    return "\n".join(header + lines) + "\n", defines


def pgbench_define_args(defines):
    args = []
    for name, value in defines.items():
        args += ["-D", f"{name}={value}"]
    return args


# ---------------------------------------------------------------- EXPLAIN

def sql_literal(value):
    """A parameter's text as an untyped SQL literal (NULL for None)."""
    if value is None:
        return "NULL"
    if "\\" in value:  # the same meaning whatever standard_conforming_strings says
        return "E'" + value.replace("\\", "\\\\").replace("'", "''") + "'"
    return "'" + value.replace("'", "''") + "'"


def execute_command(statement, name="bench_query"):
    """`EXECUTE name('value', ...)` with the statement's parameters."""
    if not statement.params:
        return f"EXECUTE {name}"
    return f"EXECUTE {name}(" + ", ".join(sql_literal(p) for p in statement.params) + ")"


def explain_commands(statement, plan_cache_mode, name="bench_query"):
    """psql -c commands (each its own request, in one session) that prepare
    the statement, print the parameter types PostgreSQL inferred for it
    ("parameter types: {...}") and explain one execution of it."""
    return [
        f"SET plan_cache_mode = {plan_cache_mode}",
        # As the server's connections run (shared/src/config/mod.rs).
        "SET jit = off",
        f"PREPARE {name} AS {statement.sql}",
        "\\pset format unaligned",
        "\\pset tuples_only on",
        "SELECT 'parameter types: ' || parameter_types::text FROM pg_prepared_statements "
        f"WHERE name = '{name}'",
        "\\pset format aligned",
        "\\pset tuples_only off",
        f"EXPLAIN (ANALYZE, BUFFERS) {execute_command(statement, name)}",
    ]
