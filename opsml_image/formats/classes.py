"""Category ids by class name while a format that names classes (VOC, CVAT, Label Studio) is read.

The ids of a :class:`~opsml_image.annotation.Box` come from a fixed list when the source has one
(``labelmap.txt``, CVAT ``<meta>``, ``label_config.xml``): a name not in it is refused. Without one, ids are
given in order of first sight, and :meth:`ClassIds.renumber` puts the classes of the images kept in the
order the format wants (alphabetical for VOC, first appearance for the others).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import replace

from opsml_image.annotation import ImageAnnotation

__all__ = ["ClassIds"]


class ClassIds:
    """Class name → category id: fixed (``names`` given) or growing in order of first sight."""

    def __init__(self, names: Sequence[str] | None = None) -> None:
        self.fixed = names is not None
        self.names: list[str] = list(names or [])
        self._ids = {name: i for i, name in enumerate(self.names)}

    def id(self, name: str) -> int | None:
        """The id of ``name``: None when the list is fixed and lacks it, else a new id on first sight."""
        found = self._ids.get(name)
        if found is None and not self.fixed:
            found = self._ids[name] = len(self.names)
            self.names.append(name)
        return found

    def renumber(self, annotations: Iterable[ImageAnnotation], order: Sequence[str]) -> list[str]:
        """Give the boxes and image categories of ``annotations`` the ids of their names in ``order``
        (each a name known here); returns ``order`` as a list, the new class names."""
        new = {self._ids[name]: i for i, name in enumerate(order)}
        for annotation in annotations:
            annotation.boxes = [replace(b, category=new[b.category]) for b in annotation.boxes]
            annotation.categories = [new[c] for c in annotation.categories]
        return list(order)
