"""Small JSON state files (lesson progress, quiz cards) that survive crashes and bad edits.

Each file holds ``{"schema": N, "data": ...}``. Writes go to a temporary file beside the real
one, then replace it in one rename, so Ctrl-C or a full disk never leaves half a file. A file
that cannot be read (corrupt JSON, wrong schema) is moved aside to ``NAME.corrupt-<time>`` with
a warning naming both paths, and the learner starts fresh rather than crashing — the old bytes
are kept, never silently lost.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

from engine.atomic import atomic_write
from engine.paths import state_dir


class JsonStore:
    """One JSON document on disk with a schema version."""

    def __init__(self, name: str, schema: int, folder: Path | None = None):
        self.path = (folder or state_dir()) / name
        self.schema = schema
        self.warning: str | None = None  # set when a bad file was moved aside on load

    def load(self, default):
        """The stored data, or ``default`` when there is none or it was unreadable."""
        self.warning = None
        if not self.path.exists():
            return default
        try:
            doc = json.loads(self.path.read_text(encoding="utf-8"))
            if not isinstance(doc, dict) or doc.get("schema") != self.schema or "data" not in doc:
                raise ValueError(f"expected schema {self.schema}")
            return doc["data"]
        except (OSError, UnicodeDecodeError, ValueError) as exc:
            aside = self.path.with_name(f"{self.path.name}.corrupt-{time.strftime('%Y%m%d-%H%M%S')}")
            try:
                os.replace(self.path, aside)
                kept = f"moved it to {aside}"
            except OSError:
                kept = "left it in place"
            self.warning = f"could not read {self.path} ({exc}); {kept} and started fresh"
            return default

    def save(self, data) -> None:
        """Write ``data`` atomically (temporary file, fsync, rename)."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with atomic_write(self.path, "w", encoding="utf-8") as f:
            json.dump({"schema": self.schema, "data": data}, f, indent=1, sort_keys=True)
