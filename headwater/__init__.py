"""Headwater: OpenLineage lineage, governance and GDPR erasure."""

__version__ = "0.1.0"
