"""The educators' app (``sim viz``): its model and views, and the real app in a real browser.

The first tests check, without a browser, that every knob sets the scenario field it names,
that the app's model plays the very model ``sim run`` plays, and that the views draw.
``test_app_in_browser`` starts ``sim viz --port 0 --no-browser`` as a subprocess (the CLI path
users take), drives it with headless Chromium through Playwright (moves the token-price slider,
resets, steps, switches policy) and checks what the page shows; the screenshot goes to
``artifacts/viz-app.png``. The server is stopped with Ctrl-C (SIGINT), also on failure.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from sim.errors import ScenarioError
from sim.model import TokenEconomy
from sim.viz import KNOBS, POLICY_CHOICES, TeachingEconomy, knob_values

REPO = Path(__file__).resolve().parent.parent
ARTIFACTS = REPO / "artifacts"
CHROMIUM = "/usr/bin/chromium"
LAUNCH_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
               "--disable-sync", "--no-first-run"]
#: a value inside each knob's range, different from every shipped scenario's
MOVED = {"prize": 650.0, "visibility": 0.25, "budget": 2500.0, "use_it_or_lose_it": False, "audit_every": 7,
         "audit_noise": 0.9, "price": 6.5, "status_seeking": 0.6, "gaming_aversion": 0.7, "tiers": True}


def field_value(model: TokenEconomy, knob) -> float | bool:
    cfg = model.config
    if knob.name == "status_seeking":
        d = cfg.workforce.status_seeking
        return d.a / (d.a + d.b)
    if knob.name == "gaming_aversion":
        return cfg.workforce.gaming_aversion.median
    if knob.name == "tiers":
        return bool(cfg.economy.tiers)
    if knob.field.startswith("policies."):
        _, pid, field = knob.field.split(".")
        return cfg.policies[pid][field]
    return getattr(cfg.economy, knob.field.split(".")[1])


@pytest.mark.parametrize("knob", KNOBS, ids=[k.name for k in KNOBS])
def test_each_knob_sets_its_scenario_field(knob):
    m = TeachingEconomy("leaderboard", employees=40, weeks=2, rng=1, **{knob.name: MOVED[knob.name]})
    assert field_value(m, knob) == pytest.approx(MOVED[knob.name])
    assert m.knobs[knob.name] == pytest.approx(MOVED[knob.name])
    base = knob_values(TeachingEconomy("leaderboard", employees=40, weeks=2, rng=1).config)
    assert base[knob.name] != pytest.approx(MOVED[knob.name])  # the knob really moved something


@pytest.mark.parametrize("scenario", ["leaderboard", "sticker_shock", "budget", "baseline"])
def test_app_model_with_knobs_untouched_plays_the_scenario(scenario):
    """The policies the app adds switched off change nothing: same seed, same numbers as TokenEconomy."""
    app = TeachingEconomy(scenario, employees=120, weeks=12, rng=5)
    ref = TokenEconomy(scenario, employees=120, weeks=12, rng=5)
    for _ in range(12):
        app.step()
        ref.step()
    for metric in ("cost_per_employee", "value_per_employee", "gaming_share", "maxxer_share", "goodhart_rho"):
        np.testing.assert_array_equal(app.engine.history[metric], ref.engine.history[metric], err_msg=metric)


def test_policy_choice_sets_what_is_in_force_at_week_zero():
    m = TeachingEconomy("leaderboard", policy="output bonus", employees=60, weeks=3, rng=1)
    assert [p for p in m.active_policies if p != "none"] == ["output_bonus"]
    m = TeachingEconomy("sticker_shock", policy="leaderboard + ROI gate", employees=60, weeks=3, rng=1)
    assert sorted(p for p in m.active_policies if p != "none") == ["leaderboard", "roi_gate"]
    m = TeachingEconomy("budget", policy="none (laissez-faire)", employees=60, weeks=3, rng=1)
    assert [p for p in m.active_policies if p != "none"] == []
    assert set(POLICY_CHOICES) >= {"as in scenario", "leaderboard", "output bonus"}


def test_switch_policy_is_recorded_and_changes_the_run():
    m = TeachingEconomy("leaderboard", employees=150, weeks=10, rng=2)
    for _ in range(4):
        m.step()
    m.switch_policy(activate=["roi_gate"], deactivate=["leaderboard"])
    for _ in range(6):
        m.step()
    assert m.regimes == [(0, ("none", "leaderboard")), (4, ("none", "roi_gate"))]
    assert np.nanmax(m.engine.history["audits_per_employee"][:4]) == 0
    assert np.nanmax(m.engine.history["audits_per_employee"][4:]) > 0


def test_bad_knob_and_policy_choice_name_the_valid_ones():
    with pytest.raises(ScenarioError, match=r"unknown policy choice 'leaderbord'.*did you mean 'leaderboard'"):
        TeachingEconomy("leaderboard", policy="leaderbord", employees=20)
    from sim.loader import load_scenario
    from sim.viz import knob_overrides

    with pytest.raises(ScenarioError, match=r"unknown app knob 'prise'.*did you mean 'prize'"):
        knob_overrides(load_scenario("leaderboard"), prise=3)
    with pytest.raises(ScenarioError, match="price"):  # out of the scenario field's bounds
        TeachingEconomy("leaderboard", price=-1, employees=20)


def test_views_draw_what_the_model_holds():
    from sim import viz

    m = TeachingEconomy("leaderboard", employees=200, weeks=8, rng=3)
    for _ in range(5):
        m.step()
    fig = viz.goodhart_figure(m)
    rho = m.engine.history["goodhart_rho"][4, 0]
    assert f"rho = {rho:.2f}" in fig.axes[0].get_title()
    points = sum(len(c.get_offsets()) for c in fig.axes[0].collections)
    assert points == 200
    cost = viz.cost_value_figure(m).axes[0].lines
    np.testing.assert_allclose(cost[1].get_ydata(), m.engine.history["cost_per_employee"][:5, 0])
    table = viz.leaderboard_table(m)
    assert len(table) == 10
    assert (np.diff(table["tokens (Mtok)"]) <= 0).all()
    assert table["tokens (Mtok)"].iloc[0] == pytest.approx(m.engine.m[0].max(), abs=0.06)
    edges = viz.network_edges(m)
    assert (edges[:, 0] < edges[:, 1]).all() and len(np.unique(edges, axis=0)) == len(edges)
    team = m.engine.team
    same = team[edges[:, 0]] == team[edges[:, 1]]
    sizes = np.bincount(team)
    assert same.sum() == int((sizes * (sizes - 1) // 2).sum())  # every team is a clique
    assert viz.network_figure(m).axes[0].collections


def test_tiers_knob_and_view():
    """The tiers knob gives the standard frontier / mid / small tiers (and off, one model); the tier
    view plots each tier's weekly tokens, and on the token board gaming burns on the small tier."""
    from sim import viz

    plain = TeachingEconomy("leaderboard", employees=200, weeks=6, rng=3)
    assert plain.engine.tier_names == [] and viz.tier_shares(plain) == {}
    assert not viz.tiers_figure(plain).axes[0].lines  # a hint to tick the box, no plot
    m = TeachingEconomy("leaderboard", employees=200, weeks=6, rng=3, tiers=True)
    assert m.engine.tier_names == ["frontier", "mid", "small"] and m.knobs["tiers"] is True
    for _ in range(5):
        m.step()
    lines = viz.tiers_figure(m).axes[0].lines
    assert [ln.get_label() for ln in lines] == ["frontier", "mid", "small"]
    for ln, name in zip(lines, m.engine.tier_names):
        np.testing.assert_allclose(ln.get_ydata(), m.engine.history[f"tokens_per_employee[{name}]"][:5, 0])
    shares = viz.tier_shares(m)
    assert sum(shares.values()) == pytest.approx(1.0)
    off = TeachingEconomy("tiers", employees=50, weeks=2, rng=1, tiers=False)
    assert off.engine.tier_names == [] and off.knobs["tiers"] is False


