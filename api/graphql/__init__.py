"""The GraphQL schema of API.md (Strawberry), one module per area. Field names are contract."""

from headwater.api.graphql.context import Context
from headwater.api.graphql.schema import schema

__all__ = ["Context", "schema"]
