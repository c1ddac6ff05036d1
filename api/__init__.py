"""HTTP surface: REST routes, GraphQL, authentication, health and metrics."""
