"""Reload off the request path, and in every worker process, not only the one asked.

A reload runs in a :class:`BackgroundReload`: one thread, one reload at a time. ``POST
/admin/reload`` starts it (or joins the one running) and waits for it a bounded time, so a
reload that must first explain every client for a new champion (tens of seconds) answers 202
instead of running into the request timeout; it carries on and swaps the state in when ready.

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
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Generic, TypeVar

from features.atomic_write import write_text_atomically
from features.errors import UserInputError

logger = logging.getLogger(__name__)

NOTICE_NAME = ".serving-reload"
WATCH_SECONDS = 2.0
MESSAGE_CHARACTERS = 200

Outcome = TypeVar("Outcome")


def failure_summary(error: BaseException) -> str:
    """``ErrorClass: first line of the message``, short: what a log or a 409 may say of a failed
    load (file and column names, never a traceback or a table's rows)."""
    lines = str(error).strip().splitlines()
    message = lines[0][:MESSAGE_CHARACTERS] if lines else ""
    return f"{type(error).__name__}: {message}" if message else type(error).__name__


class BackgroundReload(Generic[Outcome]):
    """Runs ``reload`` in one background thread, one run at a time.

    :meth:`start` returns the run in progress, or starts one. The run goes on when whoever
    started it stops waiting; its failure is logged (class and first line, see
    :func:`failure_summary`) and leaves the current state serving.
    """

    def __init__(self, reload: Callable[[], Outcome]) -> None:
        self._reload = reload
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="clientcast-reload")
        self._lock = threading.Lock()
        self._running: Future[Outcome] | None = None

    def start(self) -> Future[Outcome]:
        """The reload in progress, or a new one."""
        with self._lock:
            if self._running is None or self._running.done():
                self._running = self._executor.submit(self._reload)
                self._running.add_done_callback(log_failure)
            return self._running

    def shutdown(self) -> None:
        """Stop accepting reloads (one in progress finishes in the background)."""
        self._executor.shutdown(wait=False, cancel_futures=True)


def log_failure(run: Future[object]) -> None:
    """Log a failed reload in one line; the current state keeps serving."""
    error = None if run.cancelled() else run.exception()
    if error is not None:
        logger.warning(
            "reload failed, still serving the previous state: %s", failure_summary(error)
        )


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
        with self._lock:
            try:
                write_text_atomically(stamp + "\n", self.path)
            except (OSError, UserInputError) as error:  # an unwritable snapshot root
                logger.warning("cannot tell the other workers to reload: %s", error)
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
                except Exception as error:  # keep serving the current state; the next retries
                    logger.warning(
                        "reload asked by another worker failed, still serving the previous "
                        "state: %s",
                        failure_summary(error),
                    )

        thread = threading.Thread(target=loop, name="clientcast-reload-watch", daemon=True)
        thread.start()
        return thread
