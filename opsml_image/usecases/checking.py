"""Keep "With errors" current: a full validation in the background when a workspace opens.

The store re-checks an image on every save once a validation is stored; this module makes sure one is
stored without anyone visiting Validate. The run is skipped when the store's last verdict is still current,
and repeated (a few times at most) when an edit was saved while it read the files, since such an image's
stored issues would be those of its line before the edit. It starts after a short delay, so the page that
opened the folder is drawn before the validation competes with it for the interpreter.
"""

from __future__ import annotations

from opsml_image.usecases import validate
from opsml_image.usecases.workspace import BackgroundJob, Workspace

__all__ = ["start_validation", "validation_status"]

ROUNDS = 3
#: Seconds between opening and validating: the first page's script run goes first.
DELAY = 1.0


def start_validation(ws: Workspace, rounds: int = ROUNDS, delay: float = DELAY) -> BackgroundJob:
    """The workspace's background validation, started on the first call (later calls return it)."""
    with ws.lock:
        if ws.validation is None:
            ws.validation = BackgroundJob(
                f"Validating {ws.path.name}", lambda job: _validate(ws, job, rounds, delay)
            ).start()
        return ws.validation


def validation_status(ws: Workspace) -> str | None:
    """A line on the background validation for the page: its progress or failure; None when done or absent."""
    job = ws.validation
    if job is None:
        return None
    if job.error:
        return f"{job.error}. Run it on the Validate page."
    if job.running and ws.indexing is not None and ws.indexing.running:
        return "Checking the dataset for errors: once it is indexed"
    if job.running:
        return f"Checking the dataset for errors: {job.fraction():.0%}"
    return None


def _validate(ws: Workspace, job: BackgroundJob, rounds: int, delay: float) -> None:
    ws.wait_indexed(job)  # a first index in the background comes first
    job.pause(delay)
    stored = validate.last_verdict(ws)
    if stored is not None and validate.is_current(ws, stored):
        return
    for _ in range(rounds):
        verdict = validate.validate_and_record(ws, job.report)
        newest = ws.store.history(1)
        if verdict.mark is None or verdict.mark[0] == (newest[0].id if newest else 0):
            return  # no edit was saved while it read the files: every stored issue is current
