"""A replay beside its original: what differs in verdict, headers and body, unified or side by side.

A replay is a stored delivery whose ``replay_of`` names the delivery it replays (``ingest.replay_delivery``);
that one is its original. Bodies are compared as text, indented when they are JSON (key order kept, so a body
written in another order shows as changed); each side is cut at ``DIFF_LINES`` lines, with a note, so a 1 MB
body cannot hold a thread for long. Line matching costs far more than the product of the two sides' lengths
(bodies of many short repeated lines are the worst), so once the lines they share at the start and the end are set
aside, a middle past ``COMPARE_CELLS`` is not compared line by line: the answer says so (``too_large``).
"""

from __future__ import annotations

import contextlib
import difflib
import json
from typing import Any, Literal

from pydantic import BaseModel
from sqlalchemy import Engine, select

from app.db import read_session
from app.errors import NotFound
from app.models import Delivery
from app.services.deliveries import shown_headers

DELIVERIES = Delivery.__table__  # type: ignore[attr-defined]
DIFF_LINES = 5_000
"""Lines of each body compared at most."""
LINE_CHARS = 2_000
"""Characters of one line kept (a body that is not JSON can be one long line)."""
COMPARE_CELLS = 40_000
"""Largest product of the two differing middles' line counts compared line by line (200 by 200 lines)."""
FIELDS = ("verdict", "answered_status", "task_id", "status", "sequence", "console_made", "message")

Tag = Literal["same", "changed", "removed", "added"]


class Change(BaseModel):
    """One field or header: its value on each side (null: not there) and whether they are the same."""

    name: str
    original: str | None
    replay: str | None
    same: bool


class SideBySideLine(BaseModel):
    """One row of the side-by-side view: ``tag`` says what became of the original's line (``removed``: only on
    the left; ``added``: only on the right); line numbers count from 1, null where a side has no line."""

    tag: Tag
    original_no: int | None
    original: str | None
    replay_no: int | None
    replay: str | None


class DeliveryDiff(BaseModel):
    """``fields`` and ``headers`` of both deliveries; ``body_same``: the stored bytes are equal; ``unified``: the
    bodies' unified diff (empty when the same); ``side_by_side``: every line of both, aligned; ``note``: what was
    cut, if anything; ``too_large``: the bodies differ in too many lines to align, so ``unified`` and
    ``side_by_side`` are empty and ``note`` says how many."""

    original_id: int
    replay_id: int
    fields: list[Change]
    headers: list[Change]
    body_same: bool
    unified: str
    side_by_side: list[SideBySideLine]
    note: str = ""
    too_large: bool = False


def delivery_diff(*, engine: Engine, delivery_id: int, admin: bool) -> DeliveryDiff:
    """Delivery ``delivery_id`` (a replay) against the delivery it replays, the original's signature shown to an
    ``admin`` only (``app.services.deliveries.shown_headers``). Raises ``NotFound`` for an unknown delivery, one
    that is not a replay, or one whose original is gone (refused deliveries are thinned out)."""
    with read_session(engine) as session:
        conn = session.connection()
        replay = conn.execute(select(DELIVERIES).where(DELIVERIES.c.id == delivery_id)).first()
        if replay is None:
            raise NotFound(f"no delivery with id {delivery_id}")
        if replay.replay_of is None:
            raise NotFound(f"delivery {delivery_id} is not a replay, so it has no original to compare with")
        original = conn.execute(select(DELIVERIES).where(DELIVERIES.c.id == replay.replay_of)).first()
        if original is None:
            raise NotFound(f"delivery {delivery_id} replays delivery {replay.replay_of}, which is no longer stored")
    left, left_cut = _lines(bytes(original.body))
    right, right_cut = _lines(bytes(replay.body))
    sides = (("original", left_cut), ("replay", right_cut))
    cut = [f"the {side}'s first {DIFF_LINES:,} lines" for side, was in sides if was]
    head = _shared_head(left, right)
    tail = _shared_head(left[head:][::-1], right[head:][::-1])
    too_large = (len(left) - head - tail) * (len(right) - head - tail) > COMPARE_CELLS
    if too_large:
        cut.insert(0, f"The bodies are too large to compare line by line: {len(left):,} and {len(right):,} lines")
    before, after = shown_headers(original.headers, admin=admin), shown_headers(replay.headers, admin=admin)
    names = sorted(set(before) | set(after))
    return DeliveryDiff(
        original_id=original.id,
        replay_id=replay.id,
        fields=[_change(name, getattr(original, name), getattr(replay, name)) for name in FIELDS],
        headers=[_change(name, before.get(name), after.get(name)) for name in names],
        body_same=bytes(original.body) == bytes(replay.body),
        unified="" if too_large else _unified(left, right, original.id, replay.id),
        side_by_side=[] if too_large else _side_by_side(left, right),
        note=_note(cut, too_large=too_large),
        too_large=too_large,
    )


def _note(cut: list[str], *, too_large: bool) -> str:
    if too_large:
        return ". ".join(cut[:1] + ["Read " + " and ".join(cut[1:])] * (len(cut) > 1)) + "."
    return ("Compared " + " and ".join(cut) + ".") if cut else ""


def _shared_head(left: list[str], right: list[str]) -> int:
    """How many lines both lists start with."""
    count = 0
    for a, b in zip(left, right, strict=False):
        if a != b:
            break
        count += 1
    return count


def _unified(left: list[str], right: list[str], original_id: int, replay_id: int) -> str:
    return "\n".join(
        difflib.unified_diff(
            left, right, f"delivery {original_id} (original)", f"delivery {replay_id} (replay)", lineterm=""
        )
    )


def _change(name: str, original: Any, replay: Any) -> Change:
    def text(value: Any) -> str | None:
        return None if value is None else str(value).lower() if isinstance(value, bool) else str(value)

    return Change(name=name, original=text(original), replay=text(replay), same=original == replay)


def _lines(body: bytes) -> tuple[list[str], bool]:
    """The body as lines to compare (indented when it is JSON), at most ``DIFF_LINES``; and whether it was cut."""
    text = body.decode("utf-8", "replace")
    with contextlib.suppress(ValueError, RecursionError):  # not JSON: compared as it is
        text = json.dumps(json.loads(text), indent=2, ensure_ascii=False)
    lines = [line[:LINE_CHARS] for line in text.splitlines()]
    return lines[:DIFF_LINES], len(lines) > DIFF_LINES


def _side_by_side(left: list[str], right: list[str]) -> list[SideBySideLine]:
    rows: list[SideBySideLine] = []
    for op, i1, i2, j1, j2 in difflib.SequenceMatcher(None, left, right, autojunk=False).get_opcodes():
        if op == "equal":
            rows += [
                SideBySideLine(tag="same", original_no=i + 1, original=left[i], replay_no=j + 1, replay=right[j])
                for i, j in zip(range(i1, i2), range(j1, j2), strict=True)
            ]
            continue
        paired = min(i2 - i1, j2 - j1) if op == "replace" else 0
        for k in range(paired):
            i, j = i1 + k, j1 + k
            rows.append(
                SideBySideLine(tag="changed", original_no=i + 1, original=left[i], replay_no=j + 1, replay=right[j])
            )
        rows += [
            SideBySideLine(tag="removed", original_no=i + 1, original=left[i], replay_no=None, replay=None)
            for i in range(i1 + paired, i2)
        ]
        rows += [
            SideBySideLine(tag="added", original_no=None, original=None, replay_no=j + 1, replay=right[j])
            for j in range(j1 + paired, j2)
        ]
    return rows
