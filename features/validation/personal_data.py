"""Recognise column names that hold personal data (names, e-mails, phones, addresses).

Clients and transactions must stay pseudonymous: a column whose name spells one of
:data:`features.contract.PERSONAL_COLUMN_PATTERNS`, in any spelling, is refused, by validation
and by :func:`features.history.load_history` alike. Hashes of those columns (``email_hash``,
``name_sha256``) are refused too: an unsalted hash of an e-mail or a phone number is found again
by hashing candidates, and it joins the client to other companies' data; clientcast needs no key
but ``client_id``.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import cache

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
PREFIX_MATCH_MIN_LETTERS = 5
"""Patterns this long also match inside a token (``homephone``); shorter ones (``tel``, ``mail``)
match whole tokens only, so ``hotel`` or ``mailing`` are not taken for them."""


@cache
def compact_patterns(patterns: tuple[str, ...]) -> dict[str, str]:
    """Patterns without underscores -> pattern, the first spelling kept (email, e_mail: email)."""
    compact: dict[str, str] = {}
    for pattern in patterns:
        compact.setdefault(pattern.replace("_", ""), pattern)
    return compact


def personal_column_pattern(
    column: str, patterns: Sequence[str] = PERSONAL_COLUMN_PATTERNS
) -> str | None:
    """The personal-data pattern that column name ``column`` matches, or None.

    Names are split into tokens at underscores, other separators, camel-case humps and digits
    (``lastName`` -> last, name; ``phone2`` -> phone, 2). A name matches when a token or run of
    tokens spells a pattern (``email``, ``e_mail``, ``phone_number``), or a token starts or ends
    with a pattern of five letters or more (``emailaddress``, ``homephone``). Names about a thing
    rather than a person (``product_name``, ``boutique_phone``) do not match.
    """
    compact = compact_patterns(tuple(patterns))
    tokens = _name_tokens(column)
    if not tokens or tokens[0] in NON_PERSONAL_SUBJECTS:
        return None
    for size in (3, 2, 1):
        for start in range(len(tokens) - size + 1):
            joined = "".join(tokens[start : start + size])
            if joined in compact:
                return compact[joined]
    for token in tokens:
        for spelled, pattern in compact.items():
            long_enough = len(spelled) >= PREFIX_MATCH_MIN_LETTERS
            if long_enough and (token.startswith(spelled) or token.endswith(spelled)):
                return pattern
    return None


def _name_tokens(column: str) -> list[str]:
    """Lower-case tokens of a column name split at separators, camel-case humps and digits."""
    spaced = re.sub(r"([a-zA-Z])([0-9])", r"\1_\2", column)
    spaced = re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", spaced)
    spaced = re.sub(r"([A-Z]+)([A-Z][a-z])", r"\1_\2", spaced)
    return [token for token in re.split(r"[^0-9a-zA-Z]+", spaced.lower()) if token]
