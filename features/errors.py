"""The error every stage raises for a user mistake: the command line turns it into exit code 2."""

from __future__ import annotations


class UserInputError(ValueError):
    """Bad input from the user (a file, a column, a date, an option), with a specific message."""
