"""The text toolkit every service shares: sentences, whitespace, dates, datelines, site
chrome, and the one cleaning of an article's text used for every input format."""
