"""Removing what a test made in Elasticsearch: every version behind an alias and its template."""

from __future__ import annotations

from elasticsearch import Elasticsearch

from shared.search.index import existing_versions
from shared.search.template import template_name


def drop_dateline_index(es: Elasticsearch, alias: str) -> None:
    for index in existing_versions(es, alias):
        es.indices.delete(index=index, ignore_unavailable=True)
    es.options(ignore_status=404).indices.delete_index_template(name=template_name(alias))
