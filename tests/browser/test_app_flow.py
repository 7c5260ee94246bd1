"""The paths a person clicks through, in headless Chromium against a real server: cold-opened
page URLs show only the login form; an admin creates an analyst; the analyst uploads an
@RISK-style workbook, runs the demo, sees the charts, queries the samples with SQL, downloads the
report and logs out; a second analyst does not see the first one's runs. Screenshots of each
step are saved under the test's output folder."""

from __future__ import annotations

import re

import openpyxl
import pytest

from tests.browser.conftest import ADMIN, ADMIN_PASSWORD

PAGES = ["upload", "setup", "run", "results", "explore", "admin"]
ANALYST, ANALYST_PASSWORD = "ann", "analyst-password-1"
SECOND, SECOND_PASSWORD = "ben", "analyst-password-2"


class Steps:
    def __init__(self, page, folder):
        self.page, self.folder, self.n = page, folder, 0

    def shot(self, name: str) -> None:
        self.n += 1
        self.page.screenshot(path=str(self.folder / f"{self.n:02d}-{name}.png"), full_page=True)


def _login(page, url: str, username: str, password: str) -> None:
    """Log in through the form. A rerun that Streamlit starts while the form is being filled
    (the logout's cookie script, a fragment) can redraw it empty, which loses the submit: then
    the form is still there, and it is filled and sent again."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    page.goto(url)
    home = page.get_by_role("heading", name="Home", exact=True).first
    for attempt in range(3):
        _settle(page)
        page.get_by_role("textbox", name="Username", exact=True).first.fill(username)
        page.get_by_role("textbox", name="Password", exact=True).first.fill(password)
        page.get_by_role("button", name="Log in").first.click()
        try:
            home.wait_for(timeout=30_000)
            return
        except PlaywrightTimeout:
            if attempt == 2:
                raise


def _settle(page, quiet_ms: int = 600, timeout_ms: int = 30_000) -> None:
    """Wait until the app has finished rerunning: no running indicator for ``quiet_ms``."""
    quiet = waited = 0
    while quiet < quiet_ms and waited < timeout_ms:
        running = page.locator("[data-testid='stStatusWidget']").count() > 0
        quiet = 0 if running else quiet + 100
        page.wait_for_timeout(100)
        waited += 100


def _logout(page) -> None:
    page.get_by_role("button", name="Log out").first.click()
    page.get_by_role("button", name="Log in").first.wait_for(timeout=30_000)
    for _ in range(100):  # the login cookie is removed by the page's script, just after
        if not any(c["name"] == "xlsim_login" for c in page.context.cookies()):
            return
        page.wait_for_timeout(100)
    raise AssertionError("the login cookie survived the logout")


@pytest.fixture
def context(browser):
    ctx = browser.new_context(accept_downloads=True)
    yield ctx
    ctx.close()


def test_cold_page_urls_show_only_the_login_form(app_url, context, tmp_path):
    for name in PAGES:
        page = context.new_page()
        page.goto(f"{app_url}/{name}")
        page.get_by_role("button", name="Log in").first.wait_for(timeout=60_000)
        page.wait_for_timeout(500)
        titles = [t.strip() for t in page.locator("h1").all_inner_texts()]
        assert titles == [], (name, titles)
        assert page.locator("[data-testid='stDataFrame']").count() == 0
        page.screenshot(path=str(tmp_path / f"cold-{name}.png"), full_page=True)
        page.close()


def test_the_analyst_journey(app_url, context, tmp_path):
    page = context.new_page()
    steps = Steps(page, tmp_path)
    # the admin creates two analysts
    _login(page, app_url, ADMIN, ADMIN_PASSWORD)
    page.get_by_role("link", name="Admin").first.click()
    page.get_by_role("heading", name="Administration", exact=True).first.wait_for(timeout=30_000)
    for username, password in ((ANALYST, ANALYST_PASSWORD), (SECOND, SECOND_PASSWORD)):
        page.get_by_role("textbox", name="Username", exact=True).first.fill(username)
        page.get_by_role("textbox", name="Password (at least 8 characters)").first.fill(password)
        page.get_by_role("button", name="Create user").first.click()
        page.get_by_text(re.compile(rf"\b{username}\b")).first.wait_for(timeout=30_000)
        page.wait_for_timeout(500)
    steps.shot("admin-created-users")
    _logout(page)

    # the analyst uploads an @RISK-style workbook
    _login(page, app_url, ANALYST, ANALYST_PASSWORD)
    steps.shot("home")
    book = openpyxl.Workbook()
    ws = book.active
    ws.title = "Model"
    ws["A1"], ws["B1"] = "Price", "=RiskNormal(100,10)"
    ws["A2"], ws["B2"] = "Units", "=RiskTriang(800,1000,1300)"
    ws["A3"], ws["B3"] = "Profit", '=RiskOutput("Profit")+B1*B2-60000'
    path = tmp_path / "risk-model.xlsx"
    book.save(path)
    page.get_by_role("link", name="Upload").first.click()
    page.get_by_role("heading", name="Upload a workbook", exact=True).first.wait_for(timeout=30_000)
    page.locator("input[type=file]").set_input_files(str(path))
    page.get_by_text("risk-model.xlsx is saved").first.wait_for(timeout=60_000)
    page.get_by_text("Declared inputs and outputs").first.wait_for(timeout=30_000)
    steps.shot("uploaded")

    # one click: the demo runs and its results render
    page.get_by_role("link", name="Home").first.click()
    page.get_by_role("button", name="Run the demo").first.click()
    page.get_by_role("heading", name="Runs", exact=True).first.wait_for(timeout=60_000)
    page.get_by_role("button", name="Open the results").first.wait_for(timeout=120_000)
    steps.shot("run-done")
    page.get_by_role("button", name="Open the results").first.click()
    page.get_by_role("heading", name="Results", exact=True).first.wait_for(timeout=60_000)
    page.get_by_role("tab", name=re.compile("Distribution")).first.click()
    page.locator(".js-plotly-plot").first.wait_for(timeout=60_000)
    assert page.locator(".js-plotly-plot").count() >= 2  # histogram and S-curve
    steps.shot("distribution")
    page.get_by_role("tab", name=re.compile("Sensitivity")).first.click()
    tornado = page.get_by_role("tabpanel", name=re.compile("Sensitivity")).first.locator(
        ".js-plotly-plot").first
    tornado.wait_for(timeout=60_000)
    assert tornado.locator(".barlayer .point").count() >= 2  # one bar per input and side
    steps.shot("tornado")

    # the report downloads and opens
    page.get_by_role("tab", name=re.compile("Download")).first.click()
    with page.expect_download(timeout=60_000) as download:
        page.get_by_role("button", name="Excel report").first.click()
    report = tmp_path / "report.xlsx"
    download.value.save_as(report)
    assert "Statistics" in openpyxl.load_workbook(report).sheetnames
    steps.shot("report")

    # SQL over the samples
    page.get_by_role("link", name="Explore").first.click()
    page.get_by_role("heading", name="Explore with SQL", exact=True).first.wait_for(timeout=30_000)
    page.get_by_role("button", name="Run query").first.click()
    page.locator("[data-testid='stDataFrame']").first.wait_for(timeout=60_000)
    steps.shot("sql")
    _logout(page)
    steps.shot("logged-out")

    # a second analyst sees none of it
    _login(page, app_url, SECOND, SECOND_PASSWORD)
    page.get_by_role("link", name="Runs").first.click()
    page.get_by_role("heading", name="Runs", exact=True).first.wait_for(timeout=30_000)
    page.wait_for_timeout(1000)
    assert page.get_by_text("project_cash_flow").count() == 0
    assert page.get_by_text("risk-model").count() == 0
    steps.shot("second-user")
    page.close()


def test_set_up_two_inputs_and_one_output_and_run_100000_iterations(app_url, context,
                                                                      tmp_path):
    page = context.new_page()
    steps = Steps(page, tmp_path)
    _login(page, app_url, ADMIN, ADMIN_PASSWORD)
    book = openpyxl.Workbook()
    ws = book.active
    ws.title = "Plan"
    ws["A1"], ws["B1"] = "Volume", 1000
    ws["A2"], ws["B2"] = "Margin", 12.5
    ws["A3"], ws["B3"] = "Profit", "=B1*B2-5000"
    path = tmp_path / "plan.xlsx"
    book.save(path)
    page.get_by_role("link", name="Upload").first.click()
    page.get_by_role("heading", name="Upload a workbook", exact=True).first.wait_for(timeout=30_000)
    page.locator("input[type=file]").set_input_files(str(path))
    page.get_by_text("plan.xlsx is saved").first.wait_for(timeout=60_000)
    page.get_by_role("button", name="Set up a simulation").first.click()
    page.get_by_role("heading", name="Set up a simulation", exact=True).first.wait_for(
        timeout=30_000)
    for cell in ("Plan!B1", "Plan!B2"):
        box = page.get_by_role("textbox", name="Cell to make uncertain").first
        box.fill(cell)
        box.press("Enter")
        _settle(page)
        page.get_by_role("button", name="Add input").first.click()
        page.get_by_text(re.compile(rf"^{cell}")).first.wait_for(timeout=30_000)
    outputs = page.get_by_role("textbox", name="Output cells, separated by commas").first
    outputs.fill("Plan!B3")
    outputs.press("Enter")
    _settle(page)
    iterations = page.get_by_role("spinbutton", name="Iterations").first
    iterations.fill("100000")
    iterations.press("Enter")
    _settle(page)
    steps.shot("set-up")
    run = page.get_by_role("button", name="Run", exact=True).first
    for _ in range(300):  # the typed cells and settings reach the server over a few reruns
        if run.is_enabled():
            break
        page.wait_for_timeout(100)
    errors = page.locator("[data-testid='stAlertContentError']").all_inner_texts()
    assert run.is_enabled(), errors
    run.click()
    page.get_by_role("heading", name="Runs", exact=True).first.wait_for(timeout=60_000)
    page.get_by_role("button", name="Open the results").first.wait_for(timeout=120_000)
    page.get_by_text("100,000").first.wait_for(timeout=10_000)
    page.get_by_role("button", name="Open the results").first.click()
    page.get_by_role("heading", name="Results", exact=True).first.wait_for(timeout=60_000)
    page.get_by_role("tab", name=re.compile("Distribution")).first.click()
    panel = page.get_by_role("tabpanel", name=re.compile("Distribution")).first
    panel.locator(".js-plotly-plot").first.wait_for(timeout=60_000)
    assert panel.locator(".js-plotly-plot").count() >= 2  # histogram and S-curve
    steps.shot("set-up-results")
    page.close()
