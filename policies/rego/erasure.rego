# Erasure: per dataset, exempt (with its legal basis) or the action to take.
# Input: {"dataset": {"id", "namespace", "name", "tags": [...], "fields": [...]}, "request": {...}}
package headwater.erasure

import data.headwater.config

bases contains sprintf("legal hold: %s", [trim_prefix(t, "legal-hold:")]) if {
	some t in input.dataset.tags
	startswith(t, "legal-hold:")
}

bases contains basis if {
	some t in input.dataset.tags
	some tag, basis in config.erasure.retention_obligation_tags
	t == tag
}

decision := {"exempt": true, "basis": concat("; ", bases), "action": "keep", "strategy": null} if {
	count(bases) > 0
} else := {
	"exempt": false, "basis": null, "action": config.erasure.default_action,
	"strategy": config.erasure.anonymise_strategy,
}
