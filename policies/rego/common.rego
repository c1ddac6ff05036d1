# Helpers the gate rules share. Everything per field or per flow goes through small objects
# built once per evaluation: OPA hashes lookups, but the embedded engine (regopy) scans them,
# so the fewer keys, the faster both are.
package headwater.common

import data.headwater.config

# "pii.email" covers itself and counts as "pii".
covers(c, p) if c == p

covers(c, p) if startswith(c, concat("", [p, "."]))

is_pii(c) if {
	some p in config.pii_prefixes
	covers(c, p)
}

all_datasets := array.concat(input.inputs, input.outputs)

input_ids := {d.id | some d in input.inputs}

# The datasets PII can flow from: the sources of the planned flows, or every input when no flow
# is known. Fields elsewhere (most outputs) never need their classifications sorted out.
sources := {flow.from.dataset | some flow in input.flows} if {
	count(input.flows) > 0
} else := input_ids

source_datasets := [d | some d in all_datasets; d.id in sources]

# Every classification the sources mention, then the PII ones among them: a handful, so no
# rule re-derives "is this PII" per field or per flow.
mentioned := {c |
	some d in source_datasets
	some f in d.fields
	some c in array.concat(f.classifications, f.inherited)
}

pii_classes := {c | some c in mentioned; is_pii(c)}

# source dataset id -> field name -> its PII classifications (direct and inherited); fields
# holding no PII are left out, so most flows miss at the first key.
pii_fields := {d.id: fields |
	some d in source_datasets
	fields := {f.name: cs |
		some f in d.fields
		cs := {c | some c in array.concat(f.classifications, f.inherited); c in pii_classes}
		count(cs) > 0
	}
	count(fields) > 0
}

pii_inputs := {d.id | some d in input.inputs; pii_fields[d.id]}

# output id -> ids of the inputs its fields derive from: from the planned flows when there
# are any, otherwise (nothing known) every input. Deduplicated to (output, input) pairs first,
# so the grouping below runs over at most inputs x outputs entries, not over every flow.
flow_pairs := {[flow.to.dataset, flow.from.dataset] | some flow in input.flows}

feeds := {out.id: {p[1] | some p in flow_pairs; p[0] == out.id; p[1] in input_ids} |
	some out in input.outputs
} if {
	count(input.flows) > 0
} else := {out.id: input_ids | some out in input.outputs}
