# PII placement: PII (direct or inherited) must only flow into outputs approved for it with a
# "pii-allowed:<classification>" tag. Otherwise mask it where the job may mask, or deny.
package headwater.gate.pii

import data.headwater.common
import data.headwater.config

# output id -> the classifications it is approved for, as tagged ("pii-allowed:pii" covers
# pii.*: see approved).
allowed := {out.id: {a | some a in out.piiAllowed} | some out in input.outputs}

# Whether an output's approvals (a set from allowed) cover c: a lookup per prefix of c.
approved(ok, c) if {
	some a in common.class_ancestors[c]
	ok[a]
}

# output id -> the PII classifications present in the sources that it is not approved for ->
# their masking strategy: worked out once per output and classification (a handful), so each
# flow is two lookups, unapproved[flow.to.dataset][c], not a walk of c's ancestors.
unapproved := {out.id: classes |
	some out in input.outputs
	ok := allowed[out.id]
	classes := {c: strategies[c] | some c in common.pii_classes; not approved(ok, c)}
}

# Planned column flows that carry PII into an unapproved output field.
violations contains v if {
	some flow in input.flows
	not flow.masking
	some c in common.pii_fields[flow.from.dataset][flow.from.field]
	unapproved[flow.to.dataset][c]
	v := {"dataset": flow.to.dataset, "field": flow.to.field, "classification": c,
		"source": concat(".", [flow.from.dataset, flow.from.field])}
}

# No flows known: any PII field of any input may reach any output (field unknown).
violations contains v if {
	not common.flows_known
	some src in input.inputs
	some name, classes in common.pii_fields[src.id]
	some c in classes
	some out in input.outputs
	unapproved[out.id][c]
	v := {"dataset": out.id, "field": null, "classification": c,
		"source": concat(".", [src.id, name])}
}

masking_allowed if "masking:allowed" in input.job.tags

masking_allowed if {
	config.masking.default_allowed
	not "masking:forbidden" in input.job.tags
	not concat(":", [input.job.namespace, input.job.name]) in config.masking.deny_jobs
}

# The strategy of the longest configured classification that covers c: among c's ancestors
# (common.class_ancestors, c included), a lookup each, not a scan of the configured ones.
# Compared pairwise, not with max(): regopy 1.5 orders numbers as strings in max/min/sort
# (max({3, 15}) == 3).
strategy(c) := config.masking.strategies[a] if {
	some a in common.class_ancestors[c]
	config.masking.strategies[a]
	not longer_match(c, a)
} else := config.masking.default_strategy

longer_match(c, a) if {
	some b in common.class_ancestors[c]
	config.masking.strategies[b]
	count(b) > count(a)
}

strategies := {c: strategy(c) | some c in common.pii_classes}

# Straight from the flows rather than from violations: the common case (the job may mask,
# flows known) then never builds a violation document per flow.
masks contains {"dataset": flow.to.dataset, "field": flow.to.field, "strategy": strategy} if {
	masking_allowed
	some flow in input.flows
	not flow.masking
	some c in common.pii_fields[flow.from.dataset][flow.from.field]
	strategy := unapproved[flow.to.dataset][c]
}

unmaskable contains v if {
	not masking_allowed
	some v in violations
}

unmaskable contains v if {
	not common.flows_known
	some v in violations
}

column(v) := "an unknown column" if v.field == null
else := v.field

reasons contains r if {
	some v in unmaskable
	r := {"rule": "pii_placement", "severity": "deny", "dataset": v.dataset, "field": v.field,
		"message": concat("", [v.classification, " (from ", v.source, ") would flow into ", column(v), " of ", v.dataset, ", which is not approved for it: tag it pii-allowed:", v.classification, ", or let the job mask"])}
}
