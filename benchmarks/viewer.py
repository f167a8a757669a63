"""The interactive diagram page on generated specs of ~1,000 and 10,000 IR nodes (the chain of
repeated blocks of benchmarks/render.py): the time to write the page, its size, and, in headless
chromium when it is installed, the time to open it (collapsed), to open one block (the second
one opened: the first also lays out the source panel), and to open every block.

    PYTHONPATH=. python benchmarks/viewer.py [--sizes 1000,10000] [--no-browser]

Browser times are the page's own (performance.now() in the page: the layout and the SVG built,
and a forced style and layout pass), not counting selenium's round trips.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from render import spec  # noqa: E402  (the same generated specs as the static diagram's figures)

import seqnet  # noqa: E402
from seqnet.backends.viewer import write_html  # noqa: E402

TIMED_CLICK = """
const el = document.querySelector(arguments[0]);
const t = performance.now();
el.dispatchEvent(new MouseEvent("click", {bubbles: true}));
document.getElementById("diagram").getBBox();  // style and layout, not only the script
return [performance.now() - t, +document.body.dataset.visibleNodes];
"""


def browser():
    from selenium import webdriver

    opts = webdriver.ChromeOptions()
    opts.binary_location = shutil.which("chromium")
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--window-size=1200,800"):  # fmt: skip
        opts.add_argument(arg)
    return webdriver.Chrome(service=webdriver.ChromeService(shutil.which("chromedriver")),
                            options=opts)  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="1000,10000")
    ap.add_argument("--no-browser", action="store_true")
    args = ap.parse_args()
    use_browser = not args.no_browser and shutil.which("chromium") and shutil.which("chromedriver")
    d = browser() if use_browser else None
    print(f"{'IR nodes':>8} {'write s':>8} {'page MB':>8} {'open ms':>8} {'shown':>6} "
          f"{'1 block ms':>10} {'all ms':>8} {'all shown':>9}")  # fmt: skip
    try:
        with tempfile.TemporaryDirectory() as tmp:
            for size in (int(s) for s in args.sizes.split(",")):
                m = seqnet.loads(spec(size), name=f"bench{size}.seqnet")
                path = Path(tmp) / f"bench{size}.html"
                t0 = time.perf_counter()
                write_html(m.graph, path)
                t_write = time.perf_counter() - t0
                row = [f"{m.graph.number_of_nodes():8d}", f"{t_write:8.2f}",
                       f"{path.stat().st_size / 2**20:8.2f}"]  # fmt: skip
                if d is not None:
                    d.get(path.as_uri())
                    opened = d.execute_script(
                        "return [performance.getEntriesByType('navigation')[0].domContentLoadedEventEnd,"
                        " +document.body.dataset.visibleNodes]")  # fmt: skip
                    d.execute_script(TIMED_CLICK, ".cluster.collapsed")  # opens the source panel too
                    one = d.execute_script(TIMED_CLICK, ".cluster.collapsed")  # the next block
                    full = d.execute_script(TIMED_CLICK, "#expand-all")
                    row += [f"{opened[0]:8.0f}", f"{opened[1]:6d}", f"{one[0]:10.1f}",
                            f"{full[0]:8.0f}", f"{full[1]:9d}"]  # fmt: skip
                else:
                    row += [f"{'-':>8}", f"{'-':>6}", f"{'-':>10}", f"{'-':>8}", f"{'-':>9}"]
                print(" ".join(row), flush=True)
    finally:
        if d is not None:
            d.quit()


if __name__ == "__main__":
    main()
