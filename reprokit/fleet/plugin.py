"""A Dask worker plugin giving each worker its own engine: ``Engines({"w1": "unix://…"})``
sets ``REPROKIT_DOCKER_HOST`` in the worker named ``w1`` (a restarted worker gets it again).
Workers not named keep their ``DOCKER_HOST``.

>>> engines = Engines({0: "unix:///run/docker.sock", 1: "tcp://10.0.0.2:2375"})
>>> client.register_plugin(engines)  # doctest: +SKIP
"""

from __future__ import annotations

import os
from typing import Any

from distributed.diagnostics.plugin import WorkerPlugin


class Engines(WorkerPlugin):
    """Per-worker engine setting, by worker name (or its address)."""

    name = "reprokit-engines"

    def __init__(self, engines: dict[Any, str]):
        self.engines = {str(k): v for k, v in engines.items()}

    def setup(self, worker: Any) -> None:
        url = self.engines.get(str(worker.name)) or self.engines.get(str(worker.address))
        if url:
            os.environ["REPROKIT_DOCKER_HOST"] = url
