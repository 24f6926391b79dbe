"""A stand-in for `tmctl statements`, serving the recorded outputs under
fixtures/statements (index.json says which command each is): prints the
recording for the arguments given, or fails as tmctl does for arguments it
rejects (status 2, the error on stderr). `--user ID` may come anywhere
after `statements`, as for tmctl: arguments recorded with it are served as
recorded; otherwise the recording made without it (user 1) is served with
ID as the "auth" statement's parameter, which is all --user changes.
FAKE_TMCTL_OUTPUT, when set, is printed instead, to feed the caller
something malformed."""

import json
import os
import sys

FIXTURES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fixtures", "statements")


def recordings():
    with open(os.path.join(FIXTURES, "index.json"), encoding="utf-8") as f:
        return {tuple(args): name for name, args in json.load(f)["commands"].items()}


def without_user(args):
    """(the arguments without --user ID, ID or None); ValueError if --user has no ID."""
    rest, user, i = [], None, 0
    while i < len(args):
        if args[i] == "--user":
            if i + 1 >= len(args):
                raise ValueError("a value is required for '--user <USER>'")
            user, i = args[i + 1], i + 2
        elif args[i].startswith("--user="):
            user, i = args[i][len("--user="):], i + 1
        else:
            rest.append(args[i])
            i += 1
    return rest, user


def as_user(text, user):
    """A recording's statements with user as the "auth" statement's parameter."""
    found = json.loads(text)
    for statement in found:
        if statement["name"] == "auth":
            statement["params"] = [user]
    return json.dumps(found, indent=2) + "\n"


def main(argv):
    if argv[:1] != ["statements"]:
        print(f"error: unrecognized arguments {argv}", file=sys.stderr)
        return 2
    try:
        rest, user = without_user(argv[1:])
    except ValueError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    if len(rest) != 2 or (user is not None and not user.isdigit()):
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
    if user is not None and tuple(argv[1:]) not in found:
        text = as_user(text, user)
    sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
