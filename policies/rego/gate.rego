# The gate's answer: deny beats mask beats allow. Entry point: data.headwater.gate.decision
package headwater.gate

import data.headwater.gate.pii
import data.headwater.gate.purpose
import data.headwater.gate.quality
import data.headwater.gate.retention
import data.headwater.gate.unknown

all_reasons := (((pii.reasons | retention.reasons) | purpose.reasons) | quality.reasons) | unknown.reasons

denials := {r |
	some r in all_reasons
	r.severity == "deny"
}

strength := {"partial": 1, "hash": 2, "redact": 3, "null": 4}

# One directive per output field. Usually each field gets one strategy and pii.masks is the
# answer; when several PII sources ask for different ones, the strongest wins.
masks := pii.masks if {
	count({[m.dataset, m.field] | some m in pii.masks}) == count(pii.masks)
} else := {m |
	some m in pii.masks
	not overruled(m)
}

# A lookup per stronger strategy, not a scan of every mask per mask (in a complete rule: a
# lookup into a multi-value rule re-runs its body in OPA's evaluator).
mask_set := {m | some m in pii.masks}

overruled(m) if {
	some s, n in strength
	n > strength[m.strategy]
	mask_set[{"dataset": m.dataset, "field": m.field, "strategy": s}]
}

verdict := "deny" if count(denials) > 0
else := "mask" if count(masks) > 0
else := "allow"

decision := {
	"decision": verdict,
	"reasons": [r | some r in all_reasons],
	"masks": [m | some m in masks],
}
