"""How pages get their data: GraphQL, executed in-process against the public schema with the
signed-in user's role, so a page can show nothing the API would not (same authorisation, same
cost limits, same deadline), and every page's query can be opened in GraphiQL as it stands.
What the schema does not offer (the erasure workflow's list, audit and review closing) comes
from the same service calls the REST routes make, behind the same role checks."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import Any

from fastapi import Request

from headwater.api import graphql
from headwater.api.auth import check_role
from headwater.api.services import Services
from headwater.catalog.errors import Forbidden
from headwater.catalog.tokens import RANK


@dataclass(frozen=True)
class User:
    name: str
    role: str
    csrf: str  # "" when authentication is off

    def can(self, role: str) -> bool:
        return RANK[self.role] >= RANK[role]


class PageError(Exception):
    """A page that cannot be shown, with its HTTP status and a message for a person."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


class QueryFailed(Exception):
    def __init__(self, messages: list[str], codes: list[str]) -> None:
        super().__init__("; ".join(messages))
        self.messages = messages
        self.codes = codes


def services(request: Request) -> Services:
    found: Services = request.app.state.services
    return found


async def gql(request: Request, user: User, document: str,
              variables: dict[str, Any] | None = None) -> dict[str, Any]:
    """The data of ``document`` run as ``user``, or ``QueryFailed`` with the API's messages."""
    settings = request.app.state.settings
    context = graphql.Context(services(request), user.role, user.name,
                              settings.classification_suggestions, request.app.state.limits)
    result = await graphql.schema.execute(document, variables, context_value=context)
    if result.errors:
        raise QueryFailed([e.message for e in result.errors],
                          [str((e.extensions or {}).get("code", "")) for e in result.errors])
    return result.data or {}


def require(user: User, role: str) -> None:
    """Server-side refusal of what the page would not have offered."""
    try:
        check_role(user.role, role)
    except Forbidden as exc:
        raise PageError(403, str(exc)) from None


@cache
def has_field(type_name: str, field_name: str) -> bool:
    """Whether the schema has a field (pages use the richer fields once they exist)."""
    found = graphql.schema.get_type_by_name(type_name)
    return found is not None and any(
        f.python_name == field_name or f.graphql_name == field_name
        for f in getattr(found, "fields", []))
