"""A tiny page server for the tests: serves a page that POSTs a result back."""

from __future__ import annotations

import http.server
import threading

PAGE = b"""<!doctype html><html><body><script>
const data = new Float32Array(1 << 20).fill(1.5);
let s = 0; for (let i = 0; i < data.length; i++) s += data[i];
(async () => {
  const webgl2 = !!document.createElement('canvas').getContext('webgl2');
  let webgpu = false;
  try { webgpu = !!(navigator.gpu && await navigator.gpu.requestAdapter()); } catch (e) {}
  fetch('/result', {method: 'POST', body: JSON.stringify({sum: s, webgl2, webgpu, ua: navigator.userAgent})});
})();
</script></body></html>"""


class PageServer:
    """Serves PAGE at any GET path, records requests and POSTed bodies."""

    def __init__(self) -> None:
        self.requests: list[str] = []
        self.posts: list[bytes] = []
        self.posted = threading.Event()
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                outer.requests.append(self.path)
                body = PAGE if self.path.endswith(".html") else b""
                self.send_response(200 if body else 404)
                self.send_header("Content-Type", "text/html")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_POST(self) -> None:
                n = int(self.headers.get("Content-Length", "0"))
                outer.posts.append(self.rfile.read(n))
                outer.requests.append("POST " + self.path)
                self.send_response(204)
                self.end_headers()
                outer.posted.set()

            def log_message(self, *args: object) -> None:
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.httpd.server_address[1]
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
