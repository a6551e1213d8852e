"""Every setting of every service, in one place.

Each field is read from the environment as ``DATELINE_<NAME>`` (or from a ``.env`` file);
the defaults suit one machine running the local services that ``deploy/local`` starts.
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

DEFAULT_IGNORE_PATTERNS = [
    ".*",  # hidden files and folders
    "*.part",
    "*.partial",
    "*.tmp",
    "*.temp",
    "*.crdownload",
    "*.download",
    "*.swp",
    "*.swx",
    "*~",
    "~$*",
    "#*#",
    ".#*",
    "*.lock",
]


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="DATELINE_", env_file=".env", env_file_encoding="utf-8", extra="ignore"
    )

    # --- where things are -------------------------------------------------------------
    inbox: Path = Field(Path("inbox"), description="Watched folder; files are never modified.")
    data_dir: Path = Field(
        Path(".dateline"), description="Local service data, logs and pid files (not the inbox)."
    )

    # --- services ---------------------------------------------------------------------
    redis_url: str = "redis://127.0.0.1:6390/0"
    elasticsearch_url: str = "http://127.0.0.1:9250"
    index: str = Field("articles", description="Alias that searches and writes go through.")
    api_host: str = "127.0.0.1"
    api_port: int = 8000

    # --- ingest -----------------------------------------------------------------------
    stable_seconds: float = Field(
        2.0, description="A file is read only after size and mtime stayed unchanged this long."
    )
    rescan_seconds: float = Field(30.0, description="Period of the full inbox rescan.")
    max_file_mb: float = 20.0
    ignore_patterns: list[str] = Field(default_factory=lambda: list(DEFAULT_IGNORE_PATTERNS))
    on_delete: Literal["remove", "keep"] = "remove"
    ingest_tick_seconds: float = Field(
        0.5, description="How often the watcher checks pending files for stability."
    )
    ingest_heartbeat_seconds: float = Field(
        15.0, description="Period of the ingest service's heartbeat (its key lives 60 s)."
    )

    # --- workers ----------------------------------------------------------------------
    ner_model: str = Field(
        "flair/ner-english",
        description="Flair model name (fetched from the model hub) or a local .pt path.",
    )
    ner_models: Annotated[dict[str, str], NoDecode] = Field(
        default_factory=dict, description='Per-language NER models, e.g. {"de": "flair/ner-german"}.'
    )
    ner_batch_size: int = 16
    summary_sentences: int = 3
    torch_threads: int = Field(1, description="Torch threads per worker process.")
    worker_concurrency: int = 1
    task_max_retries: int = 5
    task_visibility_timeout: int = Field(
        900,
        description="Seconds before a task taken by a worker that vanished (killed, host lost) "
        "is delivered again; longer than the slowest article's stage.",
    )

    # --- indexer ----------------------------------------------------------------------
    index_batch_size: int = 200
    index_flush_seconds: float = 1.0
    index_shards: int = 1
    index_replicas: int = 0
    index_refresh_interval: str = "1s"

    @field_validator("ner_models", mode="before")
    @classmethod
    def _model_map(cls, value: object) -> object:
        """JSON from the environment; an empty value means no per-language models."""
        if value in ("", None):
            return {}
        if isinstance(value, str):
            try:
                return json.loads(value)
            except json.JSONDecodeError as exc:
                raise ValueError(
                    'DATELINE_NER_MODELS must be a JSON object, e.g. {"de": "flair/ner-german"}'
                ) from exc
        return value

    def ner_model_for(self, language: str) -> str | None:
        """The NER model for a language: its own entry, else the default (None: skip)."""
        if language in self.ner_models:
            return self.ner_models[language] or None
        return self.ner_model or None

    @property
    def max_file_bytes(self) -> int:
        return int(self.max_file_mb * 1024 * 1024)

    @property
    def inbox_path(self) -> Path:
        return self.inbox.expanduser().resolve()


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
