"""The OpenLineage 2-0-x event envelope and the facets Headwater reads, as Pydantic models.

Only what Headwater interprets is typed; every other key (custom facets, producer extensions)
passes through untouched and is stored as-is. Validation errors carry their location, which
``InvalidEvent`` turns into JSON pointers.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

EventType = Literal["START", "RUNNING", "COMPLETE", "ABORT", "FAIL", "OTHER"]


class _Open(BaseModel):
    model_config = ConfigDict(extra="allow", populate_by_name=True)


class InvalidEvent(ValueError):
    """An event that cannot be stored, with every problem located by JSON pointer."""

    def __init__(self, errors: list[dict[str, str]], prefix: str = "") -> None:
        self.errors = [{"pointer": prefix + e["pointer"], "message": e["message"]} for e in errors]
        super().__init__("; ".join(f"{e['pointer'] or '/'}: {e['message']}" for e in self.errors))

    @classmethod
    def from_pydantic(cls, exc: ValidationError) -> InvalidEvent:
        errors = []
        for err in exc.errors(include_url=False):
            pointer = "".join(
                "/" + str(p).replace("~", "~0").replace("/", "~1") for p in err["loc"]
            )
            errors.append({"pointer": pointer, "message": err["msg"]})
        return cls(errors)


class SchemaField(_Open):
    name: str = Field(min_length=1)
    type: str | None = None
    description: str | None = None
    fields: list[SchemaField] | None = None  # nested (struct) fields


class SchemaFacet(_Open):
    fields: list[SchemaField] = Field(default_factory=list)


class Transformation(_Open):
    type: str
    subtype: str | None = None
    description: str | None = None
    masking: bool | None = None


class InputField(_Open):
    namespace: str = Field(min_length=1)
    name: str = Field(min_length=1)
    field: str = Field(min_length=1)
    transformations: list[Transformation] | None = None


class ColumnLineageEntry(_Open):
    inputFields: list[InputField] = Field(default_factory=list)
    transformationDescription: str | None = None
    transformationType: str | None = None


class ColumnLineageFacet(_Open):
    fields: dict[str, ColumnLineageEntry] = Field(default_factory=dict)
    dataset: list[InputField] | None = None


class Tag(_Open):
    key: str = Field(min_length=1)
    value: str | None = None
    source: str | None = None
    field: str | None = None


class TagsFacet(_Open):
    tags: list[Tag] = Field(default_factory=list)


class Owner(_Open):
    name: str = Field(min_length=1)
    type: str | None = None


class OwnershipFacet(_Open):
    owners: list[Owner] = Field(default_factory=list)


class DocumentationFacet(_Open):
    description: str | None = None


class SymlinkIdentifier(_Open):
    namespace: str
    name: str
    type: str | None = None


class SymlinksFacet(_Open):
    identifiers: list[SymlinkIdentifier] = Field(default_factory=list)


class LifecycleFacet(_Open):
    lifecycleStateChange: str


class Assertion(_Open):
    assertion: str = Field(min_length=1)
    success: bool
    column: str | None = None


class AssertionsFacet(_Open):
    assertions: list[Assertion] = Field(default_factory=list)


class DatasetFacets(_Open):
    schema_: SchemaFacet | None = Field(default=None, alias="schema")
    columnLineage: ColumnLineageFacet | None = None
    tags: TagsFacet | None = None
    ownership: OwnershipFacet | None = None
    documentation: DocumentationFacet | None = None
    symlinks: SymlinksFacet | None = None
    lifecycleStateChange: LifecycleFacet | None = None
    dataQualityAssertions: AssertionsFacet | None = None


class InputFacets(_Open):
    dataQualityAssertions: AssertionsFacet | None = None


class Dataset(_Open):
    namespace: str = Field(min_length=1)
    name: str = Field(min_length=1)
    facets: DatasetFacets = Field(default_factory=DatasetFacets)
    inputFacets: InputFacets | None = None
    outputFacets: dict[str, Any] | None = None


class SqlFacet(_Open):
    query: str


class JobTypeFacet(_Open):
    processingType: str | None = None
    integration: str | None = None
    jobType: str | None = None


class JobFacets(_Open):
    sql: SqlFacet | None = None
    jobType: JobTypeFacet | None = None
    documentation: DocumentationFacet | None = None
    ownership: OwnershipFacet | None = None
    tags: TagsFacet | None = None


class Job(_Open):
    namespace: str = Field(min_length=1)
    name: str = Field(min_length=1)
    facets: JobFacets = Field(default_factory=JobFacets)


class ParentRun(_Open):
    runId: UUID


class ParentFacet(_Open):
    run: ParentRun
    job: dict[str, Any] | None = None


class ErrorMessageFacet(_Open):
    message: str


class NominalTimeFacet(_Open):
    nominalStartTime: datetime
    nominalEndTime: datetime | None = None


class RunFacets(_Open):
    parent: ParentFacet | None = None
    errorMessage: ErrorMessageFacet | None = None
    nominalTime: NominalTimeFacet | None = None
    tags: TagsFacet | None = None


class Run(_Open):
    runId: UUID
    facets: RunFacets = Field(default_factory=RunFacets)


class _Event(_Open):
    eventTime: datetime
    producer: str = Field(min_length=1)
    schemaURL: str = Field(min_length=1)

    @field_validator("producer", "schemaURL")
    @classmethod
    def _uri(cls, v: str) -> str:
        if ":" not in v:
            raise ValueError("must be an absolute URI")
        return v


class RunEvent(_Event):
    eventType: EventType | None = None
    run: Run
    job: Job
    inputs: list[Dataset] = Field(default_factory=list)
    outputs: list[Dataset] = Field(default_factory=list)


class DatasetEvent(_Event):
    dataset: Dataset


class JobEvent(_Event):
    job: Job
    inputs: list[Dataset] = Field(default_factory=list)
    outputs: list[Dataset] = Field(default_factory=list)


def validate_event(raw: Any) -> RunEvent | DatasetEvent | JobEvent:
    """Pick the event kind by its keys, as the spec's ``oneOf`` does, and validate it."""
    if not isinstance(raw, dict):
        raise InvalidEvent([{"pointer": "", "message": "an OpenLineage event must be a JSON object"}])
    model: type[RunEvent] | type[DatasetEvent] | type[JobEvent]
    if "run" in raw:
        model = RunEvent
    elif "dataset" in raw:
        model = DatasetEvent
    elif "job" in raw:
        model = JobEvent
    else:
        raise InvalidEvent([{
            "pointer": "",
            "message": "not an OpenLineage event: expected 'run' (RunEvent), 'dataset' "
            "(DatasetEvent) or 'job' (JobEvent)",
        }])
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        raise InvalidEvent.from_pydantic(exc) from None
