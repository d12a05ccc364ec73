"""A LOCAL STAND-IN for the paid LLM APIs, for tests and benches only: not a model.

It speaks the real wire protocols, so the real ``openai`` and ``anthropic`` SDKs run
against it unchanged:

* OpenAI chat completions: ``POST /v1/chat/completions`` (``Authorization: Bearer``),
  answering a ``chat.completion`` object with ``usage.prompt_tokens`` and
  ``usage.completion_tokens``; errors as ``{"error": {...}}``.
* Anthropic Messages: ``POST /v1/messages`` (the key as ``x-api-key`` or, as the 2.x
  SDK sends it, ``Authorization: Bearer``; ``anthropic-version`` required), answering
  a ``message`` with ``content`` text blocks and ``usage.input_tokens`` /
  ``usage.output_tokens``; errors as ``{"type": "error", "error": {...}}``.

Its answers are deterministic so tests can assert outcomes: a scripted answer per
query and model (``StandInModel.answers``), else a toy rewrite (``toy_rewrite``: drops
a conversational opening and a few filler words, expands a few abbreviations). Per
model it can also be slow (``delay_s``) or fail (``status``). Token counts are words and
punctuation marks of the prompt and the answer (a stand-in for a tokenizer), reported
as usage like a real server. ``calls`` records every request.

Runs uvicorn in a background thread on a free loopback port.
"""

from __future__ import annotations

import asyncio
import re
import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from streamrec.platform.processes import free_port

_TOKEN = re.compile(r"\w+|[^\w\s]")
_OPENING = re.compile(
    r"^\s*(hi|hello)?[\s,]*(i\s*(am|'m)\s+(looking|searching)\s+for|i\s+(need|want)|"
    r"looking\s+for|do\s+you\s+(have|sell)|show\s+me|where\s+can\s+i\s+(find|buy)|"
    r"can\s+you\s+find(\s+me)?)\s+", re.IGNORECASE)
_FILLER = {"a", "an", "the", "some", "please", "good", "nice", "cheap", "really", "new"}
_ABBREVIATIONS = {"w/": "with", "ss": "stainless steel", "blk": "black", "wht": "white",
                  "galv": "galvanized", "alum": "aluminum", "pkg": "pack", "lt": "light",
                  "sz": "size", "dbl": "double"}


def count_tokens(text: str) -> int:
    """Words and punctuation marks: the stand-in's tokenizer."""
    return len(_TOKEN.findall(text))


def toy_rewrite(query: str) -> str:
    """The stand-in's default answer; a toy, not a language model."""
    text = _OPENING.sub("", query.strip().lower())
    words = [_ABBREVIATIONS.get(w, w) for w in text.replace("-", " ").split()]
    kept = [w for w in words if w not in _FILLER] or words
    return " ".join(kept).strip(" ?.!")


@dataclass
class StandInModel:
    answers: dict[str, str] = field(default_factory=dict)
    """query -> the rewrite to answer (else ``toy_rewrite``)."""
    delay_s: float = 0.0
    status: int | None = None
    """Answer every request with this HTTP error status."""


@dataclass
class StandInCall:
    protocol: str
    """``openai`` or ``anthropic``."""
    model: str
    query: str
    answer: str | None
    input_tokens: int
    output_tokens: int
    status: int


