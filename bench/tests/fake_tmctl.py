"""A stand-in for `tmctl statements`, serving the recorded outputs under
fixtures/statements (index.json says which command each is): prints the
recording for the arguments given, or fails as tmctl does for arguments it
rejects (status 2, the error on stderr). `--user ID` and `--session ID`
may come anywhere after `statements`, as for tmctl: arguments recorded
with them are served as recorded; otherwise the recording made without
them (user 1, session 1) is served with the IDs as the "auth" statement's
parameters, which is all they change.
FAKE_TMCTL_OUTPUT, when set, is printed instead, to feed the caller
something malformed."""

import json
import os
import sys

FIXTURES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fixtures", "statements")


def recordings():
    with open(os.path.join(FIXTURES, "index.json"), encoding="utf-8") as f:
        return {tuple(args): name for name, args in json.load(f)["commands"].items()}


def without_options(args):
    """(the arguments without --user ID and --session ID, {option: ID});
    ValueError if an option has no ID."""
    rest, given, i = [], {}, 0
    while i < len(args):
        name = next((o for o in ("--user", "--session") if args[i] == o or args[i].startswith(o + "=")), None)
        if name is None:
            rest.append(args[i])
            i += 1
        elif args[i] == name:
            if i + 1 >= len(args):
                raise ValueError(f"a value is required for '{name} <{name[2:].upper()}>'")
            given[name], i = args[i + 1], i + 2
        else:
            given[name], i = args[i][len(name) + 1:], i + 1
    return rest, given


def as_user(text, given):
    """A recording's statements with the given user and session as the
    "auth" statement's parameters."""
    found = json.loads(text)
    for statement in found:
        if statement["name"] == "auth":
            user, session = statement["params"]
            statement["params"] = [given.get("--user", user), given.get("--session", session)]
    return json.dumps(found, indent=2) + "\n"


def main(argv):
    if argv[:1] != ["statements"]:
        print(f"error: unrecognized arguments {argv}", file=sys.stderr)
        return 2
    try:
        rest, given = without_options(argv[1:])
    except ValueError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    if len(rest) != 2 or not all(v.isdigit() for v in given.values()):
        print(f"error: unrecognized arguments {argv[1:]}", file=sys.stderr)
        return 2
    if "FAKE_TMCTL_OUTPUT" in os.environ:
        print(os.environ["FAKE_TMCTL_OUTPUT"])
        return 0
    found = recordings()
    if rest[0] == "events-batch":
        # The batch file's path varies; one recording stands for any batch.
        rest = [rest[0], "bench/.work/batches/batch-0.json"]
    name = found.get(tuple(argv[1:])) or found.get(tuple(rest))
    if name is None:
        print(f"error: invalid query string {rest[1]!r}", file=sys.stderr)
        return 2
    with open(os.path.join(FIXTURES, name), encoding="utf-8") as f:
        text = f.read()
    if given and tuple(argv[1:]) not in found:
        text = as_user(text, given)
    sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
