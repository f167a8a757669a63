"""The interactive diagram in a real headless browser (Debian's chromium through selenium and
chromedriver): expand and collapse, hover, search, click-to-source, pan and zoom, with
screenshots taken and checked. `make setup` installs the browser; the tests skip only where
none is installed (and say how to get one).

One browser serves the module (starting it is most of the time); each test loads its page.
"""

from __future__ import annotations

import io
import shutil
from pathlib import Path

import pytest

import seqnet
from seqnet.backends.viewer import write_html

webdriver = pytest.importorskip("selenium.webdriver")
from selenium.webdriver.common.action_chains import ActionChains  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.common.keys import Keys  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402

SPECS = Path(__file__).resolve().parents[3] / "specs"
BROWSER = shutil.which("chromium") or shutil.which("chromium-browser")
DRIVER = shutil.which("chromedriver")
pytestmark = pytest.mark.skipif(
    not (BROWSER and DRIVER),
    reason="no headless browser: `apt-get install chromium chromium-driver` (make setup does)",
)
WIDTH, HEIGHT = 1000, 700
REPEATS = 80  # repeat statements in the big spec: ~1,000 IR nodes, 243 drawn when all is open

BLOCK = """\
block blk(x) {
  h = dense(x, 16, act=relu)
  return layernorm(h + x)
}
"""


def big_spec(statements: int) -> str:
    """A chain of repeated blocks: over the viewer's threshold, so it opens collapsed."""
    lines = ["dim T = 8", "input x : float32[T, 16]", BLOCK, "h = dense(x, 16)"]
    lines += ["h = repeat 4 { blk(h) }"] * statements + ["h = blk(h)"]
    return "\n".join(lines + ["output y : float32[T, 16] = h"]) + "\n"


@pytest.fixture(scope="module")
def browser():
    opts = webdriver.ChromeOptions()
    opts.binary_location = BROWSER
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                f"--window-size={WIDTH},{HEIGHT}", "--hide-scrollbars"):  # fmt: skip
        opts.add_argument(arg)
    service = webdriver.ChromeService(executable_path=DRIVER)
    d = webdriver.Chrome(service=service, options=opts)
    d.set_page_load_timeout(30)
    yield d
    d.quit()


@pytest.fixture(scope="module")
def big_page(tmp_path_factory) -> Path:
    """The big spec's page, compiled and written once for the tests that open it."""
    path = tmp_path_factory.mktemp("viewer") / "big.html"
    write_html(seqnet.loads(big_spec(REPEATS), name="big.seqnet").graph, path)
    return path


def open_page(browser, graph, path: Path):
    if graph is not None:
        write_html(graph, path)
    browser.get(path.as_uri())
    WebDriverWait(browser, 10).until(lambda d: d.execute_script("return document.body.dataset.ready"))
    errors = [e for e in browser.get_log("browser") if e["level"] == "SEVERE"]
    assert not errors, errors  # a script error, or anything the page tried to fetch
    return browser


def state(browser) -> dict:
    ds = browser.execute_script("return Object.assign({}, document.body.dataset)")
    keys = ("visibleNodes", "openBlocks", "closedBlocks", "width", "height")
    return {k: int(v) for k, v in ds.items() if k in keys}


def screenshot(browser, path: Path):
    from PIL import Image

    png = browser.get_screenshot_as_png()
    path.write_bytes(png)
    img = Image.open(io.BytesIO(png)).convert("L")
    return img


def inked(img) -> float:
    """The share of pixels that are not the white background."""
    hist = img.histogram()
    return 1 - sum(hist[245:]) / (img.width * img.height)


def differs(a, b) -> float:
    from PIL import ImageChops

    diff = ImageChops.difference(a, b).point(lambda v: 255 if v > 40 else 0)
    return diff.histogram()[255] / (a.width * a.height)


def test_hover_shows_type_params_and_location_and_click_shows_the_source_line(browser, tmp_path):
    m = seqnet.load(SPECS / "residual_mlp.seqnet")
    open_page(browser, m.graph, tmp_path / "residual.html")
    assert state(browser)["visibleNodes"] == 9  # a small spec opens with every block expanded
    img = screenshot(browser, tmp_path / "residual.png")
    assert img.size == tuple(browser.execute_script("return [innerWidth, innerHeight]"))
    assert inked(img) > 0.02

    node = browser.find_element(By.CSS_SELECTOR, '.node[data-node="3"]')  # mlp's first dense
    ActionChains(browser).move_to_element(node).perform()
    tip = browser.find_element(By.ID, "tip")
    assert tip.is_displayed()
    text = tip.text
    assert "layers.seqnet:5:7" in text and "out: float32[2*W]" in text and "params: 8,320" in text

    node.click()
    panel = browser.find_element(By.ID, "source")
    assert panel.is_displayed()
    assert browser.find_element(By.ID, "source-name").text.endswith("layers.seqnet:5:7")
    line = browser.find_element(By.CSS_SELECTOR, "#source-body .ln.at")
    assert line.get_attribute("data-line") == "5" and "dense(x, hidden, act=act)" in line.text
    assert "selected" in node.get_attribute("class")
    with_source = screenshot(browser, tmp_path / "residual-source.png")
    assert differs(img, with_source) > 0.02  # the source panel took part of the window


