"""The answerer columns (``app.answerers``), shared by the tables and public shapes that say who answered."""

from __future__ import annotations

from pydantic import computed_field
from sqlmodel import Field, SQLModel

from app.answerers import Answerer
from app.models.columns import EnumText
from app.states import AnswererKind


class AnsweredColumns(SQLModel):
    """Who answered: a kind, and the handler's version, the person's name or the replayed run's task_id."""

    answered_kind: AnswererKind = Field(default=AnswererKind.PERSON, sa_type=EnumText(AnswererKind))
    answered_version: int | None = None
    answered_user: str | None = None
    answered_replay_of: int | None = None

    def answerer(self) -> Answerer:
        return Answerer(
            kind=self.answered_kind,
            version=self.answered_version,
            user=self.answered_user,
            replay_of=self.answered_replay_of,
        )


class MaybeAnsweredColumns(SQLModel):
    """``AnsweredColumns`` for what may not be answered yet (a round): every column null until it is."""

    answered_kind: AnswererKind | None = Field(default=None, sa_type=EnumText(AnswererKind))
    answered_version: int | None = None
    answered_user: str | None = None
    answered_replay_of: int | None = None

    def answerer(self) -> Answerer | None:
        if self.answered_kind is None:
            return None
        return Answerer(
            kind=self.answered_kind,
            version=self.answered_version,
            user=self.answered_user,
            replay_of=self.answered_replay_of,
        )


class AnsweredPublic(AnsweredColumns):
    """The answerer columns plus ``answered_by``, the text shown ("rules handler v3", "person: ci")."""

    @computed_field  # type: ignore[prop-decorator]
    @property
    def answered_by(self) -> str:
        return self.answerer().text


class MaybeAnsweredPublic(MaybeAnsweredColumns):
    """``MaybeAnsweredColumns`` plus ``answered_by`` (null until answered)."""

    @computed_field  # type: ignore[prop-decorator]
    @property
    def answered_by(self) -> str | None:
        answerer = self.answerer()
        return answerer.text if answerer is not None else None
