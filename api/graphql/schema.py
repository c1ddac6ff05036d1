"""The schema: Query and Mutation, bounds on what one query may ask for, and typed service
errors turned into GraphQL errors (message and ``extensions.code``, by ``api.problems``)."""

from __future__ import annotations

from typing import Any

import strawberry
from graphql import GraphQLError
from strawberry.extensions import MaxAliasesLimiter, MaxTokensLimiter, QueryDepthLimiter

from headwater.api.graphql.fast_lists import FastListExecutionContext
from headwater.api.graphql.query import Mutation, Query
from headwater.api.problems import describe, status_of
from headwater.catalog.errors import HeadwaterError

MAX_QUERY_DEPTH = 12


class Schema(strawberry.Schema):
    def process_errors(self, errors: list[GraphQLError],
                       execution_context: Any = None) -> None:
        """Errors a user can act on read as the service wrote them, with a code; only the
        unexpected ones are logged (with their traceback) as before."""
        unexpected = []
        for error in errors:
            original = error.original_error
            if isinstance(original, HeadwaterError):
                error.message = describe(original)
                error.extensions = {**(error.extensions or {}), "code": status_of(original)[1]}
            else:
                unexpected.append(error)
        super().process_errors(unexpected, execution_context)


# Bounds on what one query may ask for: nesting depth, aliases (fan-out) and size.
# (Instances work; strawberry's stubs only admit classes, hence the ignores.)
schema = Schema(query=Query, mutation=Mutation,
                execution_context_class=FastListExecutionContext, extensions=[
    QueryDepthLimiter(max_depth=MAX_QUERY_DEPTH),  # type: ignore[list-item]
    MaxAliasesLimiter(30),  # type: ignore[list-item]
    MaxTokensLimiter(5000),  # type: ignore[list-item]
])
