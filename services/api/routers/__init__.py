"""The API's routes, one router per area: search, articles, health and status (JSON), and
the pages for people (``services/api/web.py``)."""
