"""The history database's Alembic environment: ``env.py`` and the revisions in ``versions/``.

Run by ``elasticjob.history.upgrade``, configured in code (no ``alembic.ini``); shipped in the package.
A schema change is a new file in ``versions/`` (the next number as ``revision``, the newest as
``down_revision``) together with the change to ``schema.py``; ``tests/integration/test_history_upgrade.py``
checks that head and ``schema.py`` agree. Revisions only add (tables, columns with a server default,
indexes), so that masters of the previous release can still use an upgraded database during a rollout.
"""
