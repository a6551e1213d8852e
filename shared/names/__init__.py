"""Entity names across the archive: one folded key per name, one facet value per entity.

Used by the worker (canonical names at enrichment) and by search (folding an ``--entity``
filter value), so both always agree on what counts as the same name.
"""
