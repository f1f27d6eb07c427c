"""A tiny HTTP server on 127.0.0.1 that plays the misbehaving internet.

Routes (all bytes are set per test through ``server.files``):

* ``/<name>``           serves ``files[name]`` whole;
* ``/cut/<name>``       announces the full length, sends half, then hangs up;
* anything else         404.
"""

from __future__ import annotations

import http.server
import threading
from contextlib import contextmanager


class _Handler(http.server.BaseHTTPRequestHandler):
    def log_message(self, *args):  # keep test output quiet
        pass

    def do_GET(self):  # noqa: N802 (http.server's naming)
        self.server.requests.append(self.path)
        cut = self.path.startswith("/cut/")
        name = self.path[len("/cut/") :] if cut else self.path.lstrip("/")
        body = self.server.files.get(name)
        if body is None:
            self.send_error(404, "no such file")
            return
        self.send_response(200)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if cut:
            self.wfile.write(body[: len(body) // 2])
            self.wfile.flush()
            self.close_connection = True
            return
        self.wfile.write(body)


@contextmanager
def file_server(files: dict[str, bytes]):
    """Serve ``files`` on 127.0.0.1 at a free port; yields the base URL and server."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    server.files = dict(files)
    server.requests = []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", server
    finally:
        server.shutdown()
        server.server_close()
