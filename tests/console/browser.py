"""A real headless browser for the console's tests: Debian's chromium driven by its chromedriver.

Nothing is downloaded at test time. `scripts/install-browser` (run by `scripts/test`) installs the
two packages where it can; elsewhere the browser tests are skipped with the reason in bold.
"""

from __future__ import annotations

import shutil
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = ("chromium", "chromium-browser", "google-chrome")
DRIVER = ("chromedriver",)
ROOT = Path(__file__).resolve().parents[2]
# Screenshots a reviewer looks at: outside pytest's temporary tree, ignored by git.
SHOTS = ROOT / "test-output" / "console"


def _find(names: tuple[str, ...]) -> str | None:
    for name in names:
        found = shutil.which(name) or shutil.which(name, path="/usr/lib/chromium:/usr/bin")
        if found:
            return found
    return None


def browser_or_skip() -> tuple[str, str]:
    chromium, driver = _find(CHROMIUM), _find(DRIVER)
    if chromium is None or driver is None:
        reason = (
            "NO BROWSER: the console's browser tests need Debian's `chromium` and "
            "`chromium-driver` (scripts/install-browser installs them as root); "
            f"found chromium={chromium}, chromedriver={driver}"
        )
        warnings.warn(reason, stacklevel=2)
        pytest.skip(reason)
    return chromium, driver


class Browser:
    """A Chrome session with the waits and screenshots the tests use."""

    def __init__(self, base_url: str) -> None:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service

        chromium, driver = browser_or_skip()
        options = webdriver.ChromeOptions()
        options.binary_location = chromium
        for argument in (
            "--headless=new",
            "--no-sandbox",  # root in CI
            "--disable-dev-shm-usage",
            "--disable-gpu",
            "--window-size=1280,900",
        ):
            options.add_argument(argument)
        self.driver = webdriver.Chrome(service=Service(driver), options=options)
        self.base_url = base_url.rstrip("/")
        SHOTS.mkdir(parents=True, exist_ok=True)

    def open(self, path: str) -> None:
        self.driver.get(self.base_url + path)

    def find(self, css: str) -> Any:
        from selenium.webdriver.common.by import By

        return self.driver.find_element(By.CSS_SELECTOR, css)

    def find_all(self, css: str) -> list[Any]:
        from selenium.webdriver.common.by import By

        return list(self.driver.find_elements(By.CSS_SELECTOR, css))

    def texts(self, css: str) -> list[str]:
        return [e.text for e in self.find_all(css)]

    def wait_for(self, check: Callable[[], Any], timeout_s: float = 30, what: str = "") -> Any:
        """Poll `check` until it returns something true (page loads, live updates)."""
        from selenium.common.exceptions import StaleElementReferenceException
        from selenium.webdriver.support.ui import WebDriverWait

        def attempt(_driver: Any) -> Any:
            try:
                return check()
            except StaleElementReferenceException:  # the live table was redrawn meanwhile
                return None

        return WebDriverWait(self.driver, timeout_s, poll_frequency=0.25).until(
            attempt, message=what or "the page never showed what the test waits for"
        )

    def follow(self, css: str, timeout_s: float = 30) -> None:
        """Click what leaves the page (a form's submit, a link) and wait for the next page.

        A click returns before the navigation it starts; a command that lands while the old page
        is going is refused by Chrome ("aborted by navigation"), so no check may run until the
        old document is gone and the new one has loaded.
        """
        from selenium.common.exceptions import StaleElementReferenceException, WebDriverException
        from selenium.webdriver.support.ui import WebDriverWait

        old = self.find("html")
        self.find(css).click()

        def left(_driver: Any) -> bool:
            try:
                old.tag_name  # noqa: B018 - any call on the old document tells whether it is gone
            except StaleElementReferenceException:
                return True
            except WebDriverException:  # mid-navigation
                return False
            return False

        def loaded(driver: Any) -> bool:
            try:
                return bool(driver.execute_script("return document.readyState") == "complete")
            except WebDriverException:
                return False

        wait = WebDriverWait(self.driver, timeout_s, poll_frequency=0.1)
        wait.until(left, message=f"clicking {css} never left the page")
        wait.until(loaded, message=f"the page after clicking {css} never loaded")

    @property
    def page_text(self) -> str:
        return str(self.find("body").text)

    def screenshot(self, name: str) -> Path:
        path = SHOTS / f"{name}.png"
        self.driver.save_screenshot(str(path))
        return path

    def quit(self) -> None:
        self.driver.quit()


def open_browser(base_url: str) -> Iterator[Browser]:
    browser = Browser(base_url)
    try:
        yield browser
    finally:
        browser.quit()
