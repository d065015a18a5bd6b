"""Throwaway redis-server and PostgreSQL servers on loopback ports: the one home of that code.

Used by the pytest fixtures (``tests/fixtures/``), by the benchmark driver
(``benchmarks/run.py``) and by the backends' tools (``packages/*/tools/``). Stdlib only, so that
anything running in the workspace environment can import it without pytest::

    from tests.servers import PostgresServer, RedisServer

    with RedisServer(aof=False, unix_socket=False) as redis, PostgresServer() as pg:
        print(redis.url, pg.url)

Each server lives in a temporary directory of its own on a free 127.0.0.1 port and can be
killed (a crash), stopped, started again on the same port and data, and cleaned up.

Why not pytest-redis and pytest-postgresql: both were evaluated (pytest-redis 5.0.1,
pytest-postgresql 10.0.0, on this project's machines, which run the tests and CI as root) and
neither covers a server this project needs:

* pytest-postgresql's ``postgresql_proc`` runs ``pg_ctl initdb`` and ``pg_ctl start`` as the
  user running pytest, and PostgreSQL refuses root (``pg_ctl: cannot be run as root``). Its
  executor has no way to run them as another user, and its data directory lies under pytest's
  base temporary directory (``/tmp/pytest-of-root``, mode 0700), which the ``postgres`` user
  could not enter anyway. Its ``postgresql_noproc`` would only wrap a server we start ourselves,
  and its per-test database fixture is a psycopg 3 connection, which nothing here uses (the
  tests isolate by ``table_prefix`` on asyncpg/SQLAlchemy).
* pytest-redis's ``redis_proc`` runs as root, but always starts ``--appendonly no`` (the
  factory has no AOF option) and accepts no extra arguments. The session ``redis_server`` must
  have AOF on: the fault tests SIGKILL it and expect every acknowledged write back after the
  restart. The cluster server needs ``--cluster-enabled``; the benchmarks run outside pytest.

So the plugins would go unused and are not dependencies. :mod:`tests.servers.redis` and
:mod:`tests.servers.postgres` hold the code; ``docs/testing.md`` says the same for contributors.
"""

from __future__ import annotations

from tests.servers._common import ServerNotInstalled, free_port
from tests.servers.postgres import PostgresServer, pg_bindir
from tests.servers.redis import RedisServer

__all__ = ("PostgresServer", "RedisServer", "ServerNotInstalled", "free_port", "pg_bindir")
