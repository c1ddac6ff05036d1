"""Legal deadlines: when an erasure request must be answered, and its one extension.

Durations are ISO 8601 (``P1M``, ``P45D``). Months are calendar months, as GDPR Art. 12(3)
counts them: 31 January + 1 month is the last day of February, not 2 or 3 March.
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import datetime, timedelta

_DURATION = re.compile(r"^P(?:(\d+)Y)?(?:(\d+)M)?(?:(\d+)W)?(?:(\d+)D)?$")


@dataclass(frozen=True)
class Rule:
    respond_within: str   # from receipt
    extension: str        # once, with a recorded reason, asked before the first deadline


DEFAULT_RULES = {
    "GDPR": Rule("P1M", "P2M"),   # Art. 12(3)
    "CCPA": Rule("P45D", "P45D"),  # Cal. Civ. Code 1798.130(a)(2)
}


def add_duration(start: datetime, duration: str) -> datetime:
    m = _DURATION.match(duration)
    if not m or duration == "P":
        raise ValueError(f"{duration!r} is not an ISO 8601 duration such as P1M or P45D")
    years, months, weeks, days = (int(g or 0) for g in m.groups())
    total = start.month - 1 + months + 12 * years
    year, month = start.year + total // 12, total % 12 + 1
    day = min(start.day, calendar.monthrange(year, month)[1])
    return start.replace(year=year, month=month, day=day) + timedelta(weeks=weeks, days=days)


def rules_from(config: dict[str, list[str]] | None) -> dict[str, Rule]:
    """The default rules, overridden or extended by ``{"LGPD": ["P15D", "P0D"]}``."""
    rules = dict(DEFAULT_RULES)
    for name, (within, extension) in (config or {}).items():
        for d in (within, extension):
            add_duration(datetime(2000, 1, 1), d)  # reject bad durations at start
        rules[name.upper()] = Rule(within, extension)
    return rules
