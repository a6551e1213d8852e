"""Wire attribution: which agencies an article says it carries ("carried from"), a facet.

Recognised where outlets put it: an agency in parentheses after the dateline ("(AP)",
"(Reuters)"), the agency named in the text ("told Reuters", "AFP reported"), dpa (only in its
own lower case: "DPA" is also an acronym), and Reuters' photo captions ("- File Photo").
"""

from __future__ import annotations

import re

AGENCIES: dict[str, re.Pattern[str]] = {
    "AP": re.compile(r"\(AP\)|\bAssociated Press\b"),
    "Reuters": re.compile(r"\bReuters\b|\bREUTERS\b|[-–]\s*File Photo\b"),
    "AFP": re.compile(r"\bAFP\b|\bAgence France[- ]Presse\b"),
    "dpa": re.compile(r"\bdpa\b"),
}


def carried_from(title: str, body: str) -> list[str]:
    """The agencies the text attributes itself to, in a fixed order."""
    text = f"{title}\n{body}"
    return [agency for agency, pattern in AGENCIES.items() if pattern.search(text)]
