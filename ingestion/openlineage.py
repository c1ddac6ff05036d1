"""The OpenLineage 2-0-x event envelope and the facets Headwater reads, as typed dicts that
Pydantic validates.

Only what Headwater interprets is typed; every other key (custom facets, producer extensions)
passes through untouched and is stored as-is. TypedDicts rather than models: validation stays
in pydantic-core and builds plain dicts, about ten times faster than model instances on
realistic events. Errors carry their location, which ``InvalidEvent`` turns into JSON pointers.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Annotated, Any, Literal, NotRequired
from uuid import UUID

from pydantic import AfterValidator, ConfigDict, StringConstraints, TypeAdapter, ValidationError
from pydantic_core import PydanticCustomError
from typing_extensions import TypedDict

from headwater.catalog.errors import Invalid, Malformed

EventType = Literal["START", "RUNNING", "COMPLETE", "ABORT", "FAIL", "OTHER"]
OPEN = ConfigDict(extra="allow")

# C0 and C1 control characters and DEL: a name holding one (a NUL above all) is stored but
# can never be asked for again, and a log line or a terminal printing it lies. Checked by a
# pattern in pydantic-core (no Python call per name); ``InvalidEvent`` words the error.
_PRINTABLE = "^[^\\x00-\\x1f\\x7f-\\x9f]*$"
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def _message(err: Any) -> str:
    """A validation error's message; a control character is named with its position."""
    if err["type"] == "string_pattern_mismatch" and err.get("ctx", {}).get(
            "pattern") == _PRINTABLE and isinstance(err.get("input"), str):
        m = _CONTROL.search(err["input"])
        if m:
            return (f"must not contain control characters: found U+{ord(m.group()):04X} at "
                    f"position {m.start()}")
    return str(err["msg"])


def _utc_representable(v: datetime) -> datetime:
    try:
        (v if v.tzinfo else v.replace(tzinfo=UTC)).astimezone(UTC)
    except OverflowError:
        raise PydanticCustomError("datetime_range", "is out of range once converted to UTC"
                                  ) from None
    return v


# Namespaces, names and field names: non-empty, no control characters.
Name = Annotated[str, StringConstraints(min_length=1, pattern=_PRINTABLE)]
# A field name that may be empty (a tag's ``field``: empty means the dataset itself).
Text = Annotated[str, StringConstraints(pattern=_PRINTABLE)]
Time = Annotated[datetime, AfterValidator(_utc_representable)]


def _absolute_uri(v: str) -> str:
    if ":" not in v:
        raise ValueError("must be an absolute URI")
    return v


Uri = Annotated[str, StringConstraints(min_length=1), AfterValidator(_absolute_uri)]


def escape(part: object) -> str:
    """One JSON-pointer reference token (RFC 6901)."""
    return str(part).replace("~", "~0").replace("/", "~1")


class InvalidEvent(Invalid):
    """An event that cannot be stored, with every problem located by JSON pointer.

    ``summary`` is one sentence for a person (what happened to the event, what to do); the
    located ``errors`` say what to fix."""

    def __init__(self, errors: list[dict[str, str]], prefix: str = "",
                 summary: str | None = None) -> None:
        super().__init__(errors, prefix)
        self.summary = summary

    def __reduce__(self) -> tuple[type[InvalidEvent], tuple[Any, ...]]:  # type: ignore[override]
        # With its summary (the ingestion process sends it to the server).
        return type(self), (self.errors, "", self.summary)

    @classmethod
    def from_pydantic(cls, exc: ValidationError, skip: int = 0) -> InvalidEvent:
        errors = []
        for err in exc.errors(include_url=False):
            loc = err["loc"][skip:]
            if loc and loc[-1] == "[key]":  # a bad key: point at its member
                loc = loc[:-1]
            pointer = "".join("/" + escape(p) for p in loc)
            errors.append({"pointer": pointer, "message": _message(err)})
        return cls(errors)


class MalformedEvent(InvalidEvent, Malformed):
    """The body is not JSON (or not a decodable encoding): nothing could be validated."""


