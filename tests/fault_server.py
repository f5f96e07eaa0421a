"""A local OpenAI-compatible HTTP server that misbehaves on request: 429, 500, slow, broken JSON."""

from __future__ import annotations

import json
import re
import threading
import time
from collections import deque
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

_IDS = re.compile(r"### (?:Cluster|Item) (\S+)")


class FaultServer:
    """Scripted faults are consumed one per request; when the script is empty every answer is good.

    Faults: "429" (Retry-After: 0.05), "429-hour" (Retry-After: 3600), "500", "401" (bad API key),
    "404" (unknown model), "400" (bad request), "slow" (sleeps ``slow_s``), "truncated", "prose",
    "partial" (drops the last id), "fenced" (valid JSON in a ```json fence with chatter), "overflow" (400 context).
    ``default`` applies after the script runs out ("ok" or any fault, to fail persistently).
    A prompt naming one of ``runaway_ids`` rambles: it decodes (``token_s`` seconds per token) until the
    request's ``max_tokens`` and is cut there (``finish_reason: "length"``), like a small model that repeats itself.
    Good answers title cluster ``X`` as ``f"{title_prefix} {X}"``.
    """

    def __init__(self, script=(), default="ok", slow_s=2.0, delay_s=0.0, title_prefix="Title", runaway_ids=(), token_s=0.0):
        self.script = deque(script)
        self.runaway_ids = set(runaway_ids)
        self.token_s = token_s
        self.default = default
        self.title_prefix = title_prefix
        self.slow_s = slow_s
        self.delay_s = delay_s
        self.requests: list[dict] = []
        self.images = 0
        self.lock = threading.Lock()
        self.in_flight = 0
        self.max_in_flight = 0
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *a):
                pass

            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                with server.lock:
                    server.requests.append(body)
                    content = body["messages"][-1]["content"]
                    if isinstance(content, list):
                        server.images += sum(p.get("type") == "image_url" for p in content)
                    fault = server.script.popleft() if server.script else server.default
                    server.in_flight += 1
                    server.max_in_flight = max(server.max_in_flight, server.in_flight)
                try:
                    server._answer(self, body, fault)
                finally:
                    with server.lock:
                        server.in_flight -= 1

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    #: Faults answered with an HTTP error, whatever the request: status, message, extra headers.
    ERRORS = {
        "429": (429, "slow down", {"Retry-After": "0.05"}),
        "429-hour": (429, "slow down", {"Retry-After": "3600"}),
        "500": (500, "boom", {}),
        "401": (401, "Incorrect API key provided: sk-wrong", {}),
        "404": (404, "The model `test-model` does not exist", {}),
        "400": (400, "Invalid value for 'temperature'", {}),
    }

    def _answer(self, h, body, fault):
        prompt = body["messages"][-1]["content"]
        if self.delay_s:
            time.sleep(self.delay_s)
        if fault in self.ERRORS:
            status, message, headers = self.ERRORS[fault]
            return self._send(h, status, {"error": {"message": message, "type": "test"}}, headers)
        if isinstance(prompt, list):  # a vision request: text and image_url parts
            return self._send(
                h,
                200,
                {
                    "id": "x",
                    "object": "chat.completion",
                    "created": 0,
                    "model": body["model"],
                    "choices": [
                        {
                            "index": 0,
                            "message": {"role": "assistant", "content": "A striped cat sleeping on a red sofa."},
                            "finish_reason": "stop",
                        }
                    ],
                },
            )
        ids = _IDS.findall(prompt)
        if fault == "overflow" or (fault == "overflow-multi" and len(ids) > 1):
            return self._send(h, 400, {"error": {"message": "This model's maximum context length is 2048 tokens"}})
        if fault == "slow":
            time.sleep(self.slow_s)
        if self.runaway_ids & set(ids):
            n = int(body.get("max_tokens") or 1024)
            time.sleep(n * self.token_s)
            content = json.dumps({ids[0]: {"title": "Very " * n}})[:-3]  # cut inside the string, like a real cut
            return self._send(h, 200, self._completion(body, content, "length", len(prompt) // 4, n))
        labels = {i: {"title": f"{self.title_prefix} {i}", "description": f"What cluster {i} holds."} for i in ids}
        if fault == "partial" and len(ids) > 1:
            labels.pop(ids[-1])
        content = json.dumps(labels)
        if "Answer with only 1 or 2" in prompt:  # a guidance judge's question: one-word answers
            content = "1" if len(prompt) % 2 else "2"
        elif "Answer with only yes or no" in prompt:
            content = "yes" if len(prompt) % 2 else "no"
        if fault == "truncated":
            content = content[: len(content) // 2]
        elif fault == "prose":
            content = "I am sorry, I cannot produce JSON today."
        elif fault == "fenced":
            content = "Sure! Here you go:\n```json\n" + content + "\n```\nHope this helps."
        self._send(h, 200, self._completion(body, content, "stop", len(prompt) // 4, len(content) // 4))

    @staticmethod
    def _completion(body, content, finish_reason, prompt_tokens, completion_tokens):
        return {
            "id": "x",
            "object": "chat.completion",
            "created": 0,
            "model": body["model"],
            "choices": [{"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": finish_reason}],
            "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens, "total_tokens": 0},
        }

    @staticmethod
    def _send(h, status, payload, headers=None):
        data = json.dumps(payload).encode()
        h.send_response(status)
        h.send_header("Content-Type", "application/json")
        h.send_header("Content-Length", str(len(data)))
        for k, v in (headers or {}).items():
            h.send_header(k, v)
        h.end_headers()
        h.wfile.write(data)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.httpd.shutdown()
        self.httpd.server_close()
