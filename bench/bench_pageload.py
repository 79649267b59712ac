"""Page loads in real Chromium, side by side with the floor of this stack (issue 12 item 9).

The floor is a trivial Streamlit page (one ``st.image`` of a small image) served the same way as the app
(``streamlit run`` from the repository, same config). Rounds are interleaved (floor, then each app page, in
turn) so machine load hits every target alike. Measured:

* first load (a fresh browser context, server warm: the dataset indexed and visited once) of Browse until
  every tile is shown, and of Annotate until the canvas has drawn its image, at ``--images`` and
  ``--large`` images; the cold first visit of each dataset (server just started, folder not indexed yet);
* "Next image" until the next canvas has drawn its image, for small JPEGs and for 4000x3000 photos;
* a box drawn until its "Saved" toast.

A second trivial page is served as a deep link (``/second``, a two-page ``st.navigation`` app): Streamlit's
browser code first probes the deep link's path as a base URL, then the root (about 0.1 s a visit). Annotate
is always opened by such a link; that row shows what the stack itself costs for it. The ratios are to the
root floor, the stricter.

Prints medians and ratios to the floor, with what the browser loaded per page (scripts, bytes, images
fetched by URL: Browse's tiles come inside the page, so none) from its resource timeline, and its main
thread's JavaScript and task time. Goals: first load <= 1.5x the floor, Next <= 300 ms, draw -> Saved
<= 500 ms.

    python bench/bench_pageload.py [--images 2000] [--large 20000] [--rounds 5] [--photos 6]
    python bench/bench_pageload.py --cold-only --images 2000 --large 100000   # the cold first visits alone

Datasets are made once under ``bench/out/`` (one small JPEG hard-linked N times, as bench_browse.py does);
``--large 100000`` is the issue's size (about 2 minutes to make, then ~10 MB of metadata).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
OUT = REPO / "bench" / "out"
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
VIEWPORT = {"width": 1440, "height": 900}
TIMEOUT_MS = 120_000
FLOOR_PAGE = """import streamlit as st

st.image({image!r})
"""
DEEP_FLOOR_PAGE = """import streamlit as st


def second():
    st.image({image!r})


st.navigation([st.Page(lambda: st.write("home"), title="Home", url_path="home", default=True),
               st.Page(second, title="Second", url_path="second")]).run()
