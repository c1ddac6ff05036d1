package headwater.gate_test

import data.headwater.gate

field(name, classes) := {"name": name, "classifications": classes, "inherited": []}

ds(id, fields, extra) := object.union({
	"id": concat(":", ["dataset", "pg", id]), "namespace": "pg", "name": id, "tags": [],
	"retentionDays": null, "purposes": [], "piiAllowed": [],
	"quality": {"failed": [], "passed": []}, "fields": fields,
}, extra)

flow(src, sf, dst, df) := {"from": {"namespace": "pg", "name": src, "field": sf, "dataset": concat(":", ["dataset", "pg", src])},
	"to": {"namespace": "pg", "name": dst, "field": df, "dataset": concat(":", ["dataset", "pg", dst])}, "transformation": "DIRECT/IDENTITY",
	"masking": false}

job := {"namespace": "etl", "name": "copy", "tags": []}

customers := ds("customers", [field("id", []), field("email", ["pii.email"])], {})

test_clean_run_is_allowed if {
	d := gate.decision with input as {"job": job, "context": {"purpose": "billing"},
		"inputs": [ds("a", [field("x", [])], {})], "outputs": [ds("b", [field("x", [])], {})],
		"flows": [flow("a", "x", "b", "x")]}
	d.decision == "allow"
	d.reasons == []
	d.masks == []
}

test_pii_into_unapproved_output_is_masked if {
	d := gate.decision with input as {"job": job, "context": {}, "inputs": [customers],
		"outputs": [ds("export", [field("email", [])], {})],
		"flows": [flow("customers", "email", "export", "email"), flow("customers", "id", "export", "id")]}
	d.decision == "mask"
	d.masks == [{"dataset": "dataset:pg:export", "field": "email", "strategy": "hash"}]
}

test_pii_into_approved_output_is_allowed if {
	d := gate.decision with input as {"job": job, "context": {}, "inputs": [customers],
		"outputs": [ds("crm", [field("email", [])], {"piiAllowed": ["pii"]})],
		"flows": [flow("customers", "email", "crm", "email")]}
	d.decision == "allow"
}

test_inherited_pii_counts if {
	derived := ds("derived", [{"name": "contact", "classifications": [], "inherited": ["pii.phone"]}], {})
	d := gate.decision with input as {"job": job, "context": {}, "inputs": [derived],
		"outputs": [ds("out", [field("c", [])], {})], "flows": [flow("derived", "contact", "out", "c")]}
	d.masks == [{"dataset": "dataset:pg:out", "field": "c", "strategy": "partial"}]
}

test_pii_is_denied_when_the_job_may_not_mask if {
	d := gate.decision with input as {"job": object.union(job, {"tags": ["masking:forbidden"]}),
		"context": {}, "inputs": [customers], "outputs": [ds("export", [field("email", [])], {})],
		"flows": [flow("customers", "email", "export", "email")]}
	d.decision == "deny"
	[r] := d.reasons
	r.rule == "pii_placement"
	r.field == "email"
}

test_masking_flow_carries_no_pii if {
	f := object.union(flow("customers", "email", "export", "email_hash"), {"masking": true})
	d := gate.decision with input as {"job": job, "context": {}, "inputs": [customers],
		"outputs": [ds("export", [field("email_hash", [])], {})], "flows": [f]}
	d.decision == "allow"
}

test_unknown_flows_with_pii_deny if {
	d := gate.decision with input as {"job": job, "context": {}, "inputs": [customers],
		"outputs": [ds("export", [], {})], "flows": []}
	d.decision == "deny"
}

test_output_keeping_data_longer_than_inputs_is_denied if {
	d := gate.decision with input as {"job": job, "context": {},
		"inputs": [ds("a", [field("x", [])], {"retentionDays": 30})],
		"outputs": [ds("b", [field("x", [])], {"retentionDays": 90})],
		"flows": [flow("a", "x", "b", "x")]}
	d.decision == "deny"
	[r] := d.reasons
	r.rule == "retention"
	contains(r.message, "90 days, longer than the 30 days")
}

test_output_without_retention_fed_by_pii_with_retention_is_denied if {
	d := gate.decision with input as {"job": job, "context": {},
		"inputs": [object.union(customers, {"retentionDays": 365})],
		"outputs": [ds("crm", [field("email", [])], {"piiAllowed": ["pii"]})],
		"flows": [flow("customers", "email", "crm", "email")]}
	d.decision == "deny"
	{r.rule | some r in d.reasons} == {"retention"}
}

