"""A person's typed drafts: what they typed in a round's result fields, saved as they type, and who is answering.

A typed draft is a ``Draft`` row of mode ``typed`` (``app.models.Draft``): one per round, tool call and person
(the signed-in user's name; ``console`` when sign-in is off), holding the output text, the JSON mode and
is_error. The inbox saves it about a second after the last keystroke and when a field loses focus, and fills the
card from it when the card is drawn again (reload, navigation, reconnect, console restart). Only rounds still
``pending`` give their typed drafts back; the ones of a round a person sent are removed (``discard``), the others
are ignored once their round left the inbox.

Presence and claims are read from the same rows, so they live in the database and survive a restart: the first
person to type in a round claims it (``claimed_at``); another person claims it only by *Take over*
(``take_over``); ``presence`` tells each round's claimant and who else typed, and when. A claim never blocks a
submission (issue 8: show it, do not block it).

``revision()`` counts the saves and claims of this process, so an open inbox re-reads presence only after one;
with several consoles on one PostgreSQL database, ``on_saved`` callbacks tell the others (``app.change_relay``),
whose ``saved_elsewhere`` counts it there too. All functions block: call them
through ``asyncio.to_thread``.
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from sqlalchemy import Engine, delete
from sqlmodel import Session, col, select
from sqlmodel.sql.expression import SelectOfScalar

from app.answerers import Answerer
from app.db import read_session, write_session
from app.models import Draft, OutboxItem, Round
from app.states import DraftMode, RoundState

BATCH = 500
"""Round ids per query (SQLite bounds a query's parameters)."""

_revision = [0]
on_saved: list[Callable[[], None]] = []
"""Called (in the saving thread) after each save or claim of this process: ``app.change_relay`` tells the other
consoles."""


def revision() -> int:
    """How many typed-draft saves and claims this process made: changes when presence may have changed."""
    return _revision[0]


def _bump() -> None:
    _revision[0] += 1
    for callback in on_saved:
        callback()


def saved_elsewhere() -> None:
    """Another console on the same database saved a typed draft or a claim: presence may have changed."""
    _revision[0] += 1


@dataclass(frozen=True)
class TypedField:
    """One call's typed result: ``output`` as typed, ``as_json`` (the field's JSON mode), ``is_error``."""

    tool_call_id: str
    output: str
    as_json: bool = False
    is_error: bool = False


MAX_TYPED_CHARS = 200_000
"""Characters of one typed result kept; the result field stops the browser at the same count
(``ui.components.result_editor.MAX_RESULT_CHARS``), so only a crafted client sends more, and the rest is dropped."""


@dataclass(frozen=True)
class Someone:
    """A person who typed in a round: ``active_at`` their last save or claim (Unix seconds), ``claimed_at`` their
    claim (``None``: never claimed it)."""

    person: str
    active_at: float
    claimed_at: float | None


@dataclass(frozen=True)
class RoundPresence:
    """Who typed in one round: ``claimant`` (the newest claim) and everyone, newest activity first."""

    claimant: Someone | None
    people: list[Someone] = field(default_factory=list)

    def took_over_from(self, person: str) -> bool:
        """True when ``person`` had claimed the round and someone else claimed it after them."""
        mine = next((p for p in self.people if p.person == person), None)
        return (
            mine is not None
            and mine.claimed_at is not None
            and self.claimant is not None
            and self.claimant.person != person
        )

    def others(self, person: str) -> list[Someone]:
        """Everyone but ``person``, newest activity first."""
        return [p for p in self.people if p.person != person]


def save(*, engine: Engine, round_id: int, person: str, fields: Sequence[TypedField], now: float | None = None) -> bool:
    """Store ``person``'s typed ``fields`` of a round (insert or update, one row per call); the first person to type
    in a round claims it. Returns False, storing nothing, when the round is no longer pending."""
    now = time.time() if now is None else now
    with write_session(engine) as session:
        row = session.get(Round, round_id)
        if row is None or row.state != RoundState.PENDING:
            return False
        claimed = session.exec(_typed(round_id).where(col(Draft.claimed_at).is_not(None))).first() is not None
        _upsert(session, round_id, person, fields, now, claim=now if not claimed else None)
    _bump()
    return True


def take_over(*, engine: Engine, round_id: int, person: str, fields: Sequence[TypedField]) -> bool:
    """``person`` claims the round from whoever had it, storing their current ``fields`` too. Returns False when
    the round is no longer pending."""
    now = time.time()
    with write_session(engine) as session:
        row = session.get(Round, round_id)
        if row is None or row.state != RoundState.PENDING:
            return False
        _upsert(session, round_id, person, fields, now, claim=now)
    _bump()
    return True


def load(*, engine: Engine, round_ids: Sequence[int], person: str) -> dict[int, dict[str, TypedField]]:
    """``person``'s typed fields by round and tool_call_id, for those of ``round_ids`` still pending (one query for
    every ``BATCH`` rounds)."""
    found: dict[int, dict[str, TypedField]] = defaultdict(dict)
    ids = list(round_ids)
    with read_session(engine) as session:
        for start in range(0, len(ids), BATCH):
            rows = session.exec(
                select(Draft)
                .join(Round, col(Round.id) == col(Draft.round_id))
                .where(
                    col(Draft.round_id).in_(ids[start : start + BATCH]),
                    Draft.mode == DraftMode.TYPED,
                    Draft.answered_user == person,
                    Round.state == RoundState.PENDING,
                )
            ).all()
            for d in rows:
                found[d.round_id][d.tool_call_id] = TypedField(
                    tool_call_id=d.tool_call_id, output=d.output, as_json=d.as_json, is_error=d.is_error
                )
    return dict(found)


def presence(*, engine: Engine, round_ids: Sequence[int]) -> dict[int, RoundPresence]:
    """Who typed in each of ``round_ids`` (rounds nobody typed in are left out); one query."""
    if not round_ids:
        return {}
    people: dict[int, dict[str, Someone]] = defaultdict(dict)
    ids = list(round_ids)
    rows: list[tuple[int, str | None, float | None, float | None]] = []
    with read_session(engine) as session:
        for start in range(0, len(ids), BATCH):
            rows += session.exec(
                select(Draft.round_id, Draft.answered_user, Draft.updated_at, Draft.claimed_at).where(
                    col(Draft.round_id).in_(ids[start : start + BATCH]), Draft.mode == DraftMode.TYPED
                )
            ).all()
    for round_id, person, updated_at, claimed_at in rows:
        if person is None:
            continue
        seen = people[round_id].get(person)
        active = max(updated_at or 0.0, claimed_at or 0.0, seen.active_at if seen else 0.0)
        claims = [c for c in (claimed_at, seen.claimed_at if seen else None) if c is not None]
        people[round_id][person] = Someone(person=person, active_at=active, claimed_at=max(claims, default=None))
    found = {}
    for round_id, by_person in people.items():
        everyone = sorted(by_person.values(), key=lambda p: p.active_at, reverse=True)
        claimants = [p for p in everyone if p.claimed_at is not None]
        claimant = max(claimants, key=lambda p: p.claimed_at or 0.0) if claimants else None
        found[round_id] = RoundPresence(claimant=claimant, people=everyone)
    return found


def discard(*, engine: Engine, round_id: int) -> None:
    """Remove every typed draft of a round (it was sent)."""
    with write_session(engine) as session:
        session.execute(delete(Draft).where(col(Draft.round_id) == round_id, col(Draft.mode) == DraftMode.TYPED))
    _bump()


def _typed(round_id: int) -> SelectOfScalar[Draft]:
    return select(Draft).where(Draft.round_id == round_id, Draft.mode == DraftMode.TYPED)


def _upsert(
    session: Session, round_id: int, person: str, fields: Sequence[TypedField], now: float, claim: float | None
) -> None:
    mine = {d.tool_call_id: d for d in session.exec(_typed(round_id).where(Draft.answered_user == person)).all()}
    for typed in fields:
        row = mine.get(typed.tool_call_id)
        if row is None:
            row = Draft(
                **Answerer.person(person).columns(),
                round_id=round_id,
                tool_call_id=typed.tool_call_id,
                mode=DraftMode.TYPED,
                output="",
                created_at=now,
            )
        row.output, row.as_json, row.is_error = typed.output[:MAX_TYPED_CHARS], typed.as_json, typed.is_error
        row.updated_at = now
        if claim is not None:
            row.claimed_at = claim
        session.add(row)


def round_outcome(*, engine: Engine, round_id: int) -> str:
    """What became of a round that left the inbox, as a card says it: "answered by person: bob at 21:40:01"
    (the round's answerer columns, or its outbox item's while it is still being sent), "expired …", "closed: …"
    (issue 8: stored answerer data, not parsed text)."""
    with read_session(engine) as session:
        row = session.get(Round, round_id)
        if row is None:
            return "this round is gone"
        answerer = row.answerer()
        if answerer is None:
            item = session.exec(select(OutboxItem).where(OutboxItem.round_id == round_id)).first()
            answerer = item.answerer() if item is not None else None
    reason = f": {row.message}" if row.message else ""
    if row.state == RoundState.EXPIRED:
        return f"the round expired{reason}"
    if row.state == RoundState.CLOSED:
        return f"the round closed{reason}"
    who = answerer.text if answerer is not None else "someone"
    when = f" at {time.strftime('%H:%M:%S', time.localtime(row.submitted_at))}" if row.submitted_at else ""
    sending = " (being sent)" if row.state == RoundState.SUBMITTING else ""
    return f"answered by {who}{when}{sending}"
