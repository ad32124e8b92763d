"""``elasticjob history upgrade``: bring a history database to this release's schema before a rollout
(every master does it when it starts; this lets an operator do it first, with the rights it needs)."""

from __future__ import annotations

import argparse
import os
import sys


def add_history_commands(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    history = sub.add_parser("history", help="the execution history database")
    actions = history.add_subparsers(dest="action", required=True, metavar="ACTION")
    upgrade = actions.add_parser(
        "upgrade",
        help="upgrade the history database to this release's schema (masters do it when they start)",
        description="Apply this release's migrations (Alembic revisions) to the history database, as each "
        "master does when it starts: creates the tables of an empty database, adopts one made by a release "
        "before migrations, keeps every row. Safe while masters run and while other upgrades run "
        "(PostgreSQL: an advisory lock makes them take turns).",
    )
    upgrade.add_argument(
        "--history-url",
        default=os.environ.get("ELASTICJOB_HISTORY_URL") or None,
        required=not os.environ.get("ELASTICJOB_HISTORY_URL"),
        help="the database, as the masters' --history-url: a SQLAlchemy URL (postgresql+psycopg://USER:"
        "PASSWORD@HOST/DB) or a SQLite file path (env ELASTICJOB_HISTORY_URL)",
    )
    upgrade.set_defaults(handler=_upgrade)


def _upgrade(args: argparse.Namespace) -> int:
    from elasticjob.history import HistoryConfigError, HistoryError, history_url, upgrade_history
    from elasticjob.history.upgrade import known

    try:
        before, head = upgrade_history(args.history_url)
        shown = history_url(args.history_url).render_as_string(hide_password=True)
    except (HistoryConfigError, HistoryError) as exc:
        print(f"elasticjob: error: {exc}", file=sys.stderr)
        return 2
    if before is not None and before not in known():
        print(f"{shown}: at revision {before}, which this release (head {head}) does not know: a newer "
              "release's; left as it is")
    elif before == head:
        print(f"{shown}: already at revision {head}")
    else:
        print(f"{shown}: upgraded from {before or 'no revision'}, now at revision {head}")
    return 0
