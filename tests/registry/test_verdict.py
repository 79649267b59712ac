"""A validation verdict handed to the registry: reused while the registry's scan finds exactly the files it
judged, validated anew otherwise; :func:`opsml_image.verdict.judge` gives the report and the counts in one
read."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from conftest import write_image
from opsml_image import ImageDataset
from opsml_image.registry import CardRegistry, DatasetInvalidError
from opsml_image.registry import registry as registry_module
from opsml_image.registry.hashing import listing
from opsml_image.verdict import Verdict, judge

from .conftest import make_card


@pytest.fixture
def judged(monkeypatch: pytest.MonkeyPatch) -> list[Path]:
    """The folders the registry validates itself (its calls of ``judge``)."""
    seen: list[Path] = []
    real = registry_module.judge

    def spy(data, *args, **kwargs):  # type: ignore[no-untyped-def]
        seen.append(data.image_dir)
        return real(data, *args, **kwargs)

    monkeypatch.setattr(registry_module, "judge", spy)
    return seen


def verdict_of(root: Path) -> Verdict:
    return judge(ImageDataset(image_dir=root), listing(root))


def test_judge_reads_once_for_the_report_and_the_counts(dataset_dir: Path) -> None:
    dataset = ImageDataset(image_dir=dataset_dir)
    verdict = judge(dataset, listing(dataset_dir))
    assert verdict.ok and verdict.report.records == 5
    assert verdict.stats == dataset.stats()
    assert verdict.metadata == ("train/metadata.jsonl", "validation/metadata.jsonl")
    assert verdict.files == listing(dataset_dir)
    assert verdict.stands_for(dataset, listing(dataset_dir))


def test_a_file_changing_while_judged_leaves_a_verdict_that_stands_for_nothing(
    dataset_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from opsml_image import verdict as verdict_module

    files = listing(dataset_dir)
    real = verdict_module.validate_dataset

    def validate_then_touch(*args, **kwargs):  # type: ignore[no-untyped-def]
        report = real(*args, **kwargs)
        write_image(dataset_dir / "train" / "train_000.jpg", size=(64, 48), color=(1, 2, 3))
        return report

    monkeypatch.setattr(verdict_module, "validate_dataset", validate_then_touch)
    verdict = judge(ImageDataset(image_dir=dataset_dir), files)
    assert verdict.files is None and not verdict.stands_for(ImageDataset(image_dir=dataset_dir), files)


def test_a_verdict_of_the_scanned_files_is_reused(
    registry: CardRegistry, dataset_dir: Path, judged: list[Path]
) -> None:
    verdict = verdict_of(dataset_dir)
    card = registry.register_card(make_card(dataset_dir), verdict=verdict)
    assert judged == [] and card.validated is True
    assert card.facts is not None and card.facts.records == verdict.stats.records == 5
    assert card.facts.boxes == 10 and card.facts.splits == {"train": 3, "validation": 2}


def test_a_folder_changed_since_the_verdict_is_validated_again(
    registry: CardRegistry, dataset_dir: Path, judged: list[Path]
) -> None:
    verdict = verdict_of(dataset_dir)
    path = dataset_dir / "train" / "metadata.jsonl"
    path.write_text(path.read_text() + json.dumps({"file_name": "gone.jpg"}) + "\n")
    with pytest.raises(DatasetInvalidError, match="image.missing"):
        registry.register_card(make_card(dataset_dir), verdict=verdict)
    assert judged == [dataset_dir] and registry.list_cards() == []


def test_a_file_added_since_the_verdict_is_not_judged_by_it(
    registry: CardRegistry, dataset_dir: Path, judged: list[Path]
) -> None:
    verdict = verdict_of(dataset_dir)
    write_image(dataset_dir / "validation" / "extra.png")
    card = registry.register_card(make_card(dataset_dir), verdict=verdict)
    assert (
        judged == [dataset_dir]
        and card.facts is not None
        and card.facts.files == len(verdict.files or {}) + 1
    )


def test_a_failing_verdict_refuses_unless_forced(
    registry: CardRegistry, dataset_dir: Path, judged: list[Path]
) -> None:
    (dataset_dir / "validation" / "validation_001.png").unlink()
    verdict = verdict_of(dataset_dir)
    assert not verdict.ok
    with pytest.raises(DatasetInvalidError, match="image.missing") as refused:
        registry.register_card(make_card(dataset_dir), verdict=verdict)
    assert refused.value.report is verdict.report  # the verdict's own report, not a new validation
    card = registry.register_card(make_card(dataset_dir), verdict=verdict, force=True)
    assert judged == [] and card.validated is False


def test_a_verdict_of_another_metadata_file_is_not_reused(
    registry: CardRegistry, dataset_dir: Path, judged: list[Path]
) -> None:
    for split in ("train", "validation"):
        source = dataset_dir / split / "metadata.jsonl"
        (dataset_dir / split / "labels.jsonl").write_bytes(source.read_bytes())
    verdict = verdict_of(dataset_dir)  # of metadata.jsonl
    data = ImageDataset(image_dir=dataset_dir, metadata="labels.jsonl")
    card = make_card(dataset_dir).model_copy(update={"data": data})
    registry.register_card(card, verdict=verdict)
    assert judged == [dataset_dir] and card.facts is not None and card.facts.metadata == "labels.jsonl"


def test_a_file_added_during_registration_is_left_out_consistently(
    registry: CardRegistry, dataset_dir: Path, tmp_path: Path
) -> None:
    def add(stage: str, done: int, total: int) -> None:
        if stage == "upload" and not (dataset_dir / "train" / "late.png").exists():
            write_image(dataset_dir / "train" / "late.png")

    card = registry.register_card(make_card(dataset_dir), progress=add)
    manifest = registry.manifest(card)
    assert "train/late.png" not in manifest.by_path()  # the version is the folder as scanned, whole
    restored = registry.download_data(card, tmp_path / "restored")
    assert not (restored.image_dir / "train" / "late.png").exists()
    assert registry.register_card(make_card(dataset_dir)).facts.files == len(manifest.entries) + 1  # type: ignore[union-attr]
