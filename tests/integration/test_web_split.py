"""Split mode: the web app alone (`--services web`) serves the pages from a node's API at LOTSE_WEB_API_URL."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient

from shared.runtime.embedded import EmbeddedServer, free_port
from shared.settings import WEB
from tests.integration.test_web_pages import CASE_FORM, csrf_of, sign_in
from tests.nodes import node_settings, serving_node
from web.app import standalone


def test_the_web_app_alone_serves_pages_from_the_api_and_reports_it_in_readyz(valkey: EmbeddedServer,
                                                                              tmp_path: Path) -> None:
    api_node = node_settings(tmp_path, valkey.url, services=["cases", "plans", "notifications"],
                             http_port=free_port())
    with serving_node(api_node) as origin:
        # the same data dir: the picker's dev tokens are signed with the key the API node checks
        alone = api_node.model_copy(update={"services": [WEB], "web_api_url": origin})
        with TestClient(standalone(alone)) as browser:
            assert browser.get("/healthz").status_code == 200
            assert browser.get("/readyz").json() == {"api": "ok"}
            csrf = sign_in(browser, "manager-stuttgart-1")
            opened = browser.post("/cases/new", data={**CASE_FORM, "csrf_token": csrf}, follow_redirects=False)
            assert opened.status_code == 303, opened.text
            page = browser.get(opened.headers["location"])
            assert page.status_code == 200 and "Haddad" in page.text
            assert "Haddad" in browser.get("/cases").text
            assert csrf_of(page.text)
            # alone, it bounds bodies before reading them, as the node does
            huge = browser.post("/cases/new", content=b"x" * (alone.max_body_bytes + 1),
                                headers={"content-type": "application/x-www-form-urlencoded"})
            assert huge.status_code == 413 and huge.json()["detail"][0]["field"] == "body"
    unreachable = api_node.model_copy(update={"services": [WEB], "web_api_url": f"http://127.0.0.1:{free_port()}"})
    with TestClient(standalone(unreachable)) as browser:
        ready = browser.get("/readyz")
        assert ready.status_code == 503 and ready.json() == {"api": "unreachable"}
