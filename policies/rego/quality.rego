# Quality: an input whose latest quality results include a failure stops the run (or warns,
# with config.quality.severity = "warn").
package headwater.gate.quality

import data.headwater.config

reasons contains r if {
	some i in input.inputs
	count(i.quality.failed) > 0
	r := {"rule": "quality", "severity": config.quality.severity, "dataset": i.id, "field": null,
		"message": concat("", [i.id, " failed its latest quality checks: ", concat(", ", i.quality.failed)])}
}
