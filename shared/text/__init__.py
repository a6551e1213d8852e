"""The text toolkit every service shares, one concern per module:

* ``sentences``: splitting into sentences with offsets, and the one "ends a sentence" rule;
* ``whitespace``: normalising whitespace, and the content hash built on it;
* ``dates``: parsing dates, and finding a date line at the top of a text;
* ``datelines``: the place that opens a news story;
* ``chrome``: captions, date stamps, labels and trailing site menus;
* ``article``: the one cleaning of an article's text used for every input format.
"""
