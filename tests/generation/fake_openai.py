"""A tiny OpenAI-compatible server on 127.0.0.1 that answers from a script of responses."""

from __future__ import annotations

import contextlib
import json
import re
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Reply:
    status: int = 200
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    delay_s: float = 0.0


@dataclass
class Seen:
    path: str
    headers: dict[str, str]
    body: dict[str, Any]
    at: float


def completion(content: str, *, prompt_tokens: int = 321, completion_tokens: int = 123) -> Reply:
    return Reply(
        body={
            "id": "chatcmpl-fake",
            "object": "chat.completion",
            "created": 1_700_000_000,
            "model": "fake-model-2024",
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": content},
                    "finish_reason": "stop",
                }
            ],
            "usage": {
                "prompt_tokens": prompt_tokens,
                "completion_tokens": completion_tokens,
                "total_tokens": prompt_tokens + completion_tokens,
            },
        }
    )


def error(status: int, message: str = "upstream error", **headers: str) -> Reply:
    body = {"error": {"message": message, "type": "server_error", "code": None}}
    return Reply(status=status, body=body, headers=headers)


def context_length_error(style: str = "openai") -> Reply:
    """What a server says when the prompt exceeds the model's context."""
    if style == "llama.cpp":  # llama.cpp server (and xllamacpp)
        body = {
            "error": {
                "code": 400,
                "message": "the request exceeds the available context size, try increasing it",
                "type": "exceed_context_size_error",
            }
        }
        return Reply(status=400, body=body)
    reply = error(400, "This model's maximum context length is 8192 tokens.")
    reply.body["error"]["code"] = "context_length_exceeded"
    reply.body["error"]["type"] = "invalid_request_error"
    return reply


def placeholders(kind: str, networks: tuple[str, ...] = ()) -> dict[str, Any]:
    """The answer a small model gave: the shape asked for, filled with the shape's names."""
    fields: dict[str, Any] = {
        "summary": "string",
        "key_points": ["...", "...", "..."],
        "meta_description": "<meta description>",
        "keywords": ["keyword 1", "keyword 2", "keyword 3"],
        "title_suggestions": ["Title 1", "Title 2"],
        "social_posts": {n: "post" for n in networks},
    }
    wanted = {
        "summary": ["summary"],
        "key_points": ["key_points"],
        "seo": ["meta_description", "keywords", "title_suggestions"],
        "social_posts": ["social_posts"],
    }.get(kind, list(fields))
    return {k: fields[k] for k in wanted}


def echo_prompt(request: dict[str, Any]) -> Reply:
    """Answer every field with its own description from the prompt: a model echoing back."""
    prompt = request["messages"][-1]["content"]
    answer: dict[str, Any] = {}
    for name, description in re.findall(r'^- "(\w+)": (.+)$', prompt, re.MULTILINE):
        answer[name] = description
    return completion(json.dumps(answer))


class FakeOpenAI:
    def __init__(self) -> None:
        self.script: list[Reply] = []
        self.requests: list[Seen] = []
        self.fallback = error(500, "script exhausted")
        # Computes the reply from the request when set (echoing servers).
        self.responder: Callable[[dict[str, Any]], Reply] | None = None
        # Answer 400 to a json_schema response_format, as servers without structured output do.
        self.refuse_json_schema = False

    def next_reply(self, body: dict[str, Any]) -> Reply:
        schema = (body.get("response_format") or {}).get("type") == "json_schema"
        if self.refuse_json_schema and schema:
            return error(400, "response_format type json_schema is not supported")
        if self.responder is not None:
            return self.responder(body)
        return self.script.pop(0) if self.script else self.fallback


def _handler(fake: FakeOpenAI) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            pass

        def do_POST(self) -> None:
            length = int(self.headers.get("content-length", 0))
            body = json.loads(self.rfile.read(length) or b"{}")
            headers = {k.lower(): v for k, v in self.headers.items()}
            fake.requests.append(Seen(self.path, headers, body, time.monotonic()))
            reply = fake.next_reply(body)
            if reply.delay_s:
                time.sleep(reply.delay_s)
            payload = json.dumps(reply.body).encode()
            self.send_response(reply.status)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(payload)))
            for name, value in reply.headers.items():
                self.send_header(name.replace("_", "-"), value)
            self.end_headers()
            with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                self.wfile.write(payload)  # fails when the client gave up (timeout test)

    return Handler


@contextmanager
def serve() -> Iterator[tuple[FakeOpenAI, str]]:
    fake = FakeOpenAI()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(fake))
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, args=(0.02,), daemon=True)
    thread.start()
    try:
        yield fake, f"http://127.0.0.1:{server.server_address[1]}/v1"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
