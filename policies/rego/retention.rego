# Retention: an output must not keep data longer than the shortest retention of the inputs its
# fields derive from, and must have a retention when its PII inputs have one.
package headwater.gate.retention

import data.headwater.common

kept := {i.id: i.retentionDays | some i in input.inputs; i.retentionDays != null}

# The shortest by comparison, not min(): regopy 1.5 orders numbers as strings in min/max/sort
# (min({90, 365}) == 365 there), which would let an output outlive its inputs.
shortest(days) := s if {
	some s in days
	every d in days { s <= d }
}

reasons contains r if {
	some out in input.outputs
	out.retentionDays != null
	days := {kept[id] | some id in common.feeds[out.id]}
	limit := shortest(days)
	out.retentionDays > limit
	r := {"rule": "retention", "severity": "deny", "dataset": out.id, "field": null,
		"message": sprintf("%s keeps data %d days, longer than the %d days its inputs allow: lower its retention", [out.id, out.retentionDays, limit])}
}

reasons contains r if {
	some out in input.outputs
	out.retentionDays == null
	some id, days in kept # few inputs keep a retention; without one, feeds is never built
	id in common.pii_inputs
	id in common.feeds[out.id]
	r := {"rule": "retention", "severity": "deny", "dataset": out.id, "field": null,
		"message": sprintf("%s has no retention but receives PII from %s, kept at most %d days: set a retention on it", [out.id, id, days])}
}
