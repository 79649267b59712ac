"""Benchmark: COCO import and export against ``json.load`` + ``json.dump`` of the same file.

Generates a synthetic COCO detection file (``--images`` images, 5 boxes each on average, 80 sparse category
ids, every image with ``width``/``height``/``license``/``coco_url``/``date_captured``, every annotation with
``id``/``area``/``iscrowd`` and a 4-point polygon) and empty image files (import checks that each image
exists; sizes come from the file, so nothing is probed). Each measurement runs in a fresh process, timing
only the operation, and reports that process's peak RSS:

* baseline: ``json.load`` of the file, then ``json.dump`` of the loaded dict to a new file;
* import: ``coco.import_dataset(file, images_folder)`` (metadata.jsonl, categories.json, coco_meta.json
  written into the images folder, everything checked first);
* export: ``coco.export(dataset, out.json)`` of that folder (reads metadata.jsonl, sizes from the records).

The goal is import + export within 2x of load + dump. Usage:
``python bench/bench_formats.py [--images 100000] [--runs 3] [--keep DIR]``.
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def generate(folder: Path, images: int, seed: int = 11) -> Path:
    """Write the synthetic COCO file ``folder/instances.json`` and empty images in ``folder/images``."""
    rng = random.Random(seed)
    image_dir = folder / "images"
    image_dir.mkdir(parents=True, exist_ok=True)
    category_ids = sorted(rng.sample(range(1, 200), 80))
    entries, annotations = [], []
    for i in range(1, images + 1):
        name = f"{i:012d}.jpg"
        (image_dir / name).touch()
        entries.append(
            {
                "id": i,
                "width": 640,
                "height": 480,
                "file_name": name,
                "license": rng.randint(1, 8),
                "coco_url": f"http://images.example.org/train/{name}",
                "date_captured": "2013-11-14 17:02:52",
            }
        )
        for _ in range(rng.randint(1, 9)):
            x, y = round(rng.uniform(0, 500), 2), round(rng.uniform(0, 380), 2)
            w, h = round(rng.uniform(1, 140), 2), round(rng.uniform(1, 100), 2)
            annotations.append(
                {
                    "id": len(annotations) + 1,
                    "image_id": i,
                    "category_id": rng.choice(category_ids),
                    "bbox": [x, y, w, h],
                    "area": round(w * h * 0.8, 2),
                    "iscrowd": 0,
                    "segmentation": [[x, y, x + w, y, x + w, y + h, x, y + h]],
                }
            )
    data = {
        "info": {"description": "synthetic", "year": 2026},
        "licenses": [{"id": i, "name": f"license {i}", "url": ""} for i in range(1, 9)],
        "images": entries,
        "annotations": annotations,
        "categories": [{"id": c, "name": f"class_{c}", "supercategory": "thing"} for c in category_ids],
    }
    path = folder / "instances.json"
    with open(path, "w") as out:
        json.dump(data, out)
    return path


def child(operation: str, source: Path, folder: Path, dest: Path) -> None:
    """Run one operation in this (fresh) process; print its seconds and the peak RSS as JSON."""
    from opsml_image.dataset import ImageDataset
    from opsml_image.formats import coco

    start = time.perf_counter()
    if operation == "baseline":
        with open(source) as handle:
            data = json.load(handle)
        with open(dest, "w") as out:
            json.dump(data, out)
    elif operation == "import":
        coco.import_dataset(source, folder)
    elif operation == "export":
        coco.export(ImageDataset(image_dir=folder), dest)
    seconds = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"seconds": seconds, "peak_mb": peak}))


def measure(operation: str, source: Path, folder: Path, dest: Path, runs: int) -> tuple[float, float]:
    """Best time and largest peak RSS (MB) over ``runs`` fresh processes."""
    best, peak = float("inf"), 0.0
    for _ in range(runs):
        if operation == "import":
            for name in ("metadata.jsonl", "categories.json", "coco_meta.json"):
                (folder / name).unlink(missing_ok=True)
        command = [sys.executable, __file__, "--child", operation, str(source), str(folder), str(dest)]
        result = json.loads(subprocess.run(command, check=True, capture_output=True, text=True).stdout)
        best, peak = min(best, result["seconds"]), max(peak, result["peak_mb"])
    return best, peak


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--images", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--keep", type=Path, help="Work in this folder and keep it (default: a temp folder).")
    parser.add_argument(
        "--child", nargs=4, metavar=("OP", "SOURCE", "FOLDER", "DEST"), help=argparse.SUPPRESS
    )
    args = parser.parse_args()
    if args.child:
        operation, *paths = args.child
        child(operation, *(Path(p) for p in paths))
        return
    work = args.keep or Path(tempfile.mkdtemp(prefix="bench_formats."))
    try:
        source = generate(work, args.images)
        size_mb = source.stat().st_size / 1e6
        boxes = len(json.loads(source.read_bytes())["annotations"])
        print(f"{args.images:,} images, {boxes:,} boxes, {size_mb:,.1f} MB of COCO JSON; best of {args.runs}")
        folder = work / "images"
        base_s, base_mb = measure("baseline", source, folder, work / "baseline.json", args.runs)
        import_s, import_mb = measure("import", source, folder, work / "unused", args.runs)
        export_s, export_mb = measure("export", source, folder, work / "export.json", args.runs)
        print(f"{'json.load + json.dump':<24}{base_s:8.2f} s  peak {base_mb:8.0f} MB")
        print(f"{'coco.import_dataset':<24}{import_s:8.2f} s  peak {import_mb:8.0f} MB")
        print(f"{'coco.export':<24}{export_s:8.2f} s  peak {export_mb:8.0f} MB")
        ratio = (import_s + export_s) / base_s
        verdict = "meets" if ratio <= 2 else "misses"
        print(f"import + export / (load + dump) = {ratio:.2f}x ({verdict} the 2x goal)")
        print(f"import / load+dump = {import_s / base_s:.2f}x; export / load+dump = {export_s / base_s:.2f}x")
    finally:
        if args.keep is None:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
