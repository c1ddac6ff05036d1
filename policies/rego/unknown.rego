# Unknown datasets: an input or output the catalog has never seen (a typo, or a source no
# producer has reported yet) never passes silently. An unknown input is denied in the
# environments listed in config.unknown.strict_environments and warned about elsewhere; an
# unknown output is warned about everywhere (a job's first run creates its outputs).
# One pass over the inputs and one over the outputs; the environment is a lookup.
package headwater.gate.unknown

import data.headwater.config

strict := {e: true | some e in config.unknown.strict_environments}

environment := object.get(input.context, "environment", "")

input_severity := "deny" if strict[environment] else := "warn"

reasons contains r if {
	some i in input.inputs
	object.get(i, "known", true) == false
	r := {"rule": "unknown_dataset", "severity": input_severity, "dataset": i.id, "field": null,
		"message": concat("", [i.id, " is an input the catalog has never seen: check its namespace and name, or let its producer report it first"])}
}

reasons contains r if {
	some o in input.outputs
	object.get(o, "known", true) == false
	r := {"rule": "unknown_dataset", "severity": "warn", "dataset": o.id, "field": null,
		"message": concat("", [o.id, " is an output the catalog has never seen: this run creates it, or its name is mistyped"])}
}
