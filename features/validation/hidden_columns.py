"""Hidden columns of the frames the rules see; reports show them under their plain names."""

from __future__ import annotations

ROW = "__row__"
ROWS = "__rows__"
ZONE = "__zone__"
OPENED_ON = "__opened_on__"
CLOSED_ON = "__closed_on__"
LOCAL_DATE = "__local_date__"
FIRST_RATE_ON = "__first_rate_on__"
LAST_RATE_ON = "__last_rate_on__"
MEDIAN_LINE = "__median_line__"
MEDIAN_HOUR = "__median_hour__"


def raw_name(column: str) -> str:
    """The hidden name under which a converted column keeps its stored values."""
    return f"__raw__{column}"
