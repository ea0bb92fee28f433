"""The named states and kinds of the console: every closed set of words a column, an API shape or a page uses.

Each is a ``StrEnum``: a member *is* its lowercase string, so the database stores the same text as ever
(``'pending'``, ``'applied'``; the partial unique index ``verdict IN ('applied', 'history')`` keeps working),
JSON carries the plain word, and the OpenAPI schema lists the allowed values.

- ``RunStatusName``: the run statuses the contract lists (contract, "Run statuses": ``queued``, ``running``,
  ``awaiting_tool_calls``, ``completed``, ``failed``, ``cancelled``, ``expired``) plus the console's own
  ``lost`` (the platform answered 404 at reconciliation). ``Run.status`` stays a plain string: an unknown
  status is stored and shown as it came and treated as non-terminal (contract: "A receiver must accept an
  unknown status string"). ``TERMINAL_STATUSES`` are the contract's four terminal ones.
- ``Verdict``: what became of one webhook request (README, "Webhook"): ``applied`` (moved the run),
  ``history`` (a ``sequence`` not above the newest: recorded only, contract "sequence"), ``duplicate`` (a
  ``webhook-id`` already stored, contract "Webhook delivery"), or a refusal: ``bad_headers``,
  ``bad_timestamp`` (more than 5 minutes off), ``bad_signature``, ``bad_body``, ``too_large`` (a body over
  ``TOOLDESK_MAX_BODY_BYTES``, answered 413 without reading the rest).
- ``RoundState``: one round's life: ``pending`` (waiting for answers), ``submitting`` (claimed, in the outbox),
  ``submitted`` (the platform took it), ``expired`` (past ``expires_at``, or the platform answered 410),
  ``closed`` (the run moved on, or the platform answered 404 or 409).
- ``OutboxState``: one stored ``send_tool_responses``: ``pending`` (to send or retry), ``sent``, ``failed``
  (refused by the platform).
- ``AttemptOutcome``: what one outbox delivery attempt did: ``sent``, ``retrying`` (unreachable or 5xx),
  ``refused`` (4xx).
- ``EventKind``: one line of a run's timeline: ``started``, ``state`` (an applied status), ``history``,
  ``duplicate``, ``refused`` (written by older versions for a refused delivery naming the task; an unverified
  request is no longer put on a run's timeline, and these lines are not shown), ``round_opened``, ``round_closed``,
  ``round_submitted``, ``round_refused``, ``replay`` (a replay started from or as this run), ``lost``,
  ``checked`` (the console asked the platform once about the run, after it refused a submission or a cancel).
- ``BulkAction`` and ``BulkOutcome``: what ``POST /api/runs/bulk`` (the Runs page's selection) does to each run,
  ``cancel`` or ``run_again``, and what became of it: ``sent`` (cancel asked; the webhook confirms it),
  ``started`` (a new run), ``skipped`` (already over: nothing to cancel), ``refused`` (the platform said no),
  ``not_found`` (no such run in the console).
- ``DurationKind``: one bar of a run's duration view: ``platform`` (waiting on the platform), ``open`` (a round
  open until answered), ``answered`` (answered until the platform's next delivery).
- ``HandlerKind``: how a handler answers (README, "Handlers"): ``static``, ``rules``, ``python``.
- ``HandlerMode``: what a handler does when a round arrives: ``manual`` (a person answers), ``suggest`` (its
  answer pre-fills the form), ``auto`` (it answers; a round whose calls are all auto submits itself).
- ``DraftMode``: how a stored draft answer is used: ``suggest`` and ``auto`` as the handler's mode, ``replay``
  (an answer copied from the original run, sent without a person), ``typed`` (what a person typed in the inbox
  and has not sent yet: kept per person, brought back when the card is drawn again).
- ``HandlerSet``: which handlers answer a run's rounds: ``saved`` (the handlers people save, with their modes) or
  ``demo`` (the demo's own set, ``fixtures/handlers``, all in auto mode: *Run demo* marks its runs so).
- ``AnswererKind``: who answered a call or a round (``app.answerers`` derives the text shown).
- ``Role``: what a signed-in user or an API token may do (README, "Security"): ``viewer`` reads everything but
  secrets, ``answerer`` also answers rounds and starts and cancels runs, ``admin`` also edits handlers, modes,
  settings, imports and exports, replays, users and tokens. Each role includes the ones before it.
- ``AuditAction``: what an Audit page line records (``app.services.audit``): a handler saved, restored, imported,
  switched to another mode or deleted; the webhook secret rotated; a user added, changed or removed; an API token
  created or revoked.
- ``Via``: how a request proved who it is: ``session`` (the sign-in cookie), ``token`` (``Authorization: Bearer``),
  ``off`` (``TOOLDESK_AUTH=off``: nobody signs in).
"""

