"""Typed drafts on a database written before they existed: stored once per round, call and person, claimed by the
first to type, taken over explicitly, kept apart from handler drafts."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy.exc import IntegrityError

from app.answerers import Answerer
from app.db import make_engine, write_session
from app.models import Draft
from app.services import typed_drafts
from app.services.rounds import get_round
from app.services.typed_drafts import TypedField
from app.states import DraftMode
from tests.unit.test_db_upgrade import _old_database

PENDING_ROUND = 4  # pending in the old database, with a python handler's draft for call c9


def test_typed_drafts_on_an_upgraded_database(tmp_path: Path):
    engine = make_engine(f"sqlite:///{_old_database(tmp_path)}")

    typed_drafts.save(engine=engine, round_id=PENDING_ROUND, person="alice", fields=[TypedField("c9", "ha")], now=10)
    typed_drafts.save(engine=engine, round_id=PENDING_ROUND, person="alice", fields=[TypedField("c9", "half")], now=11)
    typed_drafts.save(
        engine=engine, round_id=PENDING_ROUND, person="bob", fields=[TypedField("c9", "mine", True)], now=12
    )

    loaded = typed_drafts.load(engine=engine, round_ids=[PENDING_ROUND], person="alice")
    assert loaded == {PENDING_ROUND: {"c9": TypedField("c9", "half")}}
    seen = typed_drafts.presence(engine=engine, round_ids=[PENDING_ROUND])[PENDING_ROUND]
    assert seen.claimant is not None and (seen.claimant.person, seen.claimant.active_at) == ("alice", 11)
    assert [p.person for p in seen.others("alice")] == ["bob"]
    assert [d.answered_by for d in get_round(engine=engine, round_id=PENDING_ROUND).drafts] == ["python handler v2"]

    typed_drafts.take_over(engine=engine, round_id=PENDING_ROUND, person="bob", fields=[TypedField("c9", "mine")])
    seen = typed_drafts.presence(engine=engine, round_ids=[PENDING_ROUND])[PENDING_ROUND]
    assert seen.claimant is not None and seen.claimant.person == "bob"
    assert seen.took_over_from("alice") and not seen.took_over_from("bob")

    with pytest.raises(IntegrityError), write_session(engine) as session:  # one typed draft per round, call, person
        session.add(
            Draft(
                **Answerer.person("alice").columns(),
                round_id=PENDING_ROUND,
                tool_call_id="c9",
                mode=DraftMode.TYPED,
                output="twice",
                created_at=13,
            )
        )

    typed_drafts.discard(engine=engine, round_id=PENDING_ROUND)
    assert typed_drafts.presence(engine=engine, round_ids=[PENDING_ROUND]) == {}
    assert len(get_round(engine=engine, round_id=PENDING_ROUND).drafts) == 1  # the handler's draft stays


def test_no_typed_draft_for_a_round_that_is_not_pending(tmp_path: Path):
    engine = make_engine(f"sqlite:///{_old_database(tmp_path)}")
    assert not typed_drafts.save(engine=engine, round_id=1, person="alice", fields=[TypedField("c1", "late")])
    assert typed_drafts.load(engine=engine, round_ids=[1], person="alice") == {}
    assert typed_drafts.round_outcome(engine=engine, round_id=1).startswith("answered by handlers (auto) at ")


def test_typed_draft_keeps_at_most_the_result_fields_cap(tmp_path: Path):
    """Only a crafted client sends more than the result field lets the browser type; the rest is not stored."""
    engine = make_engine(f"sqlite:///{_old_database(tmp_path)}")
    huge = "x" * (typed_drafts.MAX_TYPED_CHARS + 5_000)
    typed_drafts.save(engine=engine, round_id=PENDING_ROUND, person="alice", fields=[TypedField("c9", huge)], now=10)
    loaded = typed_drafts.load(engine=engine, round_ids=[PENDING_ROUND], person="alice")
    assert len(loaded[PENDING_ROUND]["c9"].output) == typed_drafts.MAX_TYPED_CHARS
