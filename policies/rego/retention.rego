# Retention: an output must not keep data longer than the shortest retention of the inputs its
# fields derive from, and must have a retention when its PII inputs have one.
package headwater.gate.retention

import data.headwater.common

kept := {i.id: i.retentionDays | some i in input.inputs; i.retentionDays != null}

# The PII inputs among those: what an output without a retention must not receive.
kept_pii := {id: days | some id in common.pii_inputs; days := kept[id]}

# The shortest retention of all inputs: what every output gets when no flow is known.
any_input_days := {days | some i in input.inputs; days := i.retentionDays; days != null}

# The shortest. min() is linear and right on OPA and its Wasm target, but regopy 1.5 orders
# numbers as strings in min/max/sort (min({90, 365}) == 365 there): when the check fails, fall
# back to comparing every pair (quadratic in the distinct retentions, on regopy only).
shortest(days) := m if {
	m := min(days)
	every d in days { m <= d }
} else := s if {
	some s in days
	every d in days { s <= d }
}

# (Inlined rather than a function over the output: regopy re-evaluates the rules a function
# reads at every call.)
reasons contains r if {
	common.flows_known
	some out in input.outputs
	out.retentionDays != null
	limit := shortest({kept[id] | some id in common.flow_feeds[out.id]})
	out.retentionDays > limit
	r := too_long(out, limit)
}

reasons contains r if {
	not common.flows_known
	some out in input.outputs
	out.retentionDays != null
	limit := shortest(any_input_days)
	out.retentionDays > limit
	r := too_long(out, limit)
}

too_long(out, limit) := {"rule": "retention", "severity": "deny", "dataset": out.id, "field": null,
	"message": concat("", [out.id, " keeps data ", days_text(out.retentionDays), " days, longer than the ", days_text(limit), " days its inputs allow: lower its retention"])}

reasons contains r if {
	common.flows_known
	some out in input.outputs
	out.retentionDays == null
	some id in common.flow_feeds[out.id]
	days := kept_pii[id]
	r := no_retention(out.id, id, days)
}

reasons contains r if {
	not common.flows_known
	some out in input.outputs
	out.retentionDays == null
	some id, days in kept_pii
	r := no_retention(out.id, id, days)
}

no_retention(out, id, days) := {"rule": "retention", "severity": "deny", "dataset": out, "field": null,
	"message": concat("", [out, " has no retention but receives PII from ", id, ", kept at most ", days_text(days), " days: set a retention on it"])}

# Messages are built with concat, not sprintf: sprintf is left to the host by the Wasm target,
# and a call out of the module costs ~0.5 ms where concat costs ~10 us (8,000 reasons: 4.6 s).
days_text(n) := format_int(n, 10)
