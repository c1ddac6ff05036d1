# Helpers the gate rules share. Everything per field or per flow goes through small objects
# built once per evaluation: OPA hashes lookups, but the embedded engine (regopy) scans them,
# so the fewer keys, the faster both are.
#
# Cost: every rule must stay linear in the input. Test membership of a big set with a lookup,
# `s[x]`, never with `x in s`: the Wasm target scans the set for `in` (a gate request with
# 8,000 inputs took 9 s that way), and group with a multi-value rule (`g[k] contains v`), not
# with a comprehension per key (one pass over everything per key).
package headwater.common

import data.headwater.config

# "pii.email" covers itself and counts as "pii".
covers(c, p) if c == p

covers(c, p) if startswith(c, concat("", [p, "."]))

# What covers(c, _) holds for: c and its dotted prefixes ("pii.email": "pii", "pii.email"),
# so "is c covered by one of these" is a lookup per prefix, not a scan of the list.
ancestors(c) := {a |
	parts := split(c, ".")
	some i in numbers.range(1, count(parts))
	a := concat(".", array.slice(parts, 0, i))
}

is_pii(c) if {
	some p in config.pii_prefixes
	covers(c, p)
}

all_datasets := array.concat(input.inputs, input.outputs)

input_ids := {d.id | some d in input.inputs}

# Whether any planned flow between these datasets is known. Headwater says so (flowsKnown) and
# hands over only the flows that start from a classified field; a document written by hand
# without flowsKnown has all its flows, so any flow at all means they are known.
flows_known := object.get(input, "flowsKnown", count(input.flows) > 0)

# The datasets PII can flow from: where the planned flows start (all of them, as Headwater
# lists them in flowSources), or every input when no flow is known. Fields elsewhere (most
# outputs) never need their classifications sorted out.
sources := {id | some id in input.flowSources} if {
	flows_known
	is_array(input.flowSources)
} else := {flow.from.dataset | some flow in input.flows} if {
	count(input.flows) > 0
} else := input_ids

source_datasets := [d | some d in all_datasets; sources[d.id]]

# Every classification the sources mention, then the PII ones among them: a handful, so no
# rule re-derives "is this PII" per field or per flow.
mentioned := {c |
	some d in source_datasets
	some f in d.fields
	some c in array.concat(f.classifications, f.inherited)
}

pii_classes := {c | some c in mentioned; is_pii(c)}

class_ancestors := {c: ancestors(c) | some c in pii_classes}

# source dataset id -> field name -> its PII classifications (direct and inherited); fields
# holding no PII are left out, so most flows miss at the first key.
pii_fields := {d.id: fields |
	some d in source_datasets
	fields := {f.name: cs |
		some f in d.fields
		cs := {c | some c in array.concat(f.classifications, f.inherited); pii_classes[c]}
		count(cs) > 0
	}
	count(fields) > 0
}

pii_inputs := {d.id | some d in input.inputs; pii_fields[d.id]}

# (output, input) pairs of the planned flows, deduplicated: the groupings below run over at
# most inputs x outputs entries, not over every flow.
flow_pairs := {[flow.to.dataset, flow.from.dataset] | some flow in input.flows}

# output id -> ids of the inputs its fields derive from, by the planned flows. Headwater gives
# them with each output (fedBy), grouped as it builds the document: no Rego grouping is linear
# on every engine (a comprehension per output passes over every flow per output in the Wasm
# target, so do sort and object.union_n there; a multi-value rule is quadratic in OPA's own
# evaluator). A document without fedBy (written by hand) has them worked out from the flows.
# With no flows known every input may feed every output: rules handle that case without this.
flow_feeds := {out.id: {id | some id in out.fedBy; input_ids[id]} | some out in input.outputs} if {
	every out in input.outputs { is_array(out.fedBy) }
} else := {out.id: feeders |
	some out in input.outputs
	feeders := {p[1] | some p in flow_pairs; p[0] == out.id; input_ids[p[1]]}
}
