"""The local stack: what runs (``topology``), under supervisord (``supervisor``), started,
updated and stopped as one (``local``). Used by ``dateline stack``, the tests and the
benchmark; no Dateline service imports it."""
