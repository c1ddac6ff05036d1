# The gate's answer: deny beats mask beats allow. Entry point: data.headwater.gate.decision
package headwater.gate

import data.headwater.gate.pii
import data.headwater.gate.purpose
import data.headwater.gate.quality
import data.headwater.gate.retention

all_reasons := ((pii.reasons | retention.reasons) | purpose.reasons) | quality.reasons

denials := {r |
	some r in all_reasons
	r.severity == "deny"
}

strength := {"partial": 1, "hash": 2, "redact": 3, "null": 4}

# One directive per field: the strongest strategy any of its classifications asks for.
# (Grouped with a multi-value rule, one pass over the candidates.)
asked[key] contains m.strategy if {
	some m in pii.masks
	key := [m.dataset, m.field]
}

masks contains {"dataset": key[0], "field": key[1], "strategy": best} if {
	some key, strategies in asked
	top := max({strength[s] | some s in strategies})
	some best in strategies
	strength[best] == top
}

verdict := "deny" if count(denials) > 0
else := "mask" if count(masks) > 0
else := "allow"

decision := {
	"decision": verdict,
	"reasons": [r | some r in all_reasons],
	"masks": [m | some m in masks],
}
