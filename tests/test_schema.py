"""The pydantic schemas: the OpsML seed's names, signatures and example, and the rules they enforce."""

from __future__ import annotations

import math

import pytest
from pydantic import ValidationError

from opsml_image import BBox, ImageDataset, ImageMetadata, ImageRecord
from opsml_image.jsonl import MetadataError, iter_objects

SEED_LINES = """\
{"file_name": "0001.png", "objects": {"bbox": [[302.0, 109.0, 73.0, 52.0]], "categories": [0]}}
{"file_name": "0002.png", "caption": "This is a second value of a text feature you added to your images"}
{"file_name": "0002.png", "objects": {"bbox": [[810.0, 100.0, 57.0, 28.0]], "categories": [1]}}
{"file_name": "0003.png", "objects": {"bbox": [[160.0, 31.0, 248.0, 616.0], [741.0, 68.0, 202.0, 401.0]], "categories": [2, 2]}}
"""


def test_seed_example_runs_as_written(tmp_path, monkeypatch, make_image):
    monkeypatch.chdir(tmp_path)
    make_image("my_images/0001.png", size=(640, 480))
    record = ImageRecord(
        file_name="0001.png",
        caption="This is a caption for the image",
        categories=[0],
        objects=BBox(bbox=[[302.0, 109.0, 73.0, 52.0]], categories=[0]),
    )
    metadata = ImageMetadata(records=[record])
    metadata.write_to_file("my_images/metadata.jsonl")
    image_dataset = ImageDataset(image_dir="my_images", metadata=metadata)
    from_file = ImageDataset(image_dir="my_images", metadata="metadata.jsonl")

    assert image_dataset.validate().ok
    assert from_file.validate().ok
    assert ImageMetadata.from_file("my_images/metadata.jsonl") == metadata


def test_seed_lines_load_as_written(tmp_path, make_image):
    for name, size in (("0001.png", (400, 200)), ("0002.png", (900, 200)), ("0003.png", (1000, 700))):
        make_image(tmp_path / name, size=size)
    (tmp_path / "metadata.jsonl").write_text(SEED_LINES)
    metadata = ImageMetadata.from_file(tmp_path / "metadata.jsonl")
    assert [r.file_name for r in metadata] == ["0001.png", "0002.png", "0002.png", "0003.png"]
    assert metadata.records[3].objects == BBox(
        bbox=[[160, 31, 248, 616], [741, 68, 202, 401]], categories=[2, 2]
    )
    report = ImageDataset(image_dir=tmp_path).validate()
    assert report.ok, report.summary()
    assert report.records == 4


def test_extra_keys_are_kept_and_written_back(tmp_path):
    record = ImageRecord.model_validate(
        {
            "file_name": "a.png",
            "source": "dashcam",
            "objects": {"bbox": [[1, 2, 3, 4]], "categories": [0], "area": [12]},
        }
    )
    assert record.to_dict() == {
        "file_name": "a.png",
        "source": "dashcam",
        "objects": {"bbox": [[1.0, 2.0, 3.0, 4.0]], "categories": [0], "area": [12]},
    }
    path = ImageMetadata(records=[record]).write_to_file(tmp_path / "m.jsonl")
    assert [obj for _, obj in iter_objects(path)] == [record.to_dict()]


def test_null_fields_are_omitted_when_written(tmp_path):
    path = ImageMetadata(records=[ImageRecord(file_name="a.png")]).write_to_file(tmp_path / "m.jsonl")
    assert path.read_text() == '{"file_name":"a.png"}\n'


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"file_name": "/abs/a.png"}, "must be relative"),
        ({"file_name": "../escape.png"}, "must not go up"),
        ({"file_name": "s3://bucket/a.png"}, "not a URL"),
        ({"file_name": ""}, "non-empty string"),
        ({"file_name": "a.png", "objects": {"bbox": [[1, 2, 3]], "categories": [0]}}, "got 3 values"),
        ({"file_name": "a.png", "objects": {"bbox": [[1, 2, -3, 4]], "categories": [0]}}, "must be > 0"),
        ({"file_name": "a.png", "objects": {"bbox": [[1, 2, math.nan, 4]], "categories": [0]}}, "finite"),
        (
            {"file_name": "a.png", "objects": {"bbox": [[1, "2", 3, 4]], "categories": [0]}},
            "must be a number",
        ),
        (
            {"file_name": "a.png", "objects": {"bbox": [[1, 2, 3, 4], [1, 2, 3, 4]], "categories": [0]}},
            "2 boxes",
        ),
        ({"file_name": "a.png", "objects": {"bbox": [[1, 2, 3, 4]], "categories": [-1]}}, "integer id >= 0"),
        ({"file_name": "a.png", "objects": {"bbox": [[1, 2, 3, 4]]}}, "categories"),
        ({"file_name": "a.png", "categories": ["cat"]}, "integer id >= 0"),
    ],
)
def test_models_refuse_bad_records(data, message):
    with pytest.raises(ValidationError, match=message):
        ImageRecord.model_validate(data)


def test_boolean_is_not_a_category_id():
    with pytest.raises(ValidationError):
        BBox(bbox=[[1, 2, 3, 4]], categories=[True])


def test_loading_a_bad_file_names_file_line_field_and_code(tmp_path):
    path = tmp_path / "metadata.jsonl"
    path.write_text('{"file_name": "a.png"}\n{"file_name": "b.png", "objects": {"bbox": [[1, 2, 3]], "categories": [0]}}\n')
    with pytest.raises(MetadataError, match=r"metadata\.jsonl:2 \[objects\.bbox\[0\]\]: .*got 3 values \(box\.shape\)"):
        ImageMetadata.from_file(path)