class StandInLlmServer:
    """The stand-in for the OpenAI-compatible and Anthropic APIs (see the module doc)."""

    def __init__(self, models: dict[str, StandInModel] | None = None,
                 api_key: str = "standin-key") -> None:
        self.models = models if models is not None else {}
        self.api_key = api_key
        self.calls: list[StandInCall] = []
        self.port = free_port()
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def openai_base_url(self) -> str:
        return f"{self.url}/v1"

    def model(self, name: str) -> StandInModel:
        return self.models.get(name) or self.models.setdefault(name, StandInModel())

    def calls_of(self, model: str) -> list[StandInCall]:
        return [c for c in self.calls if c.model == model]

    # --- lifecycle --------------------------------------------------------------------------
    def start(self) -> StandInLlmServer:
        config = uvicorn.Config(self.app(), host="127.0.0.1", port=self.port,
                                log_level="warning", lifespan="off", access_log=False)
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, name="llm-standin",
                                        daemon=True)
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError("the LLM stand-in server did not start")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=10)

    def __enter__(self) -> StandInLlmServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # --- protocol ---------------------------------------------------------------------------
    def _answer(self, model: str, query: str, max_tokens: int | None
                ) -> tuple[str, int, bool]:
        """(text, output tokens, truncated by max_tokens)."""
        text = self.model(model).answers.get(query, toy_rewrite(query))
        tokens = _TOKEN.findall(text)
        if max_tokens is not None and len(tokens) > max_tokens:
            return " ".join(tokens[:max_tokens]), max_tokens, True
        return text, len(tokens), False

    async def _behave(self, model: str) -> int | None:
        behaviour = self.model(model)
        if behaviour.delay_s:
            await asyncio.sleep(behaviour.delay_s)
        return behaviour.status

    def app(self) -> FastAPI:
        app = FastAPI(title="LLM stand-in (tests only)")

        @app.post("/v1/chat/completions")
        async def chat_completions(request: Request) -> JSONResponse:
            if request.headers.get("authorization") != f"Bearer {self.api_key}":
                return JSONResponse({"error": {"message": "Incorrect API key provided",
                                               "type": "invalid_request_error",
                                               "code": "invalid_api_key"}}, 401)
            body = await request.json()
            model = body["model"]
            messages: list[dict[str, Any]] = body["messages"]
            query = next((m["content"] for m in reversed(messages) if m["role"] == "user"), "")
            prompt_tokens = sum(count_tokens(str(m["content"])) for m in messages)
            status = await self._behave(model)
            if status is not None:
                self.calls.append(StandInCall("openai", model, query, None, 0, 0, status))
                return JSONResponse({"error": {"message": "stand-in failure",
                                               "type": "server_error", "code": None}}, status)
            text, out_tokens, cut = self._answer(
                model, query, body.get("max_completion_tokens") or body.get("max_tokens"))
            self.calls.append(StandInCall("openai", model, query, text, prompt_tokens,
                                          out_tokens, 200))
            return JSONResponse({
                "id": f"chatcmpl-{uuid.uuid4().hex}", "object": "chat.completion",
                "created": int(time.time()), "model": model,
                "choices": [{"index": 0, "logprobs": None,
                             "finish_reason": "length" if cut else "stop",
                             "message": {"role": "assistant", "content": text}}],
                "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": out_tokens,
                          "total_tokens": prompt_tokens + out_tokens}})

        @app.post("/v1/messages")
        async def messages(request: Request) -> JSONResponse:
            def error(status: int, kind: str, message: str) -> JSONResponse:
                return JSONResponse({"type": "error",
                                     "error": {"type": kind, "message": message}}, status)

            # SDKs before 2.x send x-api-key; anthropic 2.14 sends Authorization: Bearer
            keys = {request.headers.get("x-api-key"),
                    request.headers.get("authorization", "").removeprefix("Bearer ")}
            if self.api_key not in keys:
                return error(401, "authentication_error", "invalid x-api-key")
            if not request.headers.get("anthropic-version"):
                return error(400, "invalid_request_error", "anthropic-version header is required")
            body = await request.json()
            if "max_tokens" not in body:
                return error(400, "invalid_request_error", "max_tokens: Field required")
            model = body["model"]
            system = body.get("system") or ""
            if isinstance(system, list):
                system = " ".join(block.get("text", "") for block in system)
            turns: list[dict[str, Any]] = body["messages"]

            def text_of(content: Any) -> str:
                if isinstance(content, str):
                    return content
                return " ".join(b.get("text", "") for b in content if b.get("type") == "text")

            query = next((text_of(m["content"]) for m in reversed(turns)
                          if m["role"] == "user"), "")
            input_tokens = count_tokens(system) + sum(count_tokens(text_of(m["content"]))
                                                      for m in turns)
            status = await self._behave(model)
            if status is not None:
                self.calls.append(StandInCall("anthropic", model, query, None, 0, 0, status))
                return error(status, "api_error" if status >= 500 else "invalid_request_error",
                             "stand-in failure")
            text, out_tokens, cut = self._answer(model, query, body["max_tokens"])
            self.calls.append(StandInCall("anthropic", model, query, text, input_tokens,
                                          out_tokens, 200))
            return JSONResponse({
                "id": f"msg_{uuid.uuid4().hex[:24]}", "type": "message", "role": "assistant",
                "model": model, "content": [{"type": "text", "text": text}],
                "stop_reason": "max_tokens" if cut else "end_turn", "stop_sequence": None,
                "usage": {"input_tokens": input_tokens, "output_tokens": out_tokens}})

        return app
