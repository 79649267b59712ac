"""The use-case layer: one typed function for each action the app offers.

Pages read their state, call one function here and render what it returns; the CLI and notebooks can call
the same functions. Nothing here imports Streamlit. Below this layer sit the working store
(:mod:`opsml_image.store`), the registry, the formats and the rules; the app's pages import this package
only (an import-linter contract), so the few types they name are exported here.

Every error a use case raises is of one family (:mod:`.errors`): :class:`UserError`, with
:class:`Refused`, :class:`Stale`, :class:`Invalid` and :class:`NotFound`; its message is for the person.
An edit's conflict or refusal (Annotate, a review decision, a submission) is a returned outcome instead.

* :mod:`.workspace`: open a dataset folder with its store and flusher; what the sidebar counts.
* :mod:`.access`: who is signed in and what they may do, data roots, the change history, users.
* :mod:`.annotate`: apply a canvas drawing, copy the previous boxes, relabel/delete a box, caption, classes.
* :mod:`.annotate_state`: what a person is doing on Annotate, one frozen value with pure transitions.
* :mod:`.browse`: a gallery page, its tiles, the statistics of a filter.
* :mod:`.validate`, :mod:`.register`, :mod:`.create`, :mod:`.transfer`, :mod:`.export`: validate and
  record the verdict, preview / apply / undo fixes, register from the working store, create a dataset from
  uploads, import and export, write the edits now.
* :mod:`.review`, :mod:`.quality`: team review and the Team page's figures; the data-quality check.
"""

from opsml_image.auth import LOCAL_ADMIN, Action, Forbidden, Role, User, can
from opsml_image.store import Filter, Key
from opsml_image.usecases.errors import Invalid, NotFound, Refused, Stale, UserError, describe, user_error
from opsml_image.usecases.workspace import Workspace

__all__ = [
    "LOCAL_ADMIN",
    "Action",
    "Filter",
    "Forbidden",
    "Invalid",
    "Key",
    "NotFound",
    "Refused",
    "Role",
    "Stale",
    "User",
    "UserError",
    "Workspace",
    "can",
    "describe",
    "user_error",
]
