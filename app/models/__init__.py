"""The SQLModel tables and the public shapes, one import away: ``from app.models import Round``.

``tables`` holds runs, deliveries, rounds, tool calls and results, and timeline events; ``handler_tables``
handlers, their versions, drafts and the outbox; ``public`` what the JSON API returns and the UI shows;
``auth_tables`` users, sign-in sessions and tickets, and API tokens;
``audit_tables`` the audit of changes; ``rule_tables`` rules handlers' counts and runs' state; ``columns`` the column type that stores a ``StrEnum`` (``app.states``) as its plain value.
"""

from app.models.audit_tables import AuditEntry, AuditPublic
from app.models.auth_tables import ApiToken, SignInSession, SignInTicket, TokenPublic, User, UserPublic
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
from app.models.tables import Agent, Delivery, Event, Round, Run, Setting, ToolCallRow, ToolResultRow

__all__ = [
    "Agent",
    "ApiToken",
    "AuditEntry",
    "AuditPublic",
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
    "TokenPublic",
    "ToolCallPublic",
    "ToolCallRow",
    "ToolResultPublic",
    "ToolResultRow",
    "User",
    "UserPublic",
]
