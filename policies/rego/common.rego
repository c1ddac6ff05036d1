# Helpers the gate rules share. Lookups go through objects built once per evaluation, so a
# rule over every flow never rescans the datasets or their fields.
package headwater.common

import data.headwater.config

# "pii.email" covers itself and counts as "pii".
covers(c, p) if c == p

covers(c, p) if startswith(c, concat("", [p, "."]))

is_pii(c) if {
	some p in config.pii_prefixes
	covers(c, p)
}

datasets := {d.id: d | some d in array.concat(input.inputs, input.outputs)}

# dataset id -> field name -> direct and inherited classifications
field_classes := {d.id: {f.name: array.concat(f.classifications, f.inherited) | some f in d.fields} |
	some d in array.concat(input.inputs, input.outputs)
}

pii_inputs := {d.id |
	some d in input.inputs
	some f in d.fields
	some c in array.concat(f.classifications, f.inherited)
	is_pii(c)
}

input_ids := {d.id | some d in input.inputs}

# output id -> ids of the inputs its fields derive from: from the planned flows when there
# are any, otherwise (nothing known) every input.
flow_sources[out] contains src if {
	some flow in input.flows
	out := flow.to.dataset
	src := flow.from.dataset
	src in input_ids
}

feeds := {out.id: object.get(flow_sources, out.id, set()) | some out in input.outputs} if {
	count(input.flows) > 0
} else := {out.id: input_ids | some out in input.outputs}