class _RequiredName(TypedDict):
    __pydantic_config__ = OPEN  # type: ignore[misc]
    name: Name


class SchemaFieldEntry(_RequiredName, total=False):
    type: str | None
    description: str | None
    fields: list[SchemaFieldEntry] | None


class SchemaFacet(TypedDict, total=False):
    __pydantic_config__ = OPEN  # type: ignore[misc]
    fields: list[SchemaFieldEntry]


class Transformation(TypedDict):
    __pydantic_config__ = OPEN  # type: ignore[misc]
    type: Name
    subtype: NotRequired[str | None]
    description: NotRequired[str | None]
    masking: NotRequired[bool | None]


class InputField(TypedDict):
    __pydantic_config__ = OPEN  # type: ignore[misc]
    namespace: Name
    name: Name
    field: Name
    transformations: NotRequired[list[Transformation] | None]


class ColumnLineageEntry(TypedDict):
    __pydantic_config__ = OPEN  # type: ignore[misc]
    inputFields: list[InputField]
    transformationDescription: NotRequired[str | None]
    transformationType: NotRequired[str | None]


class ColumnLineageFacet(TypedDict, total=False):
    __pydantic_config__ = OPEN  # type: ignore[misc]
    fields: dict[Name, ColumnLineageEntry]
    dataset: list[InputField] | None


class Tag(TypedDict):
    __pydantic_config__ = OPEN  # type: ignore[misc]
    key: Name
    value: NotRequired[str | None]
    source: NotRequired[str | None]
    field: NotRequired[Text | None]


class TagsFacet(TypedDict, total=False):
    __pydantic_config__ = OPEN  # type: ignore[misc]
    tags: list[Tag]


class Owner(TypedDict):
    __pydantic_config__ = OPEN  # type: ignore[misc]
    name: Name
    type: NotRequired[str | None]


class OwnershipFacet(TypedDict, total=False):
    __pydantic_config__ = OPEN  # type: ignore[misc]
    owners: list[Owner]


class DocumentationFacet(TypedDict, total=False):
    __pydantic_config__ = OPEN  # type: ignore[misc]
    description: str | None


class SymlinkIdentifier(TypedDict):
    __pydantic_config__ = OPEN  # type: ignore[misc]
    namespace: Name
    name: Name
    type: NotRequired[str | None]


class SymlinksFacet(TypedDict, total=False):
    __pydantic_config__ = OPEN  # type: ignore[misc]
    identifiers: list[SymlinkIdentifier]


class LifecycleFacet(TypedDict):
    __pydantic_config__ = OPEN  # type: ignore[misc]
    lifecycleStateChange: Name


class Assertion(TypedDict):
    __pydantic_config__ = OPEN  # type: ignore[misc]
    assertion: Name
    success: bool
    column: NotRequired[Text | None]
    name: NotRequired[Text | None]  # dbt-ol: the test's own name


class AssertionsFacet(TypedDict, total=False):
    __pydantic_config__ = OPEN  # type: ignore[misc]
    assertions: list[Assertion]


class DatasetFacets(TypedDict, total=False):
    __pydantic_config__ = OPEN  # type: ignore[misc]
    schema: SchemaFacet
    columnLineage: ColumnLineageFacet
    tags: TagsFacet
    ownership: OwnershipFacet
    documentation: DocumentationFacet
    symlinks: SymlinksFacet
    lifecycleStateChange: LifecycleFacet
    dataQualityAssertions: AssertionsFacet


class InputFacets(TypedDict, total=False):
    __pydantic_config__ = OPEN  # type: ignore[misc]
    dataQualityAssertions: AssertionsFacet


class Dataset(TypedDict):
    __pydantic_config__ = OPEN  # type: ignore[misc]
    namespace: Name
    name: Name
    facets: NotRequired[DatasetFacets]
    inputFacets: NotRequired[InputFacets]
    outputFacets: NotRequired[dict[str, Any]]


class SqlFacet(TypedDict):
    __pydantic_config__ = OPEN  # type: ignore[misc]
    query: str


class JobTypeFacet(TypedDict, total=False):
    __pydantic_config__ = OPEN  # type: ignore[misc]
    processingType: str | None
    integration: str | None
    jobType: str | None


