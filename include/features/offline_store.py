"""Feast's DuckDB offline store for the point-in-time reads of training and batch scoring.

Feast's file offline store (Dask) spent most of a training set's build in pandas merges and
in hashing in-memory frames for Dask's task graph (bench/README.md, "One new day"); its
DuckDB store does the same point-in-time join (Feast's ibis plan: join on the keys, the
newest row at or before the entity time within the TTL) in DuckDB's vectorised engine
(``bench/scale.py``: ``RetrievalJob.to_df`` 3.3x faster on a 100k-row day).

One difference is bridged here. The feature sources are relative paths
(``features/<view>``: :func:`include.features.schema.source_path`) that the file store
resolves against ``repo_path``, so that a pruned view (a temporary folder holding only the
partitions a time range can use, ``include.features.store.pruned_view``) stands in for the
lake. Feast's DuckDB store reads a source path as given (relative to the process's working
directory, and only a path ending in ``.parquet``); :class:`PrunedDuckDBOfflineStore`
resolves it against ``repo_path`` and reads every Parquet file under the folder, and is
otherwise Feast's store.

Only retrieval uses it (``include.features.store.feature_store(..., retrieval=True)``):
materialization stays on the file store, whose rows Feast converts to the online store's
types (the DuckDB path returns timestamp *features*, the ``*_as_of`` stamps, as strings that
Feast's proto conversion refuses).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import pandas as pd
from feast.data_source import DataSource
from feast.feature_view import FeatureView
from feast.infra.offline_stores.duckdb import (
    DuckDBOfflineStore,
    DuckDBOfflineStoreConfig,
    _write_data_source,
)
from feast.infra.offline_stores.ibis import get_historical_features_ibis
from feast.infra.offline_stores.offline_store import RetrievalJob
from feast.infra.registry.base_registry import BaseRegistry
from feast.repo_config import RepoConfig

TYPE = "include.features.offline_store.PrunedDuckDBOfflineStore"  # = store.RETRIEVAL_OFFLINE_STORE
_MATERIALIZE = (
    "materialization reads Feast's file offline store: include.features.store.feature_store() "
    "without retrieval=True"
)


def read_source(data_source: DataSource, repo_path: str) -> Any:
    """The source's rows as an ibis table: its path resolved against ``repo_path`` when
    relative, every ``*.parquet`` under it when it is a folder."""
    import ibis

    path = Path(data_source.path)  # type: ignore[attr-defined]  # a FileSource
    if not path.is_absolute():
        path = Path(repo_path) / path
    return ibis.read_parquet(str(path / "**" / "*.parquet") if path.is_dir() else str(path))


def _io(config: RepoConfig) -> dict[str, Any]:
    store = config.offline_store
    return {
        "data_source_reader": read_source,
        "data_source_writer": _write_data_source,
        "staging_location": store.staging_location,
        "staging_location_endpoint_override": store.staging_location_endpoint_override,
    }


class PrunedDuckDBOfflineStoreConfig(DuckDBOfflineStoreConfig):
    type: Literal["include.features.offline_store.PrunedDuckDBOfflineStore"] = TYPE  # type: ignore[assignment]


class PrunedDuckDBOfflineStore(DuckDBOfflineStore):
    """Feast's DuckDB offline store, reading sources through :func:`read_source`; for
    point-in-time retrieval only (module docstring)."""

    @staticmethod
    def get_historical_features(
        config: RepoConfig,
        feature_views: list[FeatureView],
        feature_refs: list[str],
        entity_df: pd.DataFrame | str,
        registry: BaseRegistry,
        project: str,
        full_feature_names: bool = False,
        filter_by_created_timestamp: bool = False,
    ) -> RetrievalJob:
        return get_historical_features_ibis(
            config=config,
            feature_views=feature_views,
            feature_refs=feature_refs,
            entity_df=entity_df,
            registry=registry,
            project=project,
            full_feature_names=full_feature_names,
            filter_by_created_timestamp=filter_by_created_timestamp,
            **_io(config),
        )

    @staticmethod
    def pull_latest_from_table_or_query(*args: Any, **kwargs: Any) -> RetrievalJob:
        raise NotImplementedError(_MATERIALIZE)

    @staticmethod
    def pull_all_from_table_or_query(*args: Any, **kwargs: Any) -> RetrievalJob:
        raise NotImplementedError(_MATERIALIZE)
