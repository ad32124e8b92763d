"""``elasticjob auth hash``: the Argon2id hash of a password or token, for the master's auth file."""

from __future__ import annotations

import argparse
import getpass
import sys


def add_auth_commands(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    auth = sub.add_parser("auth", help="API users: hash a password or token for --auth-file")
    actions = auth.add_subparsers(dest="auth_command", metavar="COMMAND", required=True)
    hashed = actions.add_parser(
        "hash",
        help="print the hash of a password or token read from stdin",
        description="Read a password or bearer token from stdin (one line; asked for twice on a terminal) "
        "and print its Argon2id hash, to put in the auth file as password_hash or token_hash. The secret "
        "itself is stored nowhere.",
    )
    hashed.set_defaults(handler=_hash)


def _hash(_args: argparse.Namespace) -> int:
    from elasticjob.security.secrets import WeakSecret, hash_secret

    if sys.stdin.isatty():
        secret = getpass.getpass("password or token: ")
        if getpass.getpass("again: ") != secret:
            print("elasticjob: the two entries differ", file=sys.stderr)
            return 2
    else:
        secret = sys.stdin.readline().rstrip("\r\n")
    try:
        print(hash_secret(secret))
    except WeakSecret as exc:
        print(f"elasticjob: {exc}", file=sys.stderr)
        return 2
    return 0
