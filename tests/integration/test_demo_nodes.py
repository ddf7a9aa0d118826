"""`lotse demo` waits for its own node: another program answering on the node's port is not the node being ready."""

from __future__ import annotations

import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from shared.runtime.demo_nodes import DemoNode
from shared.runtime.failures import OperatorError


class Ready(BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802 - the handler's protocol
        self.send_response(200)
        self.end_headers()
        self.wfile.write(b'{"ready": true}')

    def log_message(self, *args: object) -> None:
        pass


@contextmanager
def someone_else_answering() -> Iterator[int]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), Ready)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()


def test_a_ready_answer_counts_only_once_the_node_wrote_its_bus_address(tmp_path: Path) -> None:
    with someone_else_answering() as port:
        node = DemoNode(tmp_path, "state", "state", ["08000000"], port)
        node.data_dir.mkdir(parents=True)
        (node.data_dir / "node.json").write_text('{"redis_url": "redis://127.0.0.1:1/0"}')  # an earlier run's
        (node.data_dir / "node.json").touch()
        node.started_at = (node.data_dir / "node.json").stat().st_mtime + 5  # this run started after it
        node.log.write_text("lotse: LOTSE_HTTP_PORT: cannot listen on 127.0.0.1: Address already in use\n")
        node.proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
        try:
            with pytest.raises(OperatorError, match="not ready"):
                node.wait_ready(timeout=1)
            node.started_at = 0.0  # a node.json written since the start: the node is ours, and ready
            node.wait_ready(timeout=5)
            node.proc.kill()
            node.proc.wait()
            with pytest.raises(OperatorError, match="did not start: .*Address already in use"):  # ours ended
                node.wait_ready(timeout=5)
        finally:
            node.proc.kill()
            node.proc.wait()
