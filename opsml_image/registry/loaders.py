"""Loading registered data back: the exact folder (hashes verified), HF ``datasets``, a map dataset."""

from __future__ import annotations

import contextlib
import shutil
import threading
import uuid
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson

from opsml_image.dataset import ImageDataset
from opsml_image.registry.errors import RegistryError
from opsml_image.registry.manifest import Manifest, ManifestEntry

if TYPE_CHECKING:
    from opsml_image.registry.card import DataCard
    from opsml_image.registry.storage import ArtifactStore

__all__ = ["Progress", "no_progress", "CardLoader", "to_hf_dataset", "DetectionDataset", "diff_records"]

#: ``progress(stage, done, total)``: stage ``validate`` (files), ``upload``/``download`` (bytes), ``commit``.
Progress = Callable[[str, int, int], None]


def no_progress(stage: str, done: int, total: int) -> None:
    """A :data:`Progress` that reports nothing."""


def byte_counter(progress: Progress | None, stage: str, total: int) -> Callable[[int], None]:
    """An ``advance(n)`` adding up bytes from worker threads, reporting ``progress(stage, done, total)``."""
    report = progress or no_progress
    lock = threading.Lock()
    done = 0
    report(stage, 0, total)

    def advance(n: int) -> None:
        nonlocal done
        with lock:
            done += n
            report(stage, done, total)

    return advance


class CardLoader:
    """Reads one registered version back from storage."""

    def __init__(self, store: ArtifactStore, manifest_digest: str, workers: int = 4) -> None:
        self.store = store
        self.manifest_digest = manifest_digest
        self.workers = workers

    def manifest(self, team: str, name: str, version: str) -> Manifest:
        data = self.store.read(f"{self.store.version_dir(team, name, version)}/manifest.json")
        return Manifest.from_bytes(data, self.manifest_digest)

    def download(
        self, card: DataCard, dest: Path, *, overwrite: bool = False, progress: Progress | None = None
    ) -> ImageDataset:
        """Write the version's folder to ``dest`` (in a temp sibling, moved into place when complete)."""
        assert card.version is not None
        if dest.exists() and (not dest.is_dir() or any(dest.iterdir())) and not overwrite:
            raise RegistryError(
                f"{dest} exists and is not empty: choose another folder or pass overwrite=True"
            )
        manifest = self.manifest(card.team, card.name, card.version)
        advance = byte_counter(progress, "download", manifest.total_bytes)

        dest.parent.mkdir(parents=True, exist_ok=True)
        staging = dest.parent / f".{dest.name}.download-{uuid.uuid4().hex[:8]}"
        staging.mkdir()
        inside = staging.resolve()
        try:

            def get(e: ManifestEntry) -> None:
                target = staging.joinpath(*e.path.split("/"))
                if not target.resolve().is_relative_to(inside):
                    raise RegistryError(f"manifest path {e.path!r} leaves the folder")
                self.store.get_blob(card.team, card.name, e.digest, e.size, target, advance)

            with ThreadPoolExecutor(self.workers, thread_name_prefix="opsml-get") as pool:
                list(pool.map(get, manifest.entries))
            if dest.exists():
                shutil.rmtree(dest) if dest.is_dir() else dest.unlink()
            staging.rename(dest)
        finally:
            with contextlib.suppress(FileNotFoundError):
                shutil.rmtree(staging)
        return ImageDataset(image_dir=dest, metadata=card.facts.metadata if card.facts else "metadata.jsonl")


def to_hf_dataset(data: ImageDataset, category_names: list[str] | None = None, **kwargs: Any) -> Any:
    """``load_dataset("imagefolder", data_dir=...)`` with ``objects.categories`` as named ``ClassLabel``.

    Needs Hugging Face ``datasets``, which opsml-image does not install (it is large): an ImportError
    naming ``pip install datasets`` otherwise."""
    try:
        import datasets
    except ImportError as error:
        raise ImportError(
            "to_hf_dataset needs Hugging Face 'datasets', which opsml-image does not install: "
            "pip install datasets",
            name="datasets",
        ) from error
    loaded = datasets.load_dataset("imagefolder", data_dir=str(data.image_dir), **kwargs)
    names = category_names if category_names is not None else data.category_names()
    if not names:
        return loaded
    label = datasets.ClassLabel(names=names)
    splits = loaded.values() if isinstance(loaded, Mapping) else [loaded]
    features = next(iter(splits)).features.copy()
    changed = False
    if (
        "objects" in features
        and isinstance(features["objects"], dict)
        and "categories" in features["objects"]
    ):
        features["objects"] = {**features["objects"], "categories": datasets.List(label)}
        changed = True
    if "categories" in features:
        features["categories"] = datasets.List(label)
        changed = True
    return loaded.cast(features) if changed else loaded


