"""Where 0.1.0 kept the Great Expectations action; checkpoints configured with this path keep
working. New code imports ``headwater.integrations.great_expectations.HeadwaterAction``."""

from headwater.integrations.great_expectations import HeadwaterAction

__all__ = ["HeadwaterAction"]
