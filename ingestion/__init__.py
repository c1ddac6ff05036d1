"""OpenLineage intake: validation, normalisation into store writes, group commit."""