class DetectionDataset:
    """A PyTorch-style map dataset over one split: ``dataset[i] -> (PIL image, target)``.

    ``target`` holds ``boxes`` as ``[x0, y0, x1, y1]`` pixels (torchvision's convention; the records store
    COCO ``[x, y, w, h]``), ``labels`` (category ids), ``names``, ``image_id`` and ``file_name``. With
    ``as_tensors=True`` boxes and labels become ``torch`` tensors (torch needed only then). Images with
    several records get the union of their boxes; images without boxes get empty lists.
    """

    def __init__(
        self,
        data: ImageDataset | str | Path,
        split: str | None = None,
        *,
        category_names: list[str] | None = None,
        transform: Callable[[Any, dict[str, Any]], tuple[Any, dict[str, Any]]] | None = None,
        as_tensors: bool = False,
    ) -> None:
        self.data = data if isinstance(data, ImageDataset) else ImageDataset(image_dir=Path(data))
        chosen = split if split is not None else next(iter(self.data.splits))
        self.split = self.data.split(chosen)
        self.names = category_names if category_names is not None else self.data.category_names()
        self.transform = transform
        self.as_tensors = as_tensors
        annotations: dict[str, tuple[list[list[float]], list[int]]] = {}
        for item in self.data.iter_records(self.split.name):
            boxes, labels = annotations.setdefault(item.record["file_name"], ([], []))
            objects = item.record.get("objects")
            if isinstance(objects, dict):
                for (x, y, w, h), c in zip(
                    objects.get("bbox") or [], objects.get("categories") or [], strict=False
                ):
                    boxes.append([float(x), float(y), float(x) + float(w), float(y) + float(h)])
                    labels.append(int(c))
        self.items = list(annotations.items())

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, index: int) -> tuple[Any, dict[str, Any]]:
        from PIL import Image

        file_name, (boxes, labels) = self.items[index]
        with Image.open(self.split.directory / file_name) as opened:
            image = opened.convert("RGB")
        target: dict[str, Any] = {
            "boxes": [list(b) for b in boxes],
            "labels": list(labels),
            "names": [self.names[c] if 0 <= c < len(self.names) else str(c) for c in labels],
            "image_id": index,
            "file_name": file_name,
        }
        if self.as_tensors:
            import torch

            target["boxes"] = torch.tensor(target["boxes"], dtype=torch.float32).reshape(-1, 4)
            target["labels"] = torch.tensor(target["labels"], dtype=torch.int64)
        if self.transform is not None:
            return self.transform(image, target)
        return image, target


def diff_records(
    read: Callable[[str], bytes], old: dict[str, ManifestEntry], new: dict[str, ManifestEntry]
) -> tuple[list[str], list[str], list[str]]:
    """Records added, removed and changed between two manifests, keyed ``<folder>/<file_name>``."""
    before, after = _records(read, old), _records(read, new)
    added = sorted(after.keys() - before.keys())
    removed = sorted(before.keys() - after.keys())
    changed = sorted(k for k in before.keys() & after.keys() if before[k] != after[k])
    return added, removed, changed


def _records(read: Callable[[str], bytes], manifest: dict[str, ManifestEntry]) -> dict[str, list[bytes]]:
    """Every record of every ``metadata.jsonl`` in a manifest, canonicalised, grouped by image path."""
    out: dict[str, list[bytes]] = {}
    for path, entry in manifest.items():
        if path.rsplit("/", 1)[-1] != "metadata.jsonl":
            continue
        folder = path.rsplit("/", 1)[0] + "/" if "/" in path else ""
        for line in read(entry.digest).splitlines():
            try:
                record = orjson.loads(line)
            except orjson.JSONDecodeError:
                continue
            if isinstance(record, dict) and isinstance(record.get("file_name"), str):
                canonical = orjson.dumps(record, option=orjson.OPT_SORT_KEYS)
                out.setdefault(folder + record["file_name"], []).append(canonical)
    return out
