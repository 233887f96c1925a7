"""Reload every worker process, not only the one that received ``POST /admin/reload``.

BentoML workers are separate processes behind one socket: a reload request reaches one of them.
That worker reloads, then writes a new stamp into a *reload notice* file beside the snapshots;
every worker watches the notice (one ``stat`` and a tiny read every few seconds, in a daemon
thread, never on the request path) and reloads when the stamp changes. A worker that cannot
write the notice (a read-only volume) still reloads itself and says so in its answer.
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Callable
from contextlib import suppress
from pathlib import Path

logger = logging.getLogger(__name__)

NOTICE_NAME = ".serving-reload"
WATCH_SECONDS = 2.0


class ReloadNotice:
    """A small file whose content changes each time some worker reloaded."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()
        self._seen = self.stamp()

    def stamp(self) -> str | None:
        """The notice's current stamp; None when there is no notice yet."""
        try:
            return self.path.read_text(encoding="utf-8").strip() or None
        except OSError:
            return None

    def publish(self) -> bool:
        """Write a new stamp (atomically) that this worker has already acted on."""
        stamp = uuid.uuid4().hex
        temporary = self.path.with_name(f"{self.path.name}.{stamp}.tmp")
        with self._lock:
            try:
                temporary.write_text(stamp + "\n", encoding="utf-8")
                temporary.replace(self.path)
            except OSError as error:
                logger.warning("cannot tell the other workers to reload: %s", error)
                with suppress(OSError):
                    temporary.unlink(missing_ok=True)
                return False
            self._seen = stamp
        return True

    def changed(self) -> bool:
        """Whether another worker published a stamp since this one last looked (then acks it)."""
        stamp = self.stamp()
        with self._lock:
            if stamp is None or stamp == self._seen:
                return False
            self._seen = stamp
            return True

    def watch(
        self, reload: Callable[[], object], stop: threading.Event, every: float = WATCH_SECONDS
    ) -> threading.Thread:
        """Start a daemon thread calling ``reload`` whenever the notice changes, until ``stop``."""

        def loop() -> None:
            while not stop.wait(every):
                if not self.changed():
                    continue
                try:
                    reload()
                except Exception:  # keep serving the current state; the next notice retries
                    logger.exception("reload asked by another worker failed")

        thread = threading.Thread(target=loop, name="clientcast-reload-watch", daemon=True)
        thread.start()
        return thread
