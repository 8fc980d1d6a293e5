"""A campaign on a real PostgreSQL server, in a real browser: an annotator with a token casts three
votes, psql counts the rows, the app is killed with SIGKILL and started again, and the rows are
still there (psql, and the Results tab behind the admin token). Skipped where Chromium or
PostgreSQL cannot run here (the fixtures say why)."""
from test_browser import TIMEOUT_MS, wait_votes

TOKEN, ADMIN = "3fQ9x2LkVb7Tz1Wd", "admin-token-123456"


def open_tab(browser, url, tab):
    page = browser.new_page(viewport={"width": 1280, "height": 860})
    page.set_default_timeout(TIMEOUT_MS)
    page.goto(url)
    page.wait_for_selector("#instruction textarea")
    page.click(f"#{tab}-tab-button")
    return page


def test_votes_survive_sigkill_on_postgres(browser, postgres, app_launcher, tmp_path, screenshot_dir):
    running_app, write_items = app_launcher
    postgres.psql("DROP TABLE IF EXISTS votes")
    items = write_items(tmp_path / "items")
    (tmp_path / "tokens.txt").write_text(f"{TOKEN} alice\n")
    (tmp_path / "admin.txt").write_text(ADMIN + "\n")
    flags = ["--db", postgres.url, "--items", str(items), "--annotators", str(tmp_path / "tokens.txt"),
             "--admin-token-file", str(tmp_path / "admin.txt")]

    with running_app(tmp_path, *flags) as (url, proc):
        page = open_tab(browser, url, "compare")
        page.fill("#annotator input", "alice")  # a name is not a token
        page.click("#annotator-start")
        page.wait_for_selector("text=That annotator token is not known")
        page.fill("#annotator input", TOKEN)
        page.click("#annotator-start")
        page.wait_for_selector("#compare-left img")
        assert "Annotating as alice" in page.inner_text("#compare-status")
        page.screenshot(path=str(screenshot_dir / "campaign-compare.png"))
        for k, button in enumerate(("#vote-left", "#vote-right", "#vote-tie"), 1):
            page.click(button)
            wait_votes(page, k)
        assert "All items are done" in page.inner_text("#compare-status")
        counted = postgres.psql("SELECT count(*) FROM votes")
        print(f"psql after three votes: {counted} rows")
        assert counted == "3"
        proc.kill()  # SIGKILL: no shutdown code runs
        assert proc.wait(timeout=30) == -9
        page.close()

    after_kill = postgres.psql("SELECT count(*) FROM votes")
    print(f"psql after SIGKILL: {after_kill} rows")
    assert after_kill == "3"
    with running_app(tmp_path, *flags) as (url, _):
        page = open_tab(browser, url, "results")
        page.wait_for_selector("#admin-token input")
        assert "diffchat vs base" not in page.inner_text("#results-table")  # nothing without the admin token
        page.fill("#admin-token input", ADMIN)
        page.press("#admin-token input", "Enter")
        page.wait_for_function("document.querySelector('#results-table').innerText.includes('diffchat vs base')")
        page.wait_for_selector("text=3 votes stored.")
        page.screenshot(path=str(screenshot_dir / "campaign-results.png"), full_page=True)
        again = open_tab(browser, url, "compare")  # alice's three votes count after the restart
        again.fill("#annotator input", TOKEN)
        again.click("#annotator-start")
        again.wait_for_function("(document.querySelector('#compare-status')?.innerText || '').includes('All items are done')")
    rows = postgres.psql("SELECT annotator, item, vote FROM votes ORDER BY item")
    print(f"psql after restart:\n{rows}")
    assert [r.split("|")[0] for r in rows.splitlines()] == ["alice"] * 3
