"""Where Dateline keeps things on disk: one definition for every service and tool.

Relative folders in settings (``DATELINE_DATA_DIR``) are taken from the project folder,
so every command finds the same data whatever folder it is started from.
"""

from __future__ import annotations

from pathlib import Path

from shared.settings import Settings

PROJECT_DIR = Path(__file__).resolve().parents[1]
DEPLOY_DIR = PROJECT_DIR / "deploy"


def data_dir(settings: Settings) -> Path:
    folder = settings.data_dir.expanduser()
    return folder if folder.is_absolute() else PROJECT_DIR / folder


def run_dir(settings: Settings) -> Path:
    """Pid files and the supervisor's state."""
    return _made(data_dir(settings) / "run")


def log_dir(settings: Settings) -> Path:
    return _made(data_dir(settings) / "logs")


def _made(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    return folder
