"""Who answered a tool call or a round, as data: an ``AnswererKind`` plus what names the answerer.

Stored in four columns on rounds, tool results, drafts and outbox items (``answered_kind``,
``answered_version``, ``answered_user``, ``answered_replay_of``); the text a person reads ("rules handler v3",
"person: ci", "replay of run 1001") is derived from them by ``describe_answerer`` and nowhere else.

- ``person``: ``user`` is the name given (``console`` for the inbox; the ``answered_by`` field of
  ``POST /api/rounds/{id}/responses``, ``api`` when omitted);
- ``static``, ``rules``, ``python``: ``version`` is the handler's version that answered; a handler of the demo's
  own set (``app.services.demo``) has no version and ``user`` names the set (``demo``);
- ``replay``: ``replay_of`` is the task_id of the run whose answer was copied;
- ``handlers``: a round submitted by handlers in auto mode (each result names its own handler);
- ``fallback``: a fallback handler answered before the round expired (``app.services.fallback``): ``version`` is the
  handler's version on each call it answered, none on the round;
- ``cassette``: a cassette played back (``app.services.playback``): ``user`` is the cassette's name.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict

from app.states import AnswererKind, HandlerKind

INBOX_USER = "console"


class Answerer(BaseModel):
    """One answerer; ``text`` is what pages and the timeline show."""

    model_config = ConfigDict(frozen=True)

    kind: AnswererKind
    version: int | None = None
    user: str | None = None
    replay_of: int | None = None

    @classmethod
    def person(cls, user: str) -> Answerer:
        """A person or script, by the name they gave."""
        return cls(kind=AnswererKind.PERSON, user=user)

    @classmethod
    def handler(cls, kind: HandlerKind, version: int) -> Answerer:
        """Version ``version`` of a handler of ``kind``."""
        return cls(kind=AnswererKind(kind.value), version=version)

    @classmethod
    def from_set(cls, kind: HandlerKind, handler_set: str) -> Answerer:
        """A handler of ``kind`` from a set that is not saved, such as the demo's (no version to name)."""
        return cls(kind=AnswererKind(kind.value), user=handler_set)

    @classmethod
    def replay(cls, task_id: int) -> Answerer:
        """An answer copied from run ``task_id`` by a replay."""
        return cls(kind=AnswererKind.REPLAY, replay_of=task_id)

    @classmethod
    def cassette(cls, name: str) -> Answerer:
        """An entry of the cassette ``name`` played back (``app.services.playback``)."""
        return cls(kind=AnswererKind.CASSETTE, user=name)

    @property
    def text(self) -> str:
        return describe_answerer(kind=self.kind, version=self.version, user=self.user, replay_of=self.replay_of)

    def columns(self) -> dict[str, Any]:
        """The four column values: ``{"answered_kind": ..., "answered_version": ..., ...}``."""
        return {f"answered_{name}": value for name, value in self.model_dump().items()}


AUTO = Answerer(kind=AnswererKind.HANDLERS)
"""A round every call of which a handler in auto mode answered."""


def describe_answerer(*, kind: AnswererKind, version: int | None, user: str | None, replay_of: int | None) -> str:
    """The answerer as a person reads it: ``person: ci``, ``rules handler v3``, ``replay of run 1001``,
    ``handlers (auto)``, ``rules handler (demo set)``, ``fallback handler v2``, ``fallback (nobody answered
    before expiry)``."""
    if kind == AnswererKind.PERSON:
        return f"person: {user}" if user else "person"
    if kind == AnswererKind.REPLAY:
        return f"replay of run {replay_of}" if replay_of is not None else "replay"
    if kind == AnswererKind.HANDLERS:
        return "handlers (auto)"
    if kind == AnswererKind.CASSETTE:
        return f"cassette {user}" if user else "cassette"
    if kind == AnswererKind.FALLBACK:
        return f"fallback handler v{version}" if version is not None else "fallback (nobody answered before expiry)"
    if version is None and user:
        return f"{kind} handler ({user} set)"
    return f"{kind} handler v{version}" if version is not None else f"{kind} handler"
