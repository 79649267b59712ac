"""The background thread that writes the store's edits back to the metadata files (:class:`AutoFlusher`)."""

from __future__ import annotations

import logging
import threading
import time

from opsml_image.store.workstore import WorkStore

log = logging.getLogger("opsml_image.store")  # the store's logger, as before the store became a package


class AutoFlusher:
    """A daemon thread that flushes the store at most ``delay`` seconds after a :meth:`notify`.

    Call :meth:`notify` after every save; edits made within one ``delay`` window are written together.
    :meth:`stop` flushes what is pending and ends the thread. A failed flush is logged, kept in
    :attr:`last_error` and retried on the next notify.
    """

    def __init__(self, store: WorkStore, delay: float = 2.0) -> None:
        self.store, self.delay = store, delay
        self.last_error: BaseException | None = None
        self.flushes = 0
        self._due: float | None = None
        self._stopping = False
        self._wake = threading.Condition()
        self._thread = threading.Thread(target=self._run, name="opsml-image-autoflush", daemon=True)
        self._thread.start()

    def notify(self) -> None:
        """Ask for a flush within ``delay`` seconds (a pending request is not postponed)."""
        with self._wake:
            if self._due is None:
                self._due = time.monotonic() + self.delay
                self._wake.notify()

    def stop(self, timeout: float | None = 30.0) -> None:
        """Flush pending edits now and end the thread."""
        with self._wake:
            self._stopping = True
            self._wake.notify()
        self._thread.join(timeout)

    @property
    def alive(self) -> bool:
        return self._thread.is_alive()

    def _run(self) -> None:
        while True:
            with self._wake:
                while not self._stopping and (self._due is None or self._due > time.monotonic()):
                    wait = None if self._due is None else self._due - time.monotonic()
                    self._wake.wait(wait)
                stopping = self._stopping
                self._due = None
            self._flush()
            if stopping:
                return

    def _flush(self) -> None:
        try:
            self.store.flush()
            self.flushes += 1
            self.last_error = None
        except Exception as error:  # noqa: BLE001 - keep the thread alive; the app shows last_error
            self.last_error = error
            log.exception("flushing the working store failed")
