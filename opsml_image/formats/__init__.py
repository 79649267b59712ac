"""Conversions between an ``ImageDataset`` folder and other annotation formats, one module a format.

* :mod:`~opsml_image.formats.coco`: COCO detection JSON (``images``, ``annotations``, ``categories``).
* :mod:`~opsml_image.formats.yolo`: YOLO text labels (``class cx cy w h``, normalised) with ``data.yaml``.
"""

from opsml_image.formats import coco, yolo

__all__ = ["coco", "yolo"]
