import re
import shutil
import subprocess
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from gtnbench.analysis.records import load_runs
from gtnbench.claims import LEGEND
from gtnbench.report.html import markdown_to_html, verdicts_html
from gtnbench.report.summary import write_report
from tests.runs import RUN_SUITE, make_run

CIFAR_SUITE = (
    RUN_SUITE.replace('dataset = "mnist"', 'dataset = "cifar10"')
    .replace('claims = ["C1", "C2"]', 'claims = ["C5"]')
    .replace('name = "mnist-paper"\nwidths = [4, 8, 16]', 'name = "cifar10-paper"\nwidths = [4, 4, 4, 4, 4]')
)


@pytest.fixture(scope="module")
def report_dir(tmp_path_factory) -> Path:
    """A report of a tiny run on the CIFAR-10 JPEG copy, with plots and GTN sample grids."""
    run = make_run(
        tmp_path_factory.mktemp("runs") / "tiny-run",
        suite_text=CIFAR_SUITE,
        dataset="cifar10-jpeg",
        dataset_label="CIFAR-10 (JPEG copy)",
    )
    write_report(load_runs([run]), run / "report")
    return run / "report"


def test_index_html_is_self_contained_with_provenance_and_verdicts(report_dir):
    page = (report_dir / "index.html").read_text()
    assert not re.search(r"(src|href)=['\"]?(https?:)?//", page), "nothing may load from the network"
    images = re.findall(r"<img src='([^']*)'", page)
    assert len(images) == 2 + 3 and all(src.startswith("data:image/png;base64,") for src in images)  # 2 plots, 3 GTNs
    for text in (
        "tiny-run",
        "smoke",
        "CIFAR-10 (JPEG copy)",
        "CPU: test (2 threads)",
        "torch 2.14.1",
        "float32",
        "0.1.0+gabc",
        "id=verdicts",
        "<td>C5</td>",
    ):
        assert text in page, text  # the claims the suite names, as `check` judges them
    assert all(word in page for word in LEGEND) and len(LEGEND) == 8
    for link in re.findall(r"<a href='([^']*)'", page):
        assert (report_dir / link).is_file(), link
    assert {"../records.jsonl", "summary.csv"} <= set(re.findall(r"<a href='([^']*)'", page))


def test_markdown_tables_become_sortable_html_tables():
    text = "## run (smoke) on MNIST\n\nGround truth: `col` < 1.\n\n| method | acc |\n|---|---:|\n| gtn[a=b] | 9.5 |\n"
    page = markdown_to_html(text)
    assert "<h3>run (smoke) on MNIST</h3>" in page and "<code>col</code> &lt; 1." in page
    assert "<table class=sortable><thead><tr><th>method</th><th>acc</th>" in page
    assert "<td>gtn[a=b]</td><td class=num>9.5</td>" in page


def test_verdict_table_shows_newer_fields_only_when_present():
    claim = SimpleNamespace(id="C1", statement="GTN learners reach 98.9 %")
    old = SimpleNamespace(
        claim=claim, measured="97.1 ± 0.2 %", claimed="98.9 %", scale="paper", verdict="not reproduced"
    )
    page = verdicts_html([old])
    assert "threshold" not in page and "baselines" not in page and "v-not-reproduced" in page
    baseline = SimpleNamespace(name="real data, 32 steps", value="97.13 %", comparison="GTN is lower")
    new = SimpleNamespace(**vars(old), judged="gtn, T=32", threshold="≥ 98.6 %", baselines=[baseline])
    page = verdicts_html([new])
    assert "<th>judged</th>" in page and "≥ 98.6 %" in page and "real data, 32 steps: 97.13 % (GTN is lower)" in page


CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"


def chromium(page: Path, profile: Path, *args: str) -> str:
    command = [
        CHROMIUM,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        "--hide-scrollbars",
        f"--user-data-dir={profile}",
        "--virtual-time-budget=5000",
        *args,
        page.as_uri(),
    ]
    return subprocess.run(command, capture_output=True, text=True, timeout=120, check=True).stdout


SORT_CHECK = """<script>window.addEventListener("load", function () {
  var table = document.querySelector("#tables table"), column = 2;  // steps
  table.querySelectorAll("thead th")[column].click();
  var values = Array.prototype.map.call(table.tBodies[0].rows, function (r) { return r.cells[column].textContent; });
  document.body.dataset.sorted = values.join(",");
});</script></body>"""


@pytest.mark.skipif(not Path(CHROMIUM).is_file(), reason="headless Chromium absent (Debian: apt-get install chromium)")
def test_the_page_renders_in_a_real_browser(report_dir, tmp_path):
    dom = chromium(report_dir / "index.html", tmp_path / "profile", "--dump-dom")
    body = re.search(r"<body[^>]*>", dom).group(0)
    assert 'data-images-ok="true"' in body and 'data-images-loaded="5/5"' in body, body
    verdicts = re.search(r"<table id=\"?verdicts\"?.*?</table>", dom, re.DOTALL).group(0)
    assert verdicts.count("<tr>") == 2 and "<td>C5</td>" in verdicts  # a header and claim C5 (CIFAR-10)

    probe = tmp_path / "sorted.html"
    probe.write_text((report_dir / "index.html").read_text().replace("</body>", SORT_CHECK))
    body = re.search(r"<body[^>]*>", chromium(probe, tmp_path / "profile", "--dump-dom")).group(0)
    steps = [int(v) for v in re.search(r'data-sorted="([^"]*)"', body).group(1).split(",")]
    assert steps == sorted(steps) and len(steps) == 3

    shot = tmp_path / "shot.png"
    chromium(report_dir / "index.html", tmp_path / "profile", f"--screenshot={shot}", "--window-size=1200,1600")
    from PIL import Image

    pixels = np.asarray(Image.open(shot).convert("L"), dtype=float)
    assert pixels.shape == (1600, 1200) and pixels.std() > 20, "the screenshot is blank"
    assert (pixels < 128).mean() > 0.01, "no text or plot on the screenshot"
