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
