"""What `dateline index status` says about the cluster, from its health figures."""

from __future__ import annotations

from rich.console import Console

from services.cli.index import print_cluster
from shared.search.index import ClusterHealth, ClusterNode, _advice


def health(
    status: str,
    *,
    nodes: int = 3,
    data: int = 3,
    unassigned: int = 0,
    replicas: int | None = 1,
    initializing: int = 0,
) -> ClusterHealth:
    found = ClusterHealth(
        name="archive",
        status=status,
        node_count=nodes,
        nodes=[
            ClusterNode(name=f"es-{i}", roles="dm", master=i == 1, address=f"127.0.0.1:920{i}")
            for i in range(1, nodes + 1)
        ],
        data_nodes=data,
        active_shards=2,
        unassigned_shards=unassigned,
        initializing_shards=initializing,
        relocating_shards=0,
        active_shards_percent=100.0 if not unassigned else 66.7,
        index_status=status if replicas is not None else None,
        replicas=replicas,
    )
    found.advice = _advice(found)
    return found


def test_green_needs_no_advice_and_a_lost_replica_is_explained():
    assert health("green").advice == ""
    yellow = health("yellow", nodes=2, data=2, unassigned=1)
    assert "replica shards are unassigned" in yellow.advice and "nothing is lost" in yellow.advice
    red = health("red", nodes=1, data=1, unassigned=2)
    assert "cannot be searched or written" in red.advice


def test_one_node_with_a_replica_configured_says_what_to_do():
    advice = health("yellow", nodes=1, data=1, unassigned=1, replicas=1).advice
    assert "need 2 data nodes" in advice and "DATELINE_INDEX_REPLICAS" in advice
    assert health("green", nodes=1, data=1, replicas=0).advice == ""


def test_the_text_names_status_nodes_master_and_unassigned_shards():
    console = Console(record=True, width=200)
    print_cluster(health("yellow", nodes=2, data=2, unassigned=1), console)
    text = console.export_text()
    assert "cluster archive: yellow - 2 node(s), 2 holding data" in text
    assert "1 unassigned" in text and "this index yellow, 1 replica(s)" in text
    assert "* es-1" in text and "  es-2" in text
