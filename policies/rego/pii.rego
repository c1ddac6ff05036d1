# PII placement: PII (direct or inherited) must only flow into outputs approved for it with a
# "pii-allowed:<classification>" tag. Otherwise mask it where the job may mask, or deny.
package headwater.gate.pii

import data.headwater.common
import data.headwater.config

approved(out, c) if {
	some a in out.piiAllowed
	common.covers(c, a)
}

# Planned column flows that carry PII into an unapproved output field.
violations contains v if {
	some flow in input.flows
	not flow.masking
	src := flow.from.dataset
	some c in common.field_classes[src][flow.from.field]
	common.is_pii(c)
	out := common.datasets[flow.to.dataset]
	not approved(out, c)
	v := {"dataset": out.id, "field": flow.to.field, "classification": c,
		"source": concat(".", [src, flow.from.field])}
}

# No flows known: any PII field of any input may reach any output (field unknown).
violations contains v if {
	count(input.flows) == 0
	some src in input.inputs
	some f in src.fields
	some c in array.concat(f.classifications, f.inherited)
	common.is_pii(c)
	some out in input.outputs
	not approved(out, c)
	v := {"dataset": out.id, "field": null, "classification": c,
		"source": concat(".", [src.id, f.name])}
}

masking_allowed if "masking:allowed" in input.job.tags

masking_allowed if {
	config.masking.default_allowed
	not "masking:forbidden" in input.job.tags
	not sprintf("%s:%s", [input.job.namespace, input.job.name]) in config.masking.deny_jobs
}

# The strategy of the longest configured classification that covers c.
configured(c) := [p |
	some p in object.keys(config.masking.strategies)
	common.covers(c, p)
]

strategy(c) := s if {
	candidates := configured(c)
	count(candidates) > 0
	longest := max({count(p) | some p in candidates})
	some p in candidates
	count(p) == longest
	s := config.masking.strategies[p]
} else := config.masking.default_strategy

maskable(v) if {
	masking_allowed
	v.field != null
}

masks contains {"dataset": v.dataset, "field": v.field, "strategy": strategy(v.classification)} if {
	some v in violations
	maskable(v)
}

reasons contains r if {
	some v in violations
	not maskable(v)
	where := object.get({"null": "an unknown column"}, sprintf("%v", [v.field]), v.field)
	r := {"rule": "pii_placement", "severity": "deny", "dataset": v.dataset, "field": v.field,
		"message": concat("", [v.classification, " (from ", v.source, ") would flow into ", where, " of ", v.dataset, ", which is not approved for it: tag it pii-allowed:", v.classification, ", or let the job mask"])}
}
