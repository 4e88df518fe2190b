"""What one `mlv serve` run was asked for, passed to each uvicorn worker through the environment."""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass

ENV = "MLV_SERVE_SETTINGS"
MAX_BODY_DEFAULT = 1 << 20


@dataclass(frozen=True)
class Settings:
    package: str  # the package folder served first
    root: str | None = None  # the repository (for --follow)
    follow: str | None = None  # NAME#STAGE to follow, or None
    follow_every_s: float = 5.0
    log: str | None = "predictions"  # None: no prediction log
    log_sample: float = 1.0
    log_queue: int = 100_000  # requests waiting for the writer, at most
    log_interval_s: float = 1.0
    max_body: int = MAX_BODY_DEFAULT

    def to_env(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_env(cls) -> Settings:
        raw = os.environ.get(ENV)
        if not raw:
            raise RuntimeError(f"{ENV} is not set: start the server with `mlv serve`")
        return cls(**json.loads(raw))
