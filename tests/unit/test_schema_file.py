"""docs/schema.graphql is the live GraphQL schema, so what users read is what the server serves.

Regenerate it with `make schema` (or `python -m tests.unit.test_schema_file`)."""

from __future__ import annotations

from pathlib import Path

SCHEMA_FILE = Path(__file__).resolve().parents[2] / "docs" / "schema.graphql"
HEADER = ("# Headwater's GraphQL schema, exported from the live schema by `make schema`.\n"
          "# Do not edit: change the schema in headwater/api and run `make schema`.\n\n")


def live_sdl() -> str:
    from headwater.api.graphql import schema

    return HEADER + schema.as_str().rstrip("\n") + "\n"


def test_docs_schema_graphql_is_the_live_schema() -> None:
    assert SCHEMA_FILE.exists(), "docs/schema.graphql is missing: run `make schema`"
    assert SCHEMA_FILE.read_text() == live_sdl(), (
        "docs/schema.graphql differs from the live GraphQL schema: run `make schema` to "
        "regenerate it and commit the result")


if __name__ == "__main__":
    SCHEMA_FILE.write_text(live_sdl())
    print(f"wrote {SCHEMA_FILE}")