test_purpose_not_allowed_is_denied if {
	d := gate.decision with input as {"job": job, "context": {"purpose": "marketing"},
		"inputs": [ds("a", [], {"purposes": ["billing", "support"]})], "outputs": [], "flows": []}
	d.decision == "deny"
	[r] := d.reasons
	r.message == "dataset:pg:a may only be processed for billing, support, not for marketing"
}

test_allowed_purpose_and_undeclared_purpose if {
	a := ds("a", [], {"purposes": ["billing"]})
	ok := gate.decision with input as {"job": job, "context": {"purpose": "billing"}, "inputs": [a], "outputs": [], "flows": []}
	ok.decision == "allow"
	missing := gate.decision with input as {"job": job, "context": {}, "inputs": [a], "outputs": [], "flows": []}
	missing.decision == "deny"
}

test_failed_quality_is_denied_or_warned if {
	bad := ds("a", [], {"quality": {"failed": ["not_null(id)"], "passed": []}})
	d := gate.decision with input as {"job": job, "context": {}, "inputs": [bad], "outputs": [], "flows": []}
	d.decision == "deny"
	w := gate.decision with input as {"job": job, "context": {}, "inputs": [bad], "outputs": [], "flows": []}
		with data.headwater.config.quality.severity as "warn"
	w.decision == "allow"
	[r] := w.reasons
	r.severity == "warn"
}

# The longest configured classification wins: pii.customer_id -> hash, not pii -> redact.
# (Guards against engines that order numbers as strings: count("pii.customer_id") is 15.)
test_most_specific_strategy_applies if {
	src := ds("orders", [field("cust", ["pii.customer_id"]), field("note", ["pii.address"])], {})
	d := gate.decision with input as {"job": job, "context": {}, "inputs": [src],
		"outputs": [ds("out", [field("c", []), field("n", [])], {})],
		"flows": [flow("orders", "cust", "out", "c"), flow("orders", "note", "out", "n")]}
	d.masks == [
		{"dataset": "dataset:pg:out", "field": "c", "strategy": "hash"},
		{"dataset": "dataset:pg:out", "field": "n", "strategy": "redact"},
	]
}

# One directive per output field: fed by an email (hash) and a phone (partial), it is hashed.
test_strongest_strategy_wins_per_field if {
	src := ds("contacts", [field("email", ["pii.email"]), field("phone", ["pii.phone"])], {})
	d := gate.decision with input as {"job": job, "context": {}, "inputs": [src],
		"outputs": [ds("out", [field("contact", [])], {})],
		"flows": [flow("contacts", "email", "out", "contact"), flow("contacts", "phone", "out", "contact")]}
	d.masks == [{"dataset": "dataset:pg:out", "field": "contact", "strategy": "hash"}]
}

test_approval_by_parent_classification_and_masking_knobs if {
	approved := gate.decision with input as {"job": job, "context": {}, "inputs": [customers],
		"outputs": [ds("crm", [field("email", [])], {"piiAllowed": ["pii"]})],
		"flows": [flow("customers", "email", "crm", "email")]}
	approved.decision == "allow"
	listed := gate.decision with input as {"job": job, "context": {}, "inputs": [customers],
		"outputs": [ds("export", [field("email", [])], {})],
		"flows": [flow("customers", "email", "export", "email")]}
		with data.headwater.config.masking.deny_jobs as ["etl:copy"]
	listed.decision == "deny"
	opted_in := gate.decision with input as {"job": object.union(job, {"tags": ["masking:allowed"]}),
		"context": {}, "inputs": [customers], "outputs": [ds("export", [field("email", [])], {})],
		"flows": [flow("customers", "email", "export", "email")]}
		with data.headwater.config.masking.default_allowed as false
	opted_in.decision == "mask"
}

# The shortest input retention is the limit, whatever the number of digits (90 < 365).
test_retention_limit_is_the_shortest_input if {
	d := gate.decision with input as {"job": job, "context": {},
		"inputs": [ds("a", [field("x", [])], {"retentionDays": 90}), ds("c", [field("y", [])], {"retentionDays": 365})],
		"outputs": [ds("b", [field("x", []), field("y", [])], {"retentionDays": 180})],
		"flows": [flow("a", "x", "b", "x"), flow("c", "y", "b", "y")]}
	[r] := d.reasons
	r.message == "dataset:pg:b keeps data 180 days, longer than the 90 days its inputs allow: lower its retention"
}

test_retention_within_the_limit_and_unrelated_inputs_are_allowed if {
	d := gate.decision with input as {"job": job, "context": {},
		"inputs": [ds("a", [field("x", [])], {"retentionDays": 365}), ds("c", [field("y", [])], {"retentionDays": 7})],
		"outputs": [ds("b", [field("x", [])], {"retentionDays": 365})],
		"flows": [flow("a", "x", "b", "x")]}
	d.decision == "allow"
}

