# Purpose limitation: an input tagged purpose:<name> may only be processed for those purposes.
# (Messages are built with concat, not sprintf: the embedded engine mis-quotes concat results
# passed to sprintf.)
package headwater.gate.purpose

import data.headwater.config

declared := object.get(input.context, "purpose", null)

reasons contains r if {
	some i in input.inputs
	count(i.purposes) > 0
	declared != null
	not declared in i.purposes
	r := {"rule": "purpose", "severity": "deny", "dataset": i.id, "field": null,
		"message": concat("", [i.id, " may only be processed for ", concat(", ", i.purposes), ", not for ", declared])}
}

reasons contains r if {
	config.purpose.require_declared
	declared == null
	some i in input.inputs
	count(i.purposes) > 0
	r := {"rule": "purpose", "severity": "deny", "dataset": i.id, "field": null,
		"message": concat("", [i.id, " may only be processed for ", concat(", ", i.purposes), ": declare the run's purpose"])}
}
