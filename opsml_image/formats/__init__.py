"""Conversions between a dataset folder and other annotation formats, one module a format.

Every format module has the same functions (see :mod:`~opsml_image.formats.base`):
``export(dataset, dest, *, split=None, skip_invalid=False) -> Report`` and
``import_dataset(source, dest, *, skip_invalid=False) -> Report``, plus pure converters without IO.
Nothing is dropped silently: a bad item stops the conversion with a
:class:`~opsml_image.formats.base.FormatError` naming it, or with ``skip_invalid`` is listed in the report.

* :mod:`~opsml_image.formats.coco`: COCO detection JSON; COCO → folder → COCO is the identity (ids,
  ``iscrowd``, ``area``, ``segmentation``, ``info``, ``licenses`` kept; sidecar ``coco_meta.json``); the pure
  dict conversions are in :mod:`~opsml_image.formats.coco_convert`.
* :mod:`~opsml_image.formats.yolo`: YOLO text labels (``class cx cy w h``, normalised) with ``data.yaml``,
  Ultralytics and Roboflow layouts.
* ``voc``, ``cvat``, ``labelstudio``, ``hf``: Pascal VOC XML, CVAT for images XML, Label Studio JSON,
  Hugging Face datasets.
"""

from opsml_image.formats import base, coco, cvat, hf, labelstudio, voc, yolo
from opsml_image.formats.base import FormatError, Report

__all__ = ["base", "coco", "cvat", "hf", "labelstudio", "voc", "yolo", "FormatError", "Report"]