from __future__ import annotations

from enum import StrEnum


class RunStatusName(StrEnum):
    """A run status the console knows (contract, "Run statuses"), plus its own ``lost``."""

    QUEUED = "queued"
    RUNNING = "running"
    AWAITING_TOOL_CALLS = "awaiting_tool_calls"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"
    EXPIRED = "expired"
    LOST = "lost"


TERMINAL_STATUSES = frozenset(
    {RunStatusName.COMPLETED, RunStatusName.FAILED, RunStatusName.CANCELLED, RunStatusName.EXPIRED}
)
"""The four terminal run statuses (contract, "Run statuses")."""


class Verdict(StrEnum):
    """What became of one webhook request; the last five are refusals (4xx)."""

    APPLIED = "applied"
    HISTORY = "history"
    DUPLICATE = "duplicate"
    BAD_HEADERS = "bad_headers"
    BAD_TIMESTAMP = "bad_timestamp"
    BAD_SIGNATURE = "bad_signature"
    BAD_BODY = "bad_body"
    TOO_LARGE = "too_large"


REFUSED_VERDICTS = (
    Verdict.BAD_HEADERS,
    Verdict.BAD_TIMESTAMP,
    Verdict.BAD_SIGNATURE,
    Verdict.BAD_BODY,
    Verdict.TOO_LARGE,
)
ACCEPTED_VERDICTS = (Verdict.APPLIED, Verdict.HISTORY, Verdict.DUPLICATE)


class RoundState(StrEnum):
    """A round's life: pending, then submitting, then submitted; or expired or closed."""

    PENDING = "pending"
    SUBMITTING = "submitting"
    SUBMITTED = "submitted"
    EXPIRED = "expired"
    CLOSED = "closed"


class OutboxState(StrEnum):
    """A stored submission: pending (to send or retry), sent, or failed (refused)."""

    PENDING = "pending"
    SENT = "sent"
    FAILED = "failed"


class AttemptOutcome(StrEnum):
    """One outbox delivery attempt: sent, retrying (unreachable or 5xx) or refused (4xx)."""

    SENT = "sent"
    RETRYING = "retrying"
    REFUSED = "refused"


class EventKind(StrEnum):
    """One line of a run's timeline."""

    STARTED = "started"
    STATE = "state"
    HISTORY = "history"
    DUPLICATE = "duplicate"
    REFUSED = "refused"
    ROUND_OPENED = "round_opened"
    ROUND_CLOSED = "round_closed"
    ROUND_SUBMITTED = "round_submitted"
    ROUND_REFUSED = "round_refused"
    REPLAY = "replay"
    LOST = "lost"
    CHECKED = "checked"


class BulkAction(StrEnum):
    """What one bulk request does to every run it names."""

    CANCEL = "cancel"
    RUN_AGAIN = "run_again"


class BulkOutcome(StrEnum):
    """What became of one run of a bulk request."""

    SENT = "sent"
    STARTED = "started"
    SKIPPED = "skipped"
    REFUSED = "refused"
    NOT_FOUND = "not_found"


class DurationKind(StrEnum):
    """One bar of a run's duration view."""

    PLATFORM = "platform"
    OPEN = "open"
    ANSWERED = "answered"


class HandlerKind(StrEnum):
    """How a handler answers: a fixed output, rules over the arguments, or a Python snippet."""

    STATIC = "static"
    RULES = "rules"
    PYTHON = "python"


class HandlerMode(StrEnum):
    """What a handler does when a round arrives."""

    MANUAL = "manual"
    SUGGEST = "suggest"
    AUTO = "auto"