class JobFacets(TypedDict, total=False):
    __pydantic_config__ = OPEN  # type: ignore[misc]
    sql: SqlFacet
    jobType: JobTypeFacet
    documentation: DocumentationFacet
    ownership: OwnershipFacet
    tags: TagsFacet


class Job(TypedDict):
    __pydantic_config__ = OPEN  # type: ignore[misc]
    namespace: Name
    name: Name
    facets: NotRequired[JobFacets]


class ParentRun(TypedDict):
    __pydantic_config__ = OPEN  # type: ignore[misc]
    runId: UUID


class ParentFacet(TypedDict):
    __pydantic_config__ = OPEN  # type: ignore[misc]
    run: ParentRun
    job: NotRequired[dict[str, Any]]


class ErrorMessageFacet(TypedDict):
    __pydantic_config__ = OPEN  # type: ignore[misc]
    message: str


class NominalTimeFacet(TypedDict):
    __pydantic_config__ = OPEN  # type: ignore[misc]
    nominalStartTime: Time
    nominalEndTime: NotRequired[Time | None]


class RunFacets(TypedDict, total=False):
    __pydantic_config__ = OPEN  # type: ignore[misc]
    parent: ParentFacet
    errorMessage: ErrorMessageFacet
    nominalTime: NominalTimeFacet
    tags: TagsFacet


class Run(TypedDict):
    __pydantic_config__ = OPEN  # type: ignore[misc]
    runId: UUID
    facets: NotRequired[RunFacets]


# Envelopes check only that datasets are a list of objects; each dataset is validated on its
# own (see ingestion.normalize), so a dataset seen before costs nothing to validate again.
class RunEvent(TypedDict):
    __pydantic_config__ = OPEN  # type: ignore[misc]
    eventTime: Time
    producer: Uri
    schemaURL: Uri
    eventType: NotRequired[EventType | None]
    run: Run
    job: Job
    inputs: NotRequired[list[dict[str, Any]] | None]
    outputs: NotRequired[list[dict[str, Any]] | None]


class DatasetEvent(TypedDict):
    __pydantic_config__ = OPEN  # type: ignore[misc]
    eventTime: Time
    producer: Uri
    schemaURL: Uri
    dataset: dict[str, Any]


class JobEvent(TypedDict):
    __pydantic_config__ = OPEN  # type: ignore[misc]
    eventTime: Time
    producer: Uri
    schemaURL: Uri
    job: Job
    inputs: NotRequired[list[dict[str, Any]] | None]
    outputs: NotRequired[list[dict[str, Any]] | None]


DATASET: TypeAdapter[Dataset] = TypeAdapter(Dataset)
_ADAPTERS: dict[str, TypeAdapter[Any]] = {
    "run": TypeAdapter(RunEvent),
    "dataset": TypeAdapter(DatasetEvent),
    "job": TypeAdapter(JobEvent),
}


def event_kind(raw: Any) -> str:
    """Pick the event kind by its keys, as the spec's ``oneOf`` does."""
    if not isinstance(raw, dict):
        raise InvalidEvent([{"pointer": "", "message": "an OpenLineage event must be a JSON object"}])
    for key in ("run", "dataset", "job"):
        if key in raw:
            return key
    raise InvalidEvent([{
        "pointer": "",
        "message": "not an OpenLineage event: expected 'run' (RunEvent), 'dataset' "
        "(DatasetEvent) or 'job' (JobEvent)",
    }])


def validate_event(raw: Any) -> tuple[str, dict[str, Any]]:
    """(kind, validated envelope). The validated copy has typed values (datetime, UUID)."""
    kind = event_kind(raw)
    try:
        return kind, _ADAPTERS[kind].validate_python(raw)
    except ValidationError as exc:
        raise InvalidEvent.from_pydantic(exc) from None


def validate_dataset(raw: Any) -> dict[str, Any]:
    try:
        return dict(DATASET.validate_python(raw))
    except ValidationError as exc:
        raise InvalidEvent.from_pydantic(exc) from None
