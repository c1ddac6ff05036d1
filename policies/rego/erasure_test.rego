package headwater.erasure_test

import data.headwater.erasure

test_legal_hold_is_exempt_with_its_basis if {
	d := erasure.decision with input as {"dataset": {"tags": ["legal-hold:litigation-2026-17"]}}
	d.exempt
	d.basis == "legal hold: litigation-2026-17"
}

test_finance_records_are_a_retention_obligation if {
	d := erasure.decision with input as {"dataset": {"tags": ["finance"]}}
	d.exempt
	contains(d.basis, "financial records")
}

test_other_datasets_are_erased if {
	d := erasure.decision with input as {"dataset": {"tags": ["purpose:billing"]}}
	not d.exempt
	d.action == "delete"
}

test_a_dataset_can_ask_to_be_anonymised if {
	d := erasure.decision with input as {"dataset": {"tags": ["erasure-action:anonymise", "erasure-strategy:redact"]}}
	d.action == "anonymise"
	d.strategy == "redact"
}

test_the_plan_decides_every_dataset_at_once if {
	p := erasure.plan with input as {"datasets": [
		{"id": "a", "tags": ["tax"]},
		{"id": "b", "tags": []},
	]}
	p.a.exempt
	contains(p.a.basis, "tax records")
	p.b.action == "delete"
}
