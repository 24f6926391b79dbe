"""A stand-in for `tmctl statements`, serving the recorded outputs under
fixtures/statements (index.json says which command each is): prints the
recording for the arguments given, or fails as tmctl does for arguments it
rejects (status 2, the error on stderr). FAKE_TMCTL_OUTPUT, when set, is
printed instead, to feed the caller something malformed."""

import json
import os
import sys

FIXTURES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fixtures", "statements")


def recordings():
    with open(os.path.join(FIXTURES, "index.json"), encoding="utf-8") as f:
        return {tuple(args): name for name, args in json.load(f)["commands"].items()}


def main(argv):
    if argv[:1] != ["statements"] or len(argv) != 3:
        print(f"error: unrecognized arguments {argv[1:]}", file=sys.stderr)
        return 2
    if "FAKE_TMCTL_OUTPUT" in os.environ:
        print(os.environ["FAKE_TMCTL_OUTPUT"])
        return 0
    name = recordings().get(tuple(argv[1:]))
    if name is None:
        print(f"error: invalid query string {argv[2]!r}", file=sys.stderr)
        return 2
    with open(os.path.join(FIXTURES, name), encoding="utf-8") as f:
        sys.stdout.write(f.read())
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