class DraftMode(StrEnum):
    """How a draft answer is used: suggested to a person, sent as is (auto, replay), or a person's own unsent
    text (typed)."""

    SUGGEST = "suggest"
    AUTO = "auto"
    REPLAY = "replay"
    TYPED = "typed"


HANDLER_DRAFT_MODES = (DraftMode.SUGGEST, DraftMode.AUTO, DraftMode.REPLAY)
"""The drafts a handler or a replay made (``RoundPublic.drafts``, the responder); not a person's typed ones."""


class HandlerSet(StrEnum):
    """Which handlers answer a run: the saved ones, the demo's own set (``app.services.demo``), a cassette it was
    started with (``app.services.playback``: its entries answer every call; saved handlers none), or a robustness
    sweep's (``app.services.sweep_answers``: the swept tool gets its cell's answer, the other tools their handlers)."""

    SAVED = "saved"
    DEMO = "demo"
    CASSETTE = "cassette"
    SWEEP = "sweep"


class SweepCellKind(StrEnum):
    """One kind of answer a robustness sweep gives the swept tool (``app.services.sweep_answers``)."""

    NORMAL = "normal"
    EMPTY = "empty"
    IS_ERROR = "is_error"
    LARGE = "large"
    UNICODE = "unicode"
    MALFORMED_JSON = "malformed_json"
    NO_ANSWER = "no_answer"


class SweepOutcome(StrEnum):
    """How one run of a sweep ended: a terminal run status, ``lost``, ``not_started`` (the platform refused the
    start), or ``running`` while it is not over."""

    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"
    EXPIRED = "expired"
    CANCELLED = "cancelled"
    LOST = "lost"
    NOT_STARTED = "not_started"


class AnswererKind(StrEnum):
    """Who answered a tool call or a round.

    - ``person``: someone in the inbox, or a person or script through ``POST /api/rounds/{id}/responses``
      (the name given is kept as the answerer's user);
    - ``static``, ``rules``, ``python``: a handler of that kind (its version is kept);
    - ``replay``: an answer copied from the original run by a replay (its task_id is kept);
    - ``handlers``: a whole round submitted by handlers in auto mode (each result names its own handler);
    - ``fallback``: a tool's fallback handler answered a round nobody had answered shortly before it expired
      (``app.services.fallback``): on a call, with the handler's version; on the round, without one;
    - ``cassette``: a cassette's entry played back (``app.services.playback``; the cassette's name is kept as the
      answerer's user).
    """

    PERSON = "person"
    STATIC = "static"
    RULES = "rules"
    PYTHON = "python"
    REPLAY = "replay"
    HANDLERS = "handlers"
    FALLBACK = "fallback"
    CASSETTE = "cassette"


class CassetteMatching(StrEnum):
    """How a cassette's entries answer tool calls on playback (``app.services.cassette_match``): ``strict`` (the
    next entry, same tool, arguments equal as JSON) or ``loose`` (same tool, the unused entry whose arguments
    overlap most)."""

    STRICT = "strict"
    LOOSE = "loose"


class Role(StrEnum):
    """What a user or an API token may do; each role includes the ones before it (``Role.rank``)."""

    VIEWER = "viewer"
    ANSWERER = "answerer"
    ADMIN = "admin"

    @property
    def rank(self) -> int:
        """0 for viewer, 1 for answerer, 2 for admin: ``a.rank >= b.rank`` means ``a`` may do what ``b`` may."""
        return list(Role).index(self)


class Via(StrEnum):
    """How a request proved who it is: a session cookie, an API token, or nothing because sign-in is off."""

    SESSION = "session"
    TOKEN = "token"
    OFF = "off"


class AuditAction(StrEnum):
    """What one line of the audit records."""

    HANDLER_SAVED = "handler_saved"
    HANDLER_RESTORED = "handler_restored"
    HANDLER_IMPORTED = "handler_imported"
    MODE_CHANGED = "mode_changed"
    HANDLER_DELETED = "handler_deleted"
    SECRET_ROTATED = "secret_rotated"
    USER_ADDED = "user_added"
    USER_CHANGED = "user_changed"
    USER_REMOVED = "user_removed"
    TOKEN_CREATED = "token_created"
    TOKEN_REVOKED = "token_revoked"
