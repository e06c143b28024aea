"""``report.html`` in a real browser: headless Chromium through Playwright.

A small ``sim run`` report and a small ``sim compare baseline leaderboard`` report are generated
by the CLI (in parallel subprocesses), opened from ``file://`` and checked the way a reader
would meet them: no console or page errors, every plot decoded, alt text on every image, a
title heading, an executive summary of three to five sentences, ``lang`` set, and nothing
fetched from outside the file (the report must be self-contained). Full-page screenshots go
to ``artifacts/report-run.png`` and ``artifacts/report-compare.png`` for a human look.

Needs Debian's ``chromium`` at /usr/bin/chromium and the ``playwright`` package (the ``test``
extra; ``.ci/run`` installs chromium); skipped with the reason when either is missing.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

CHROMIUM = "/usr/bin/chromium"
if not os.access(CHROMIUM, os.X_OK):
    pytest.skip(f"browser tests need Debian's chromium at {CHROMIUM} (apt-get install chromium; .ci/run does this)",
                allow_module_level=True)
sync_api = pytest.importorskip(
    "playwright.sync_api", reason="browser tests need the playwright package (pip install -e '.[test]')")

REPO = Path(__file__).resolve().parent.parent
ARTIFACTS = REPO / "artifacts"
SMALL = ["--set", "employees=80", "--set", "weeks=10", "-r", "4", "-q"]
LAUNCH_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
               "--disable-sync", "--no-first-run"]
#: name -> (CLI arguments, minimum number of images, screenshot file)
REPORTS = {
    "run": (["run", "sticker_shock"], 4, "report-run.png"),
    # a leaderboard in the comparison adds the cut-off escalation chart: 5 figures
    "compare": (["compare", "baseline", "leaderboard"], 5, "report-compare.png"),
}

EXEC_SUMMARY_JS = """() => {
  const h = [...document.querySelectorAll('h2')].find(e => /executive summary/i.test(e.textContent));
  if (!h) return null;
  const ps = [];
  for (let el = h.nextElementSibling; el && !/^H[1-6]$/.test(el.tagName); el = el.nextElementSibling) {
    if (el.tagName === 'P') { ps.push(el.textContent.trim()); continue; }
    ps.push(...[...el.querySelectorAll('p')].map(p => p.textContent.trim()));
    break;  // the summary block itself; paragraphs after it (notes) are not the summary
  }
  return ps;
}"""
IMAGES_JS = """() => [...document.images].map(i => ({
  complete: i.complete, width: i.naturalWidth, height: i.naturalHeight,
  alt: (i.getAttribute('alt') || '').trim(), src: (i.getAttribute('src') || '').slice(0, 40)}))"""


@pytest.fixture(scope="module")
def reports(tmp_path_factory) -> dict[str, Path]:
    """Both report folders, generated concurrently by the real CLI."""
    cwd = tmp_path_factory.mktemp("report_browser")
    procs = {}
    for name, (args, _, _) in REPORTS.items():
        out = cwd / name
        procs[name] = (out, subprocess.Popen([sys.executable, "-m", "sim.cli", *args, *SMALL, "--out", str(out)],
                                             cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
    paths = {}
    for name, (out, proc) in procs.items():
        stdout, stderr = proc.communicate(timeout=180)
        assert proc.returncode == 0, f"sim {' '.join(REPORTS[name][0])} failed:\n{stderr}"
        assert (out / "report.html").is_file(), f"no report.html in {out}:\n{stdout}"
        paths[name] = out / "report.html"
    return paths


@pytest.fixture(scope="module")
def browser():
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=LAUNCH_ARGS)
        yield b
        b.close()


@pytest.mark.parametrize("name", list(REPORTS))
def test_report_renders_in_browser(name, reports, browser):
    _, min_images, shot = REPORTS[name]
    errors: list[str] = []
    requests: list[str] = []
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    page.on("console", lambda m: errors.append(f"console.{m.type}: {m.text}") if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(f"pageerror: {e}"))
    page.on("requestfailed", lambda r: errors.append(f"request failed: {r.url[:120]} ({r.failure})"))
    page.on("request", lambda r: requests.append(r.url))
    try:
        page.goto(reports[name].resolve().as_uri(), wait_until="load")
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / shot), full_page=True)  # first, so a failure can be looked at
        assert not errors, f"{name}: browser errors: {errors}"

        # self-contained: nothing but the file itself and data: URIs
        external = [u[:120] for u in requests if not u.startswith(("file:", "data:"))]
        assert not external, f"{name}: external resources requested: {external}"

        assert page.evaluate("document.documentElement.lang").strip(), f"{name}: <html> has no lang"
        h1 = page.locator("h1")
        assert h1.count() >= 1 and h1.first.inner_text().strip(), f"{name}: no <h1> heading"

        images = page.evaluate(IMAGES_JS)
        assert len(images) >= min_images, f"{name}: {len(images)} images, expected at least {min_images}"
        for i, img in enumerate(images):
            assert img["complete"] and img["width"] > 0 and img["height"] > 0, f"{name}: image {i} did not load: {img}"
            assert img["alt"], f"{name}: image {i} has no alt text"
            assert img["src"].startswith("data:image/png;base64,"), f"{name}: image {i} is not embedded: {img['src']}"

        sentences = page.evaluate(EXEC_SUMMARY_JS)
        assert sentences is not None, f"{name}: no 'Executive summary' section"
        assert 3 <= len(sentences) <= 5, f"{name}: executive summary has {len(sentences)} paragraphs: {sentences}"
        for s in sentences:
            assert s and s.endswith("."), f"{name}: executive summary sentence is empty or cut short: {s!r}"
        assert not errors, f"{name}: browser errors: {errors}"
    finally:
        page.close()