"""

# Elements of a component live in a shadow root: search them too.
DEEP = """
const deepAll = (selector, root = document) => {
    const found = [...root.querySelectorAll(selector)];
    for (const el of root.querySelectorAll('*')) {
        if (el.shadowRoot) found.push(...deepAll(selector, el.shadowRoot));
    }
    return found;
};
"""
IMAGES_SHOWN = (
    "(want) => {"
    + DEEP
    + """
    const images = deepAll('[data-testid=stImage] img, [data-testid=galleryTile] img');
    return images.length >= want && images.every((i) => i.complete && i.naturalWidth > 0);
}"""
)
CANVAS_DRAWN = (
    "() => {"
    + DEEP
    + """
    return deepAll('canvas.lower-canvas').some((c) => {
        if (c.__benchOld || !c.width || !c.height) return false;
        const x = Math.floor(c.width / 2), y = Math.floor(c.height / 2);
        const d = c.getContext('2d').getImageData(x, y, 1, 1).data;
        return d[3] > 0;
    });
}"""
)
MARK_OLD_CANVAS = "() => {" + DEEP + "deepAll('canvas.lower-canvas').forEach((c) => { c.__benchOld = 1; }); }"
WATCH_TOASTS = """() => {
    window.benchToasts = [];
    const grab = () => document.querySelectorAll('[data-testid="stToast"]').forEach((t) => {
        if (!window.benchToasts.includes(t.innerText)) window.benchToasts.push(t.innerText);
    });
    new MutationObserver(grab).observe(document.body, {childList: true, subtree: true, characterData: true});
}"""
RESOURCES = """() => {
    const entries = performance.getEntriesByType('resource');
    const scripts = entries.filter((e) => e.initiatorType === 'script' || e.name.endsWith('.js'));
    const images = entries.filter((e) => /\/media\//.test(e.name) && !/\/static\//.test(e.name));
    const bytes = (list) => list.reduce((n, e) => n + (e.encodedBodySize || e.transferSize || 0), 0);
    return {
        scripts: scripts.length, script_bytes: bytes(scripts),
        images: images.length, image_bytes: bytes(images),
    };
}"""


# ------------------------------------------------------------------------------------------ datasets


def small_dataset(n: int) -> Path:
    """A flat dataset of ``n`` small JPEGs (640x480) with 1-3 boxes each (bench_browse.py's generator)."""
    from bench_browse import make_dataset

    return make_dataset(n)


def photo_dataset(n: int) -> Path:
    """``n`` noisy 4000x3000 JPEGs (several MB each, as a camera's), without boxes."""
    from PIL import Image

    root = OUT / f"pageload-photos-{n}"
    done = root / ".complete"
    if done.exists():
        return root
    root.mkdir(parents=True, exist_ok=True)
    base = Image.radial_gradient("L").resize((4000, 3000)).convert("RGB")
    with (root / "metadata.jsonl").open("w") as handle:
        for i in range(n):
            noise = Image.effect_noise((4000, 3000), 40 + i).convert("RGB")
            Image.blend(base, noise, 0.5).save(root / f"photo_{i:03d}.jpg", quality=90)
            handle.write(json.dumps({"file_name": f"photo_{i:03d}.jpg"}) + "\n")
    (root / "categories.json").write_text(json.dumps(["sign"]))
    done.touch()
    return root


# ------------------------------------------------------------------------------------------ servers


@dataclass
class Server:
    url: str
    process: subprocess.Popen[bytes]
    log: Path


@contextlib.contextmanager
def serve(script: str, home: Path, logs: Path, args: list[str]) -> Iterator[Server]:
    """``streamlit run SCRIPT`` from the repository (its .streamlit/config.toml), as the tests start it."""
    with socket.socket() as probe:  # a port free right now
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    log = logs / f"{Path(script).stem}-{port}.log"
    cmd = [
        sys.executable, "-m", "streamlit", "run", script,
        "--server.headless", "true", "--server.port", str(port), "--server.address", "127.0.0.1",
        "--server.fileWatcherType", "none", "--browser.gatherUsageStats", "false", "--", *args,
    ]  # fmt: skip
    env = {**os.environ, "OPSML_IMAGE_HOME": str(home), "PYTHONUNBUFFERED": "1"}
    with log.open("wb") as out:
        process = subprocess.Popen(cmd, cwd=REPO, env=env, stdin=subprocess.DEVNULL, stdout=out, stderr=out)
        try:
            url = f"http://127.0.0.1:{port}"
            health = f"{url}/_stcore/health"
            deadline = time.monotonic() + 60
            while True:
                if process.poll() is not None:
                    raise RuntimeError(f"{script} exited ({process.returncode}); see {log}")
                with contextlib.suppress(OSError), urllib.request.urlopen(health, timeout=2) as r:
                    if r.read().strip() == b"ok":
                        break
                if time.monotonic() > deadline:
                    raise RuntimeError(f"{script} did not start in 60 s; see {log}")
                time.sleep(0.2)
            yield Server(url, process, log)
        finally:
            process.terminate()
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()


# ------------------------------------------------------------------------------------------ measuring


@dataclass
class Target:
    """A page to load and how to know it is ready (``ready(page)`` waits)."""

    name: str
    url: str
    ready: Callable[..., None]
    times: list[float] = field(default_factory=list)
    loaded: list[dict[str, int]] = field(default_factory=list)


def wait_images(count: int) -> Callable[..., None]:
    def ready(page) -> None:  # noqa: ANN001 - a Playwright Page
        page.wait_for_function(IMAGES_SHOWN, arg=count, timeout=TIMEOUT_MS, polling="raf")

    return ready


def wait_canvas(page) -> None:  # noqa: ANN001
    page.wait_for_function(CANVAS_DRAWN, timeout=TIMEOUT_MS, polling="raf")


def load(browser, target: Target, record: bool = True) -> float:  # noqa: ANN001 - a Playwright Browser
    """Seconds from navigation to ready, in a fresh context (nothing cached in the browser)."""
    context = browser.new_context(viewport=VIEWPORT)
    try:
        page = context.new_page()
        cdp = context.new_cdp_session(page)
        cdp.send("Performance.enable")
        start = time.perf_counter()
        page.goto(target.url, wait_until="commit", timeout=TIMEOUT_MS)
        target.ready(page)
        took = time.perf_counter() - start
        if record:
            metrics = {m["name"]: m["value"] for m in cdp.send("Performance.getMetrics")["metrics"]}
            loaded = page.evaluate(RESOURCES)
            loaded["script_ms"] = round(metrics.get("ScriptDuration", 0) * 1000)
            loaded["task_ms"] = round(metrics.get("TaskDuration", 0) * 1000)
            target.times.append(took)
            target.loaded.append(loaded)
        return took
    finally:
        context.close()


def next_and_draw(browser, url: str, rounds: int, draw: bool) -> tuple[list[float], list[float]]:  # noqa: ANN001
    """Times of "Next" until the next canvas is drawn, and of a drag until its "Saved" toast."""
    context = browser.new_context(viewport=VIEWPORT)
    nexts: list[float] = []
    saves: list[float] = []
    try:
        page = context.new_page()
        page.goto(url, timeout=TIMEOUT_MS)
        wait_canvas(page)
        page.evaluate(WATCH_TOASTS)
        for _ in range(rounds):
            page.wait_for_timeout(400)  # the previous run's last messages settle
            page.evaluate(MARK_OLD_CANVAS)
            start = time.perf_counter()
            page.locator(".st-key-nav_next button").first.click()
            wait_canvas(page)
            nexts.append(time.perf_counter() - start)
            if not draw:
                continue
            page.wait_for_timeout(400)
            board = page.locator("canvas.upper-canvas").last
            board.scroll_into_view_if_needed()  # clicking Next scrolled the page down
            box = board.bounding_box()
            assert box, "no canvas"
            x, y = box["x"] + box["width"] * 0.3, box["y"] + box["height"] * 0.3
            page.evaluate("() => { window.benchToasts = []; }")
            page.mouse.move(x, y)
            page.mouse.down()
            page.mouse.move(x + 80, y + 60, steps=4)
            start = time.perf_counter()
            page.mouse.up()
            page.wait_for_function(
                "() => window.benchToasts.some((t) => t.includes('Saved'))", timeout=TIMEOUT_MS, polling="raf"
            )
            saves.append(time.perf_counter() - start)
    finally:
        context.close()
    return nexts, saves


def median_ms(values: list[float]) -> str:
    return f"{statistics.median(values) * 1000:7.0f} ms" if values else "      -   "


def show(what: str, times: list[float], goal_ms: int) -> None:
    print(f"  {what:<22} {median_ms(times)}   (goal <= {goal_ms} ms) {[round(t * 1000) for t in times]}")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--images", type=int, default=2000, help="images of the first dataset")
    parser.add_argument("--large", type=int, default=20000, help="images of the large dataset (0: none)")
    parser.add_argument("--photos", type=int, default=6, help="4000x3000 photos for Next (0: none)")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument(
        "--cold-only", action="store_true", help="only the cold first visit of each dataset (and its index)"
    )
    args = parser.parse_args()
    if args.cold_only:
        cold_only([n for n in (args.images, args.large) if n])
        return

    from PIL import Image
    from playwright.sync_api import sync_playwright

    from opsml_image.dataset import ImageDataset

    sizes = [n for n in (args.images, args.large) if n]
    print(f"making datasets: {sizes} images, {args.photos} photos ...", flush=True)
    data = {n: small_dataset(n) for n in sizes}
    photos = photo_dataset(args.photos) if args.photos > 1 else None

    with tempfile.TemporaryDirectory(prefix="bench-pageload-") as scratch, contextlib.ExitStack() as stack:
        tmp = Path(scratch)
        home, logs = tmp / "home", tmp / "logs"
        home.mkdir()
        logs.mkdir()
        Image.new("RGB", (64, 48), (200, 40, 40)).save(tmp / "small.jpg")
        floor_script = tmp / "floor.py"
        floor_script.write_text(FLOOR_PAGE.format(image=str(tmp / "small.jpg")))
        servers = {"floor": stack.enter_context(serve(str(floor_script), home, logs, []))}
        deep_script = tmp / "floor_deep.py"
        deep_script.write_text(DEEP_FLOOR_PAGE.format(image=str(tmp / "small.jpg")))
        servers["deep"] = stack.enter_context(serve(str(deep_script), home, logs, []))
        for n, path in data.items():
            servers[f"{n}"] = stack.enter_context(serve("app.py", home, logs, ["--data-dir", str(path)]))
        if photos:
            servers["photos"] = stack.enter_context(serve("app.py", home, logs, ["--data-dir", str(photos)]))

        playwright = stack.enter_context(sync_playwright())
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        stack.callback(browser.close)

        targets = [
            Target("floor (st.image)", servers["floor"].url, wait_images(1)),
            Target("floor, deep link", f"{servers['deep'].url}/second?x=1", wait_images(1)),
        ]
        cold: dict[str, float] = {}
        for n in sizes:
            split = next(iter(ImageDataset(image_dir=data[n]).splits))
            browse = Target(f"Browse  {n:>7,}", servers[f"{n}"].url, wait_images(min(48, n)))
            first = f"{servers[f'{n}'].url}/annotate?split={split}&file=img_000000.jpg"
            annotate = Target(f"Annotate{n:>7,}", first, wait_canvas)
            cold[browse.name] = load(browser, browse, record=False)  # indexes the folder, makes thumbnails
            load(browser, annotate, record=False)
            targets += [browse, annotate]
        load(browser, targets[0], record=False)
        load(browser, targets[1], record=False)

        print(f"{args.rounds} interleaved rounds of first loads ...", flush=True)
        for _ in range(args.rounds):
            for target in targets:
                load(browser, target)

        floor = statistics.median(targets[0].times)
        print(f"\nfirst load (fresh browser context, server warm), median of {args.rounds}:")
        print(f"  {'page':<18} {'median':>10} {'x floor':>8}  scripts (KB)  images (KB)  JS ms  tasks ms")
        for target in targets:
            got = statistics.median(target.times)
            res = {k: statistics.median(r[k] for r in target.loaded) for k in target.loaded[0]}
            print(
                f"  {target.name:<18} {median_ms(target.times)} {got / floor:7.2f}x  "
                f"{res['scripts']:3.0f} ({res['script_bytes'] / 1024:5.0f})  "
                f"{res['images']:3.0f} ({res['image_bytes'] / 1024:5.0f})  "
                f"{res['script_ms']:5.0f}  {res['task_ms']:7.0f}"
            )
        for name, took in cold.items():
            print(f"  cold first visit {name.strip()}: {took:.2f} s ({took / floor:.1f}x floor, indexing)")

        print(f"\nNext image until the canvas is drawn, and a drawn box until 'Saved' ({args.rounds} each):")
        split = next(iter(ImageDataset(image_dir=data[sizes[0]]).splits))
        start = f"{servers[f'{sizes[0]}'].url}/annotate?split={split}&file=img_000100.jpg"
        nexts, saves = next_and_draw(browser, start, args.rounds, True)
        show("Next, 640x480 JPEG", nexts, 300)
        show("draw -> Saved", saves, 500)
        if photos:
            start = f"{servers['photos'].url}/annotate?split=train&file=photo_000.jpg"
            nexts, _ = next_and_draw(browser, start, min(args.rounds, args.photos - 1), False)
            show("Next, 4000x3000 photo", nexts, 300)
        print(f"\nserver logs: {logs} (removed at exit)")


INDEXING_SHOWN = "() => document.body.innerText.includes('Indexing the dataset')"


def cold_only(sizes: list[int]) -> None:
    """The cold first visit of each dataset, alone: a server just started on a folder never indexed (a fresh
    home), Browse loaded until its first page of tiles is shown; then until the index is complete (the
    page no longer says "Indexing the dataset"), and whether the first page came while it was indexing."""
    from playwright.sync_api import sync_playwright

    data = {n: small_dataset(n) for n in sizes}
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            for n, path in data.items():
                with tempfile.TemporaryDirectory(prefix="bench-cold-") as scratch:
                    home, logs = Path(scratch) / "home", Path(scratch) / "logs"
                    home.mkdir()
                    logs.mkdir()
                    with serve("app.py", home, logs, ["--data-dir", str(path)]) as server:
                        context = browser.new_context(viewport=VIEWPORT)
                        page = context.new_page()
                        start = time.perf_counter()
                        page.goto(server.url, wait_until="commit", timeout=TIMEOUT_MS)
                        wait_images(min(48, n))(page)
                        first = time.perf_counter() - start
                        partial = bool(page.evaluate(INDEXING_SHOWN))
                        done = f"() => !({INDEXING_SHOWN})()"
                        page.wait_for_function(done, timeout=TIMEOUT_MS, polling=100)
                        indexed = time.perf_counter() - start
                        context.close()
                    state = "while indexing" if partial else "after indexing"
                    print(f"cold first visit {n:>7,}: first page {first:.2f} s ({state}); "
                          f"index complete {indexed:.2f} s", flush=True)  # fmt: skip
        finally:
            browser.close()


if __name__ == "__main__":
    main()
