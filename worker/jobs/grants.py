"""Folders named to ``cardpipe run``: readable by every worker of the same configuration, later runs included.

Why: ``storage.local_roots`` keeps a message from reading any file it names. ``cardpipe run FOLDER`` lets its
own workers read FOLDER; a task of that run that is dead-lettered and redriven must keep that permission, or
the next ``cardpipe worker`` turns it into ``bad_location``. So the grant is recorded in the configuration's
``var/granted-roots.txt`` (one folder per line; delete a line to revoke it) and every worker of that
configuration adds those folders to its local roots. Only an operator's command writes the file; a message
never can.
"""

from __future__ import annotations

import os
from pathlib import Path

from worker.config import Settings

GRANTS_FILE = Path("var") / "granted-roots.txt"


def grants_file(settings: Settings) -> Path:
    return settings.base_dir / GRANTS_FILE


def granted_roots(settings: Settings) -> list[Path]:
    """The folders recorded for this configuration (those that no longer exist are left out)."""
    path = grants_file(settings)
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        return []
    return [Path(line) for line in dict.fromkeys(line.strip() for line in lines) if line and Path(line).is_dir()]


def record_grant(settings: Settings, folder: Path) -> None:
    """Record ``folder`` (absolute) as readable by this configuration's workers."""
    folder = Path(os.path.abspath(folder))
    if folder in granted_roots(settings):
        return
    path = grants_file(settings)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a", encoding="utf-8") as handle:
        handle.write(f"{folder}\n")


def apply_grants(settings: Settings) -> None:
    """Add the recorded folders to ``settings.storage.local_roots`` (before the storage is opened)."""
    extra = [root for root in granted_roots(settings) if root not in settings.storage.local_roots]
    if extra:
        settings.storage.local_roots = [*settings.storage.local_roots, *extra]
