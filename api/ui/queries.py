"""The GraphQL documents behind the pages: the public contract, nothing private. Fields that
other parts of the schema add later (jobs, runs, search) are asked for only once the schema
has them (``data.has_field``)."""

from __future__ import annotations

from headwater.api.ui.data import has_field

HOME_COUNTS = "query Home { namespaces datasets(first: 0) { totalCount } }"
JOB_COUNT = "query Jobs { jobs(first: 0) { totalCount } }"

SEARCH_DATASETS = """query Search($q: String!) {
  datasets(search: $q, first: 10) { totalCount edges { node { id namespace name } } }
}"""
SEARCH = """query Search($q: String!) {
  search(query: $q, first: 12) { totalCount edges { node {
    type id namespace name field matched highlight } } }
}"""


def run_fields() -> str:
    """A run's fields for listings: what every schema has, and more once it exists."""
    extra = " durationMs attempts { number state }" if has_field("Run", "attempts") else ""
    return f"id state startedAt endedAt errorMessage{extra} job {{ namespace name }}"


def failed_runs() -> str:
    return f"""query Failed {{ runs(state: FAILED, first: 10) {{ edges {{ node {{
      {run_fields()} }} }} }} }}"""


def changed_since() -> str:
    return """query Changed($since: DateTime!) { runs(since: $since, first: 100) { edges { node {
      id endedAt outputs { dataset { namespace name updatedAt } } } } } }"""


# The lineage preview is the dataset's jobs and their other datasets, at most PREVIEW_JOBS
# each side (a hub table has thousands of consumers: the explorer is for those); the runs are
# those of the first few jobs (one store call per job).
PREVIEW_JOBS = 12
def dataset() -> str:
    lifecycle = (" lifecycleState lifecycleChangedAt droppedAt"
                 if has_field("Dataset", "dropped_at") else "")
    learned = " learnedFrom" if has_field("Field", "learned_from") else ""
    return DATASET.replace("updatedAt classifications", "updatedAt classifications" + lifecycle
                           ).replace("inheritedClassifications }",
                                     f"inheritedClassifications{learned} }}")


DATASET = """query Dataset($ns: String!, $name: String!) {
  dataset(namespace: $ns, name: $name) {
    id namespace name description retentionDays owners tags updatedAt classifications
    fields { name type description classifications inheritedClassifications }
    schemaVersions(first: 10) { version createdAt runId fields { name type }
      diff { added removed typeChanged { field from to } } }
    qualitySummary { status latest { assertion field success observedAt source runId } }
    qualityResults(first: 20) { assertion field success observedAt source runId }
    producers(first: 13) { id namespace name inputs(first: 6) { id namespace name } }
    consumers(first: 13) { id namespace name outputs(first: 6) { id namespace name } }
    writers: producers(first: 4) { namespace name runs(first: 3) { id state startedAt endedAt } }
    readers: consumers(first: 4) { namespace name runs(first: 3) { id state startedAt endedAt } }
  }
}"""


def job() -> str:
    return f"""query Job($ns: String!, $name: String!) {{
  job(namespace: $ns, name: $name) {{
    id namespace name description type sql
    inputs {{ namespace name }} outputs {{ namespace name }}
    runs(first: 50) {{ {run_fields()} gateDecision {{ id decision }} }}
  }}
}}"""


def run() -> str:
    rich = has_field("Run", "facets")
    extra = """ durationMs facets
      attempts { number state startedAt endedAt errorMessage }
      inputs { version dataset { namespace name } }
      outputs { version dataset { namespace name } }""" if rich else ""
    return f"""query Run($id: ID!) {{
  run(id: $id) {{
    id state startedAt endedAt errorMessage parentRunId{extra}
    job {{ namespace name type sql inputs {{ namespace name }} outputs {{ namespace name }} }}
    gateDecision {{ id decision policyRevision engine principal decidedAt
      reasons {{ rule message severity dataset field }} masks {{ dataset field strategy }} }}
  }}
}}"""


LINEAGE = """query Lineage($node: ID!, $direction: Direction!, $depth: Int!) {
  lineage(nodeId: $node, direction: $direction, depth: $depth) { truncated
    nodes { id type namespace name field depth } edges { source target transformation } }
}"""

COLUMNS = """query Columns($ns: String!, $name: String!, $field: String!, $direction: Direction!,
                 $depth: Int!) {
  columnLineage(namespace: $ns, name: $name, field: $field, direction: $direction,
                depth: $depth) { truncated
    nodes { id type namespace name field depth } edges { source target transformation } }
}"""

FIELDS_OF = """query Fields($ns: String!, $name: String!) {
  dataset(namespace: $ns, name: $name) { namespace name
    fields { name type classifications inheritedClassifications } }
}"""

DECISIONS = """query Decisions($first: Int!, $run: ID, $job: ID, $decision: String,
                          $principal: String) {
  gateDecisions(first: $first, runId: $run, jobId: $job, decision: $decision,
                principal: $principal) {
    id decision policyRevision engine principal jobId runId decidedAt
    reasons { rule message dataset field } masks { dataset field strategy }
  }
}"""


def impact(paged: bool) -> str:
    """The report, a page of each list: with totals where the schema pages (``offset``), else
    the first ``$upto`` of each list (sliced to the page here)."""
    if paged:
        lists = """totals { fields datasets jobs checks }
      affectedFields(first: $first, offset: $offset) { namespace name field depth path }
      affectedDatasets(first: $first, offset: $offset) { namespace name depth owners }
      affectedJobs(first: $first, offset: $offset) { namespace name }
      affectedChecks(first: $first, offset: $offset) {
        namespace name field assertion source lastSuccess }"""
        head = "$first: Int!, $offset: Int!"
    else:
        lists = """affectedFields(first: $upto) { namespace name field depth path }
      affectedDatasets(first: $upto) { namespace name depth owners }
      affectedJobs(first: $upto) { namespace name }"""
        head = "$upto: Int!"
    return f"""query Impact($change: SchemaChangeInput!, {head}) {{
  impactAnalysis(change: $change) {{ breaking findings
      {lists} }}
}}"""
