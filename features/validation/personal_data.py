"""Recognise column names that hold personal data (names, e-mails, phones, addresses).

Clients and transactions must stay pseudonymous: a column whose name spells one of
:data:`features.contract.PERSONAL_COLUMN_PATTERNS`, in any spelling, is refused.
"""

from __future__ import annotations

import re

from features.contract import PERSONAL_COLUMN_PATTERNS

# Leading name tokens of columns that describe a thing, not a person (``product_name``).
NON_PERSONAL_SUBJECTS = frozenset(
    {
        "boutique",
        "brand",
        "campaign",
        "category",
        "city",
        "collection",
        "country",
        "currency",
        "division",
        "event",
        "item",
        "product",
        "shop",
        "sku",
        "store",
    }
)
# Patterns without underscores, the first spelling kept (email and e_mail are both "email").
_COMPACT_PATTERNS: dict[str, str] = {}
for _pattern in PERSONAL_COLUMN_PATTERNS:
    _COMPACT_PATTERNS.setdefault(_pattern.replace("_", ""), _pattern)


def personal_column_pattern(column: str) -> str | None:
    """The personal-data pattern that column name ``column`` matches, or None.

    Names are split into tokens at underscores, other separators, camel-case humps and digits
    (``lastName`` -> last, name; ``phone2`` -> phone, 2). A name matches when a token or run of
    tokens spells a pattern (``email``, ``e_mail``, ``phone_number``), or a token starts or ends
    with a pattern of five letters or more (``emailaddress``, ``homephone``). Names about a thing
    rather than a person (``product_name``, ``boutique_phone``) do not match.
    """
    tokens = _name_tokens(column)
    if not tokens or tokens[0] in NON_PERSONAL_SUBJECTS:
        return None
    for size in (3, 2, 1):
        for start in range(len(tokens) - size + 1):
            joined = "".join(tokens[start : start + size])
            if joined in _COMPACT_PATTERNS:
                return _COMPACT_PATTERNS[joined]
    for token in tokens:
        for compact, pattern in _COMPACT_PATTERNS.items():
            if len(compact) >= 5 and (token.startswith(compact) or token.endswith(compact)):
                return pattern
    return None


def _name_tokens(column: str) -> list[str]:
    """Lower-case tokens of a column name split at separators, camel-case humps and digits."""
    spaced = re.sub(r"([a-zA-Z])([0-9])", r"\1_\2", column)
    spaced = re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", spaced)
    spaced = re.sub(r"([A-Z]+)([A-Z][a-z])", r"\1_\2", spaced)
    return [token for token in re.split(r"[^0-9a-zA-Z]+", spaced.lower()) if token]
