"""The ingest service: inbox files -> parsed, cleaned articles -> the enrichment queue.

Entry points: ``python -m services.ingest`` (``watcher.run_service``), the backfill
``backfill.ingest_paths`` and the CLI command ``cli.ingest_command``.
"""
