"""Data quality: duplicates, leakage across splits, suspicious boxes and class balance, as findings.

A check reads each image file once and keeps its signature (content hash, 64-bit perceptual hash, size)
in a cache under the app home; it then works on the annotations and signatures alone, so a check again
(a new threshold, an edit) reads only the files that changed.

Modules, one concern each:

* :mod:`~opsml_image.quality.findings`: the :class:`Finding` type, the kinds with severity and meaning;
* :mod:`~opsml_image.quality.signatures`: an image file's content and perceptual hashes, in one read;
* :mod:`~opsml_image.quality.cache`: signatures computed once, kept by folder, path, size and mtime;
* :mod:`~opsml_image.quality.hamming`: pairs of hashes within a distance by multi-index hashing;
* :mod:`~opsml_image.quality.duplicates`: duplicate and near-duplicate groups, and leakage;
* :mod:`~opsml_image.quality.boxes`: suspicious boxes, and the boxes the duplicate-box fix drops;
* :mod:`~opsml_image.quality.balance`: boxes and images per class per split, and their findings;
* :mod:`~opsml_image.quality.check`: one check as a :class:`Report`; :func:`summary` for a data card.
"""

from opsml_image.quality.balance import Balance, ClassCount, SplitCount
from opsml_image.quality.boxes import BoxRules, duplicate_boxes
from opsml_image.quality.cache import SignatureCache, Signed
from opsml_image.quality.check import Hints, Report, Settings, check, check_dataset, summary
from opsml_image.quality.duplicates import DEFAULT_NEAR
from opsml_image.quality.findings import KINDS, Finding, Key, Kind, count_kinds, matches
from opsml_image.quality.signatures import Signature, Unreadable, signature

__all__ = [
    "Balance",
    "BoxRules",
    "ClassCount",
    "DEFAULT_NEAR",
    "Finding",
    "Hints",
    "KINDS",
    "Key",
    "Kind",
    "Report",
    "Settings",
    "Signature",
    "SignatureCache",
    "Signed",
    "SplitCount",
    "Unreadable",
    "check",
    "check_dataset",
    "count_kinds",
    "duplicate_boxes",
    "matches",
    "signature",
    "summary",
]