def test_viz_without_solara_is_one_clear_error(monkeypatch, capsys):
    import importlib.util

    from sim.cli import main

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "solara" else real(name, *a))
    assert main(["viz", "leaderboard", "--no-browser"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "pip install -e '.[viz]'" in err and "solara" in err


def test_viz_bad_scenario_and_busy_port_are_clear_errors(capsys):
    import socket

    from sim.cli import main

    assert main(["viz", "leaderbord", "--no-browser"]) == 2
    assert "did you mean 'leaderboard'" in capsys.readouterr().err
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        port = busy.getsockname()[1]
        assert main(["viz", "baseline", "--port", str(port), "--no-browser"]) == 2
    err = capsys.readouterr().err
    assert f"127.0.0.1:{port}" in err and "--port 0" in err and len(err.strip().splitlines()) == 1


# --- the real app in a real browser ------------------------------------------------------------
class Server:
    """``sim viz`` as a subprocess; ``stop()`` sends Ctrl-C and returns the exit code."""

    def __init__(self, tmp: Path) -> None:
        self.out, self.err = tmp / "viz.out", tmp / "viz.err"
        with open(self.out, "w") as out, open(self.err, "w") as err:
            self.proc = subprocess.Popen([sys.executable, "-m", "sim.cli", "viz", "leaderboard", "--port", "0",
                                          "--no-browser"], cwd=REPO, stdout=out, stderr=err,
                                         env={**os.environ, "PYTHONUNBUFFERED": "1"})
        self.url = self._wait_for_url(timeout=180)  # the first run also fetches the page's JS once

    def _wait_for_url(self, timeout: float) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = re.search(r"http://127\.0\.0\.1:\d+/", self.out.read_text())
            if found:
                return found.group(0)
            if self.proc.poll() is not None:
                pytest.fail(f"sim viz exited with {self.proc.returncode}:\n{self.err.read_text()[-3000:]}")
            time.sleep(0.2)
        pytest.fail(f"sim viz printed no URL in {timeout:.0f} s:\n{self.err.read_text()[-3000:]}")

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        return self.proc.returncode


@pytest.fixture
def server(tmp_path):
    if not os.access(CHROMIUM, os.X_OK):
        pytest.skip(f"the browser test needs Debian's chromium at {CHROMIUM} (apt-get install chromium; .ci/run does this)")
    srv = Server(tmp_path)
    try:
        yield srv
    finally:
        srv.stop()


def test_app_in_browser(server):
    sync_api = pytest.importorskip("playwright.sync_api", reason="needs the playwright package (the test extra)")
    errors: list[str] = []
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=LAUNCH_ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1100})
        page.on("pageerror", lambda e: errors.append(f"pageerror: {e}"))
        page.on("console", lambda m: errors.append(f"console.error: {m.text[:300]}") if m.type == "error" else None)
        try:
            page.goto(server.url)
            week = page.locator(".sim-week")
            sync_api.expect(week).to_have_text("Week 0", timeout=90_000)
            settings = page.locator(".sim-settings")
            sync_api.expect(settings).to_contain_text("Token price $3.00/Mtok")
            cost_caption = page.locator(".sim-cost-caption")
            sync_api.expect(cost_caption).to_contain_text("no weeks played yet")
            cost_img = page.locator(".sim-cost img")
            img_before = cost_img.get_attribute("src")

            # move the token-price slider 4 steps of $0.50 right, then Reset builds the model anew
            slider = page.locator(".v-input", has_text="Token price").locator("[role=slider]")
            slider.focus()
            for _ in range(4):
                slider.press("ArrowRight")
            page.get_by_role("button", name="Reset", exact=True).click()
            sync_api.expect(settings).to_contain_text("Token price $5.00/Mtok", timeout=30_000)

            step = page.get_by_role("button", name="Step", exact=True)
            for w in range(1, 5):
                step.click()
                sync_api.expect(week).to_have_text(f"Week {w}", timeout=30_000)
            sync_api.expect(cost_caption).to_contain_text("week 4: bill $", timeout=30_000)
            bill, value = (float(x.replace(",", "")) for x in
                           re.search(r"bill \$([\d,.]+), value \$([\d,.]+)", cost_caption.inner_text()).groups())
            assert bill > 0 and value > 0
            assert cost_img.get_attribute("src") != img_before, "the cost plot did not change after 4 steps"
            sync_api.expect(page.locator(".sim-goodhart-caption")).to_contain_text("week 4: Goodhart rho")
            sync_api.expect(page.locator(".sim-leaderboard table tbody tr")).to_have_count(10)

            # the sticker-shock turn: the leaderboard goes, the ROI gate comes, from the next week
            page.locator(".sim-sticker").click()
            in_force = page.locator(".sim-in-force")
            sync_api.expect(in_force).to_contain_text("roi_gate", timeout=30_000)
            sync_api.expect(in_force).not_to_contain_text("leaderboard")
            step.click()
            sync_api.expect(week).to_have_text("Week 5", timeout=30_000)

            # model tiers: the view explains how to get them; tick the box, Reset, and it plots them
            tiers_caption = page.locator(".sim-tiers-caption")
            sync_api.expect(tiers_caption).to_contain_text("one model for all work")
            page.locator(".v-input", has_text="Model tiers").locator("input[type=checkbox]").click()
            page.get_by_role("button", name="Reset", exact=True).click()
            sync_api.expect(settings).to_contain_text("token prices by model tier: frontier $21.00/Mtok", timeout=30_000)
            step.click()
            sync_api.expect(week).to_have_text("Week 1", timeout=30_000)
            sync_api.expect(tiers_caption).to_contain_text("week 1: frontier", timeout=30_000)
            sync_api.expect(tiers_caption).to_contain_text("small")
            ARTIFACTS.mkdir(exist_ok=True)
            page.screenshot(path=str(ARTIFACTS / "viz-app.png"), full_page=True)
            assert not errors, f"browser errors: {errors}"
        except Exception:
            ARTIFACTS.mkdir(exist_ok=True)
            page.screenshot(path=str(ARTIFACTS / "viz-app-failure.png"), full_page=True)
            raise
        finally:
            browser.close()
    assert server.stop() == 0, f"sim viz did not exit cleanly on Ctrl-C:\n{server.err.read_text()[-3000:]}"
    assert "Traceback" not in server.err.read_text()