def test_a_big_spec_opens_collapsed_and_blocks_expand_and_collapse_in_place(browser, big_page,
                                                                          tmp_path):  # fmt: skip
    open_page(browser, None, big_page)
    before = state(browser)
    assert before["visibleNodes"] == 3  # x, the first dense and y: every block is closed
    assert (before["closedBlocks"], before["openBlocks"]) == (REPEATS + 1, 0)
    collapsed = browser.find_elements(By.CSS_SELECTOR, ".cluster.collapsed")
    # only what is on screen (and a screen around it) is in the page: a long chain is not drawn
    assert 3 < len(collapsed) < REPEATS / 2
    assert not browser.find_elements(By.CSS_SELECTOR, ".cluster.expanded")
    shot0 = screenshot(browser, tmp_path / "collapsed.png")
    assert inked(shot0) > 0.02

    first = collapsed[0]
    ActionChains(browser).move_to_element(first).perform()
    assert "repeat ×4" in browser.find_element(By.ID, "tip").text
    first.click()  # the first repeat opens where it is: its copy 0's block and ops inside
    after = state(browser)
    assert after["visibleNodes"] == before["visibleNodes"]  # blk inside it is still collapsed
    assert after["height"] > before["height"] and after["width"] >= before["width"]
    assert len(browser.find_elements(By.CSS_SELECTOR, ".cluster.expanded")) == 1
    inner = browser.find_elements(By.CSS_SELECTOR, ".cluster.collapsed")[0]
    inner.click()
    opened = state(browser)
    assert opened["visibleNodes"] == before["visibleNodes"] + 3  # dense, add, layernorm
    shot1 = screenshot(browser, tmp_path / "expanded.png")
    assert differs(shot0, shot1) > 0.01

    title = browser.find_elements(By.CSS_SELECTOR, ".cluster.expanded .ctitle")[0]
    rect = browser.find_elements(By.CSS_SELECTOR, ".cluster.expanded > rect")[0]
    assert "repeat ×4" in title.text
    ActionChains(browser).move_to_element_with_offset(rect, 0, -rect.size["height"] // 2 + 6).click().perform()
    assert state(browser) == before  # collapsed again: the same layout as at first


def test_search_finds_a_node_inside_collapsed_blocks_and_reveals_it(browser, big_page, tmp_path):
    open_page(browser, None, big_page)
    box = browser.find_element(By.ID, "search")
    box.send_keys("h_70/0/blk/layernorm")
    WebDriverWait(browser, 5).until(lambda d: d.find_element(By.ID, "count").text)
    assert browser.find_element(By.ID, "count").text == "1 found"
    results = browser.find_elements(By.CSS_SELECTOR, "#results li")
    assert len(results) == 1 and "big.seqnet:5:10" in results[0].text
    box.send_keys(Keys.ENTER)
    sel = browser.find_elements(By.CSS_SELECTOR, ".node.selected")
    assert len(sel) == 1 and "layernorm" in sel[0].text
    assert state(browser)["visibleNodes"] == 3 + 3  # its repeat and block opened, nothing else
    r = sel[0].rect  # centred in the window
    w, h = browser.execute_script("return [innerWidth, innerHeight]")
    assert 0 < r["x"] < w and 0 < r["y"] < h  # far down the chain: drawn there, when centred
    screenshot(browser, tmp_path / "found.png")
    browser.find_element(By.CSS_SELECTOR, "#results li").click()
    assert browser.find_element(By.CSS_SELECTOR, "#source-body .ln.at").get_attribute("data-line") == "5"

    box.clear()
    box.send_keys("blk")
    # the blk block in each repeat and its 3 ops (the last call is a block named h_81)
    want = f"{4 * REPEATS} found"
    WebDriverWait(browser, 5).until(lambda d: d.find_element(By.ID, "count").text == want)
    assert browser.find_elements(By.CSS_SELECTOR, ".cluster.match")


def test_depth_opens_the_blocks_at_most_that_deep(browser, tmp_path):
    m = seqnet.load(SPECS / "residual_mlp.seqnet")  # repeat > residual > mlp
    write_html(m.graph, tmp_path / "depth.html", depth=1)
    open_page(browser, None, tmp_path / "depth.html")
    s = state(browser)
    assert (s["openBlocks"], s["closedBlocks"]) == (1, 1)  # the repeat open, residual closed
    assert s["visibleNodes"] == 5  # x, h, layernorm, y and the output: mlp's ops are folded


def test_wheel_zooms_and_drag_pans(browser, tmp_path):
    m = seqnet.load(SPECS / "wormhole_digits.seqnet")
    open_page(browser, m.graph, tmp_path / "worm.html")
    vp = "return document.getElementById('viewport').getAttribute('transform')"
    t0 = browser.execute_script(vp)
    browser.find_element(By.ID, "zoom-in").click()
    t1 = browser.execute_script(vp)
    assert t1 != t0 and float(t1.split("scale(")[1].rstrip(")")) > float(t0.split("scale(")[1].rstrip(")"))
    svg = browser.find_element(By.ID, "diagram")
    ActionChains(browser).move_to_element_with_offset(svg, -WIDTH // 2 + 20, 0).click_and_hold() \
        .move_by_offset(60, 40).release().perform()
    t2 = browser.execute_script(vp)
    x1, y1 = (float(v) for v in t1.split("translate(")[1].split(")")[0].split(","))
    x2, y2 = (float(v) for v in t2.split("translate(")[1].split(")")[0].split(","))
    assert (round(x2 - x1), round(y2 - y1)) == (60, 40)
    assert len(browser.find_elements(By.CSS_SELECTOR, "path.edge.back")) == 1  # the wormhole
