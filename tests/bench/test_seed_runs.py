"""The runs page's and search's benchmark seeds a database the console then opens as its own: at the newest
revision, with the search index and the run counts built from the seeded rows."""

from __future__ import annotations

import sys
from pathlib import Path

from sqlalchemy import text

from app import migrations
from app.db import make_engine
from app.services.runs import RunFilter, search_runs

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))

from seed_runs import queries, seed


def test_seeded_database_is_at_the_newest_revision_with_counts_and_a_search_index(tmp_path: Path):
    url = f"sqlite:///{tmp_path / 'runs.db'}"
    seed(url, 300)
    engine = make_engine(url)
    try:
        assert migrations.current(engine) == migrations.head()
        with engine.connect() as conn:
            counted = conn.execute(text("SELECT sum(runs) FROM run_count")).scalar_one()
            marking = conn.execute(
                text("SELECT count(*) FROM sqlite_master WHERE name LIKE 'run_fts_mark%'")
            ).scalar_one()
        page, total = search_runs(engine=engine, where=RunFilter(q=queries(300)[0]))
    finally:
        engine.dispose()
    assert counted == 300
    assert marking > 0  # the triggers that keep the index in step are back
    assert total > 0 and page
