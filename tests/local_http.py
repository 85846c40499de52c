"""A throw-away HTTP server on 127.0.0.1 for the download tests (no network needed).

``serve(files)`` serves ``files`` (name -> bytes) at ``/<name>``, and misbehaves on purpose:
``/cut/<name>`` announces the full Content-Length but closes after half the bytes,
``/stall/<name>`` sends the headers and then nothing for two seconds, any other path is a 404.
``<repo>/resolve/<revision>/<name>`` answers GET and HEAD as the Hugging Face hub does (the
commit and ETag headers huggingface_hub reads), so ``HF_ENDPOINT`` can point at it.
Every request path is recorded in ``server.requests``.
"""

from __future__ import annotations

import hashlib
import threading
import time
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class _Handler(BaseHTTPRequestHandler):
    def do_HEAD(self):
        self.do_GET(head=True)

    def do_GET(self, head=False):
        self.server.requests.append(self.path)
        mode, _, name = self.path.lstrip("/").rpartition("/")
        body = self.server.files.get(name)
        hub = "/resolve/" in mode
        if body is None or not (hub or mode in ("", "cut", "stall")):
            self.send_error(404, "Not Found")
            return
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        if hub:
            self.send_header("X-Repo-Commit", mode.rpartition("/")[2])
            self.send_header("ETag", f'"{hashlib.sha256(body).hexdigest()}"')
        self.end_headers()
        if head:
            return
        if mode == "cut":
            self.wfile.write(body[: len(body) // 2])
            self.close_connection = True
        elif mode == "stall":
            self.wfile.flush()
            time.sleep(2)
        else:
            self.wfile.write(body)

    def log_message(self, *args):  # keep test output quiet
        pass


@contextmanager
def serve(files: dict[str, bytes]):
    """Run the server in a thread; yield it with ``.url`` ("http://127.0.0.1:PORT/")."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    server.daemon_threads = True
    server.files = dict(files)
    server.requests = []
    server.url = f"http://127.0.0.1:{server.server_address[1]}/"
    # a short poll interval: shutdown() waits for the loop to notice, 0.5 s by default
    thread = threading.Thread(target=server.serve_forever, args=(0.02,), daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
