#!/usr/bin/env python3
"""PostgreSQL URL helpers for bench/run.

    dburl.py with-db URL NAME   the same server and credentials, database NAME
    dburl.py db URL             the database a URL names
"""

import sys
from urllib.parse import urlsplit, urlunsplit


def with_database(url, name):
    """`url` pointing at database `name`, keeping user, password, host and
    query parameters (sslmode and the like) as they were."""
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path="/" + name))


def database_of(url):
    return urlsplit(url).path.lstrip("/")


def main(argv):
    if argv[:1] == ["with-db"] and len(argv) == 3:
        print(with_database(argv[1], argv[2]))
    elif argv[:1] == ["db"] and len(argv) == 2:
        print(database_of(argv[1]))
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main(sys.argv[1:])
