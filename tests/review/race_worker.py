"""A separate process for the review race tests (run as a script): prints one JSON line of what it did.

``lease DIR URI USER``: take images with "next", save and submit each until none is left; prints the keys.
``decide DIR URI USER``: try to approve every submitted image at the rev read before the start signal;
prints the keys this process won.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from opsml_image.dataset import ImageDataset
from opsml_image.review import AlreadyDecided, ReviewBoard
from opsml_image.store import WorkStore


def main(mode: str, folder: str, uri: str, user: str, start_at: float) -> None:
    store = WorkStore.open(ImageDataset(image_dir=Path(folder)), uri)
    board = ReviewBoard(store)
    done: list[list[str]] = []
    if mode == "decide":
        queue = [(item.key, item.rev) for item in board.queue(limit=10_000)]
    time.sleep(max(0.0, start_at - time.time()))
    if mode == "lease":
        current = None
        while (item := board.next_image(user, current=current)) is not None:
            board.on_save(item.key, user, reviewer=False, version=store.version(*item.key), n_boxes=0)
            board.submit(item.key, user)
            done.append(list(item.key))
            current = item.key
            time.sleep(0.02)  # some work, so that the processes overlap
    else:
        for key, rev in queue:
            try:
                board.decide(key, user, approve=True, rev=rev)
                done.append(list(key))
            except AlreadyDecided:
                pass
    store.close()
    print(json.dumps(done))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], float(sys.argv[5]))
