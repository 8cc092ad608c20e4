"""Online fraud scoring: the BentoML service and what it is packaged and deployed with.

One process answers ``POST /predict`` for a batch of transactions: it validates the
request against the use-case spec, reads the customer and merchant features from the
online store, scores with the model version it serves and decides with that version's
threshold. The package is separate from ``include/`` because it *is* the serving image:
everything here (and only the few ``include`` modules it imports) goes into the Bento, and
nothing here imports Feast, Airflow or the training code.

* :mod:`.contract` — request and response models (pydantic), built from the spec;
* :mod:`.online` — the online feature reader (Feast's stores read directly, no Feast);
* :mod:`.model` — the served-model format in BentoML's model store (``package``/``load``);
* :mod:`.capture` — prediction capture to the lake, off the request path;
* :mod:`.pointer` — the deployment pointer: which version the stable service serves;
* :mod:`.auth` — the bearer token;
* :mod:`.service` — the BentoML service (``ScoringService``);
* :mod:`.bento` — one Bento per model version (``build``) and ``bentoml_home()``.

Environment (all optional): ``MLOPS_SERVING_MODEL`` (a BentoML model tag: serve exactly
it), ``MLOPS_SERVING_POINTER`` (pointer file), ``MLOPS_SERVING_TOKEN`` /
``MLOPS_SERVING_TOKEN_FILE``, ``MLOPS_SERVING_CAPTURE`` (``false`` turns capture off),
``MLOPS_SERVING_TIMING`` (``true``: each ``/predict`` answer carries a ``Server-Timing``
header with its steps' durations), ``BENTOML_HOME`` (default ``<data_root>/bentoml``).
"""
