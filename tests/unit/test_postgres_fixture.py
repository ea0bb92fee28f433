"""The PostgreSQL pass's own fixture (``tests/postgres.py``): a database taken back after its test comes to the next
one as a fresh database would: no rows, keys numbered from 1, under a name the finished test cannot reach."""

from __future__ import annotations

import psycopg
import pytest
from sqlalchemy import text

from app.db import make_engine, write_session
from app.models import Setting
from tests import postgres

pytestmark = pytest.mark.postgresql_only("the PostgreSQL pass's fixture")


def test_database_taken_back_comes_again_empty_and_out_of_the_old_name_reach(request: pytest.FixtureRequest):
    cluster: postgres.Cluster = request.getfixturevalue("postgres_cluster")
    first = cluster.fresh_database()
    engine = make_engine(cluster.url(first))
    with write_session(engine) as session:
        session.add(Setting(key="left", value="by the first test"))
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO audit (at, who, action, detail) VALUES (1, 'a', 'b', 'c')"))

    cluster.release_database(first)  # the engine's connections are still open: they are cut
    second = cluster.fresh_database()

    again = make_engine(cluster.url(second))
    with again.begin() as conn:
        assert conn.execute(text("SELECT count(*) FROM setting")).scalar_one() == 0
        new_id = conn.execute(
            text("INSERT INTO audit (at, who, action, detail) VALUES (1, 'a', 'b', 'c') RETURNING id")
        ).scalar_one()
    assert new_id == 1
    with pytest.raises(psycopg.OperationalError, match="does not exist"):
        psycopg.connect(host="127.0.0.1", port=cluster.port, user="postgres", dbname=first).close()
    again.dispose()
    engine.dispose()
    cluster.release_database(second)


def test_database_whose_schema_a_test_changed_is_dropped(request: pytest.FixtureRequest):
    cluster: postgres.Cluster = request.getfixturevalue("postgres_cluster")
    name = cluster.fresh_database()
    with psycopg.connect(host="127.0.0.1", port=cluster.port, user="postgres", dbname=name, autocommit=True) as conn:
        conn.execute("CREATE TABLE left_behind (x integer)")

    cluster.release_database(name)
    fresh = cluster.fresh_database()

    with psycopg.connect(host="127.0.0.1", port=cluster.port, user="postgres", dbname=fresh) as conn:
        tables = {row[0] for row in conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")}
    assert "left_behind" not in tables and "run" in tables
    cluster.release_database(fresh)
