# Retention: an output must not keep data longer than the shortest retention of the inputs its
# fields derive from, and must have a retention when its PII inputs have one.
package headwater.gate.retention

import data.headwater.common

reasons contains r if {
	some out in input.outputs
	out.retentionDays != null
	days := {i.retentionDays |
		some i in input.inputs
		i.id in common.feeds[out.id]
		i.retentionDays != null
	}
	count(days) > 0
	shortest := min(days)
	out.retentionDays > shortest
	r := {"rule": "retention", "severity": "deny", "dataset": out.id, "field": null,
		"message": sprintf("%s keeps data %d days, longer than the %d days its inputs allow: lower its retention", [out.id, out.retentionDays, shortest])}
}

reasons contains r if {
	some out in input.outputs
	out.retentionDays == null
	some i in input.inputs
	i.id in common.feeds[out.id]
	i.retentionDays != null
	i.id in common.pii_inputs
	r := {"rule": "retention", "severity": "deny", "dataset": out.id, "field": null,
		"message": sprintf("%s has no retention but receives PII from %s, kept at most %d days: set a retention on it", [out.id, i.id, i.retentionDays])}
}
