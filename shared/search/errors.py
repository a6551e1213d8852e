"""The one error type for bad search input: raised by the parameter and query checks, shown
by the API as a 422 and by ``dateline search`` as an exit status 2, with the same sentence."""

from __future__ import annotations


class SearchInputError(ValueError):
    """Bad input from a person: the message says what is wrong and how to write it."""