test_quality_passing_inputs_are_allowed if {
	good := ds("a", [], {"quality": {"failed": [], "passed": ["not_null(id)", "row_count"]}})
	d := gate.decision with input as {"job": job, "context": {}, "inputs": [good], "outputs": [], "flows": []}
	d.decision == "allow"
}

test_purpose_untagged_inputs_take_any_purpose if {
	d := gate.decision with input as {"job": job, "context": {"purpose": "marketing"},
		"inputs": [ds("a", [], {})], "outputs": [], "flows": []}
	d.decision == "allow"
}

test_deny_beats_mask if {
	d := gate.decision with input as {"job": job, "context": {"purpose": "marketing"},
		"inputs": [object.union(customers, {"purposes": ["billing"]})],
		"outputs": [ds("export", [field("email", [])], {})],
		"flows": [flow("customers", "email", "export", "email")]}
	d.decision == "deny"
	d.masks == [{"dataset": "dataset:pg:export", "field": "email", "strategy": "hash"}]
}

# Unknown datasets: an input the catalog has never seen is denied in a strict environment,
# warned about elsewhere; an unknown output is only warned about. Hand-written documents
# without "known" are taken as known.
unknown_run(env) := {"job": job, "context": {"purpose": "billing", "environment": env},
	"inputs": [ds("typo", [], {"known": false})], "outputs": [ds("b", [], {"known": false})],
	"flows": []}

test_unknown_input_is_denied_in_a_strict_environment if {
	d := gate.decision with input as unknown_run("prod")
	d.decision == "deny"
	{[r.dataset, r.severity] | some r in d.reasons; r.rule == "unknown_dataset"} == {
		["dataset:pg:typo", "deny"], ["dataset:pg:b", "warn"]}
}

test_unknown_input_is_a_warning_elsewhere if {
	d := gate.decision with input as unknown_run("dev")
	d.decision == "allow"
	{[r.dataset, r.severity] | some r in d.reasons; r.rule == "unknown_dataset"} == {
		["dataset:pg:typo", "warn"], ["dataset:pg:b", "warn"]}
}

test_known_datasets_get_no_unknown_reason if {
	d := gate.decision with input as {"job": job, "context": {"purpose": "billing", "environment": "prod"},
		"inputs": [ds("a", [], {"known": true})], "outputs": [ds("b", [], {})], "flows": []}
	d.reasons == []
}

# Input version 3: flows name datasets by id alone, fields carry what the rules read.
flow3(src, sf, dst, df) := {"from": {"dataset": concat(":", ["dataset", "pg", src]), "field": sf},
	"to": {"dataset": concat(":", ["dataset", "pg", dst]), "field": df},
	"transformation": "DIRECT/IDENTITY", "masking": false}

v3(job_, inputs, outputs, flows) := {"inputVersion": 3, "job": job_, "context": {},
	"inputs": inputs, "outputs": outputs, "flowsKnown": count(flows) > 0,
	"flowSources": [f.from.dataset | some f in flows], "flows": flows}

contacts := ds("contacts", [field("email", ["pii.email"]), field("phone", ["pii.phone"])], {})

test_v3_masks_only_what_the_output_is_not_approved_for if {
	d := gate.decision with input as v3(job, [contacts],
		[ds("export", [], {"piiAllowed": ["pii.phone"], "fedBy": ["dataset:pg:contacts"]}),
		 ds("crm", [], {"piiAllowed": ["pii"], "fedBy": ["dataset:pg:contacts"]})],
		[flow3("contacts", "email", "export", "email"), flow3("contacts", "phone", "export", "tel"),
		 flow3("contacts", "email", "crm", "email")])
	d.decision == "mask"
	d.masks == [{"dataset": "dataset:pg:export", "field": "email", "strategy": "hash"}]
}

test_v3_denies_what_the_job_may_not_mask if {
	d := gate.decision with input as v3(object.union(job, {"tags": ["masking:forbidden"]}), [contacts],
		[ds("export", [], {"piiAllowed": ["pii.email"], "fedBy": ["dataset:pg:contacts"]})],
		[flow3("contacts", "email", "export", "email"), flow3("contacts", "phone", "export", "tel")])
	d.decision == "deny"
	[r] := d.reasons
	r.field == "tel"
	r.message == "pii.phone (from dataset:pg:contacts.phone) would flow into tel of dataset:pg:export, which is not approved for it: tag it pii-allowed:pii.phone, or let the job mask"
}
