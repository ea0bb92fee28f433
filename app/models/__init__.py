"""The SQLModel tables and the public shapes, one import away: ``from app.models import Round``.

``tables`` holds runs, deliveries, rounds, tool calls and results, and timeline events; ``handler_tables``
handlers, their versions, drafts and the outbox; ``public`` what the JSON API returns and the UI shows;
``auth_tables`` users, sign-in sessions and tickets, and API tokens;
``audit_tables`` the audit of changes; ``cassette_tables`` cassettes and the runs that play one back; ``sweep_tables`` robustness sweeps and their runs; ``rule_tables`` rules handlers' counts and runs' state; ``columns`` the column type that stores a ``StrEnum`` (``app.states``) as its plain value.
``unmatched_tables`` keeps the calls no rule of a rules handler matched.
"""

from app.models.audit_tables import AuditEntry, AuditPublic
from app.models.auth_tables import ApiToken, SignInSession, SignInTicket, TokenPublic, User, UserPublic
from app.models.cassette_tables import Cassette, CassetteRun
from app.models.handler_tables import Draft, Handler, HandlerVersion, OutboxItem
from app.models.public import (
    DeliveryPublic,
    DeliverySummary,
    DraftPublic,
    EventPublic,
    HandlerPublic,
    RoundPublic,
    RunDetail,
    RunPublic,
    ToolCallPublic,
    ToolResultPublic,
)
from app.models.rule_tables import RuleCount, RunState
from app.models.sweep_tables import Sweep, SweepRun
from app.models.tables import Agent, Delivery, Event, Round, Run, Setting, ToolCallRow, ToolResultRow
from app.models.unmatched_tables import UnmatchedCall, UnmatchedCallPublic

__all__ = [
    "Agent",
    "ApiToken",
    "AuditEntry",
    "AuditPublic",
    "Cassette",
    "CassetteRun",
    "Delivery",
    "DeliveryPublic",
    "DeliverySummary",
    "Draft",
    "DraftPublic",
    "Event",
    "EventPublic",
    "Handler",
    "HandlerPublic",
    "HandlerVersion",
    "OutboxItem",
    "Round",
    "RoundPublic",
    "RuleCount",
    "Run",
    "RunDetail",
    "RunPublic",
    "RunState",
    "Setting",
    "SignInSession",
    "SignInTicket",
    "Sweep",
    "SweepRun",
    "TokenPublic",
    "ToolCallPublic",
    "ToolCallRow",
    "ToolResultPublic",
    "ToolResultRow",
    "UnmatchedCall",
    "UnmatchedCallPublic",
    "User",
    "UserPublic",
]
