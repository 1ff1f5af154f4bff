"""The monitor page in a real headless Chromium (``streamlit run`` on a free loopback port,
the DevTools protocol): the default view, a region's series with an alert, a provisional
week; screenshots in tests/_artifacts/monitor-*.png for a person to look at. Skipped only
without Chromium (scripts/ensure-system-packages.sh installs it)."""

from __future__ import annotations

import pytest

from tests._cdp import Browser
from tests.acceptance.test_monitor_page import monitor_home
from tests.acceptance.test_screenshots import CHROMIUM, _save, served_dashboards

pytestmark = [pytest.mark.slow, pytest.mark.browser]


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory):
    if CHROMIUM is None:
        pytest.skip("headless Chromium is not installed (scripts/ensure-system-packages.sh)")
    settings = monitor_home(tmp_path_factory.mktemp("monitor-browser"))
    env = {"ENCLAVE_HOME": str(settings.home), "ENCLAVE_POLICIES": str(settings.policies_dir)}
    environ = {**env, "OPENBLAS_NUM_THREADS": "1"}
    with served_dashboards(environ, tmp_path_factory.mktemp("chrome-monitor")) as (urls, browser):
        yield urls["monitor"], browser


def _text(browser: Browser) -> str:
    return str(browser.js("document.body.innerText"))


def _scroll_to(browser: Browser, text: str) -> None:
    browser.js(
        "[...document.querySelectorAll('h3')]"
        f".find(h => h.innerText.includes({text!r})).scrollIntoView()"
    )
    browser.settle()


def test_default_view(served) -> None:
    url, browser = served
    browser.open(url)
    browser.wait_for("Alerts this week")
    _save(browser, "monitor-default")
    text = _text(browser)
    assert "Public-health monitor" in text and "How to read this" in text
    assert "Deploy" not in text and "Traceback" not in text
    assert "2024" in text  # dates carry their year
    toolbar = "document.querySelector('[data-testid=stToolbar]')"
    assert browser.js(f"!{toolbar} || getComputedStyle({toolbar}).display === 'none'")


def _view(browser: Browser, url: str, wait: str, shots: tuple[str, str]) -> str:
    """Open ``url``, wait for ``wait``, save the top and the series as ``shots``; the text."""
    browser.open(url)
    browser.wait_for(wait)
    _save(browser, shots[0])
    _scroll_to(browser, "One region, week by week")
    _save(browser, shots[1])
    return _text(browser)


def test_a_region_series_with_an_alert(served) -> None:
    url, browser = served
    text = _view(
        browser,
        f"{url}?indicator=ili&week=2024-01-08&region=New+Taipei",
        "More patients than expected",
        ("monitor-alert-map", "monitor-alert-series"),
    )
    assert "New Taipei, week 08 Jan 2024" in text and "happens by chance" in text


def test_a_provisional_week(served) -> None:
    url, browser = served
    text = _view(
        browser,
        f"{url}?indicator=emergency&week=2024-12-30&region=Taipei",
        "is provisional",
        ("monitor-provisional", "monitor-provisional-series"),
    )
    assert "This week's data are incomplete" in text
