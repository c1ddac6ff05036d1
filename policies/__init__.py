"""Policies: the policy engine and its Rego bundle (``policies/rego``), the run gate, and the
GDPR erasure workflow."""
