"""Feast definitions generated from the use-case spec: what training and serving may ask for.

Definitions only (``feast apply`` imports every ``.py`` here). Every name comes from the
spec's ``features`` section through ``include.features.schema`` (the same plan the feature
computation writes its tables by, so table and schema can not drift apart):

* an Entity per ``features.entities`` entry, keyed by its join key (INT64 or STRING, as the
  events column is);
* a FeatureView per entity over its partitioned tables (``features/<view>``, written by
  include/features/tables.py; relative paths resolve against the store's repo_path, the data
  root, so one registry serves any data root and pruned views, include/features/store.py);
* the on-demand view of ``features.request`` (computed from the request by the same function
  the online service runs, include/features/request_time.py);
* the versioned FeatureService that training and serving both ask for by name: a changed
  feature set gets a new service name, so a model never meets features it was not trained on.

The objects are module globals (Feast collects them from the module's namespace).
"""

from datetime import timedelta

from feast import (
    Entity,
    FeatureService,
    FeatureView,
    Field,
    FileSource,
    Project,
    RequestSource,
    ValueType,
)
from feast.on_demand_feature_view import OnDemandFeatureView
from feast.types import Float64, Int64, UnixTimestamp

from include.config import get_settings
from include.features import request_time, schema
from include.spec import load_spec

_USE_CASE = load_spec(get_settings().usecase_spec)
_SPEC = schema.feature_spec(_USE_CASE)
_DTYPES = {"int": Int64, "float": Float64, "timestamp": UnixTimestamp}
_KEYS = {"int": ValueType.INT64, "string": ValueType.STRING}
_TTL = timedelta(days=_SPEC.ttl_days)


def _fields(columns: dict[str, str]) -> list[Field]:
    return [Field(name=name, dtype=_DTYPES[kind]) for name, kind in columns.items()]


def _entity(view: schema.View) -> Entity:
    return Entity(
        name=view.entity,
        join_keys=[view.join_key],
        value_type=_KEYS[view.key_type],
        description=view.description,
    )


def _view(view: schema.View, entity: Entity) -> FeatureView:
    grain = "per event (before it, and just after it)" if view.stamps == "per_event" else "daily"
    return FeatureView(
        name=view.name,
        entities=[entity],
        ttl=_TTL,
        online=True,
        source=FileSource(
            name=f"{view.name}_source",
            path=schema.source_path(view.name),
            timestamp_field=schema.TIMESTAMP,
            description=f"Rows of {view.entity}, stamped {grain}",
        ),
        schema=_fields(view.columns),
        description=view.description
        or f"Aggregations per {view.entity}, strictly before each stamp",
    )


project = Project(name=_SPEC.project, description=_USE_CASE.description)
_entities = {v.name: _entity(v) for v in _SPEC.views}
_views = {v.name: _view(v, _entities[v.name]) for v in _SPEC.views}
_services: list[FeatureView | OnDemandFeatureView] = list(_views.values())

if _SPEC.request:
    # The request fields exist only in the request (in training: the entity dataframe's
    # columns of the same names); the event time under Feast's name.
    _request = RequestSource(
        name=f"{_SPEC.request_view}_request",
        schema=[
            *_fields(_SPEC.request_fields),
            Field(name=schema.TIMESTAMP, dtype=UnixTimestamp),
        ],
    )
    _used = {i for r in _SPEC.request for i in r.inputs}
    _request_view = OnDemandFeatureView(
        name=_SPEC.request_view,
        sources=[*(v for v in _views.values() if _used & {f.name for f in v.features}), _request],
        schema=_fields(schema.request_features(_SPEC)),
        mode="pandas",
        udf=request_time.frame_function([(r.name, r.function, r.inputs) for r in _SPEC.request]),
        udf_string="include.features.request_time.frame_function(<the spec's transforms>)",
        description="Request-time transforms of the spec (include/features/request_time.py)",
    )
    _services.append(_request_view)

service = FeatureService(
    name=_SPEC.feature_service,
    features=_services,
    description=f"Every feature the {_USE_CASE.name} model uses, for training and online scoring",
)

# Feast collects the definitions from the module's globals.
globals().update({f"entity_{k}": v for k, v in _entities.items()})
globals().update({f"view_{k}": v for k, v in _views.items()})
