# Helpers the gate rules share.
package headwater.common

import data.headwater.config

# "pii.email" covers itself and counts as "pii".
covers(c, p) if c == p

covers(c, p) if startswith(c, concat("", [p, "."]))

is_pii(c) if {
	some p in config.pii_prefixes
	covers(c, p)
}

# Direct and inherited classifications of a field of a dataset.
classes_of(ds, field) := {c |
	some f in ds.fields
	f.name == field
	some c in array.concat(f.classifications, f.inherited)
}

all_classes(ds) := {c |
	some f in ds.fields
	some c in array.concat(f.classifications, f.inherited)
}

has_pii(ds) if {
	some c in all_classes(ds)
	is_pii(c)
}

same(a, b) if {
	a.namespace == b.namespace
	a.name == b.name
}

# The input or output document a flow endpoint names.
dataset(ref) := d if {
	some d in array.concat(input.inputs, input.outputs)
	same(d, ref)
}

# Ids of the inputs an output's fields derive from: from the planned flows when there are
# any, otherwise (nothing known) every input.
feeding(out) := {src.id |
	some flow in input.flows
	same(flow.to, out)
	some src in input.inputs
	same(src, flow.from)
} if count(input.flows) > 0

else := {src.id | some src in input.inputs}
