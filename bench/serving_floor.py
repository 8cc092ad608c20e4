"""The floor of ``bench/serving.py``: BentoML's plain hello world, served as the scoring service is.

One ``@bentoml.service`` with one JSON endpoint returning a constant: typed pydantic input
and output (the form of BentoML's quickstarts), ``async`` like the scoring service's path,
the scoring service's server settings (one worker, its traffic limits, no access log).
Served by ``bentoml serve bench.serving_floor:HelloFloor`` and called by the same client in
the same run, it is what any BentoML endpoint costs here: uvicorn, BentoML's middlewares
(metrics, OpenTelemetry, timeout, concurrency limit) and its dispatch of an API.

Its form matters: measured in-process on the 2-core dev machine, a *sync* endpoint returning
a ``dict`` costs ~0.3 ms more per request than this one (a thread hand-off, and BentoML
derives a JSON schema for a non-model return type on every response).
"""

from __future__ import annotations

import bentoml
from pydantic import BaseModel


class Greeting(BaseModel):
    hello: str


GREETING = Greeting(hello="world")


@bentoml.service(
    name="hello_floor",
    workers=1,
    # serving/service.py's: its timeout and usecase/fraud.yaml's serving.max_concurrency
    traffic={"timeout": 10.0, "max_concurrency": 64},
    logging={"access": {"enabled": False}},
)
class HelloFloor:
    @bentoml.api
    async def hello(self, name: str = "world") -> Greeting:
        return GREETING
