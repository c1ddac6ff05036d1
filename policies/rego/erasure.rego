# Erasure: per dataset, exempt (with its legal basis) or the action to take.
# Input: {"dataset": {...}} for one decision, or {"datasets": [{"id", "tags": [...], ...}]} for
# the whole plan at once (one evaluation, not one per dataset). See README.md.
package headwater.erasure

import data.headwater.config

hold_bases(dataset) := {basis |
	some t in dataset.tags
	startswith(t, "legal-hold:")
	basis := concat("", ["legal hold: ", trim_prefix(t, "legal-hold:")])
}

obligation_bases(dataset) := {basis |
	some t in dataset.tags
	basis := config.erasure.retention_obligation_tags[t]
}

# A dataset may ask for another action than the default: tag erasure-action:anonymise, and
# erasure-strategy:<hash|redact|partial|null> for how its fields are masked.
tagged(dataset, prefix, default_value) := value if {
	values := [trim_prefix(t, prefix) |
		some t in dataset.tags
		startswith(t, prefix)
	]
	count(values) > 0
	value := values[0]
} else := default_value

# Sorted: sets have no order of their own in the Wasm module.
decide(dataset) := d if {
	bases := hold_bases(dataset) | obligation_bases(dataset)
	count(bases) > 0
	d := {"exempt": true, "basis": concat("; ", sort(bases)), "action": "keep", "strategy": null}
} else := {
	"exempt": false, "basis": null,
	"action": tagged(dataset, "erasure-action:", config.erasure.default_action),
	"strategy": tagged(dataset, "erasure-strategy:", config.erasure.anonymise_strategy),
}

decision := decide(input.dataset)

plan := {d.id: decide(d) | some d in input.datasets}
