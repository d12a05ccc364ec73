import asyncio

from streamrec.serving.body_size_limit import BodySizeLimitMiddleware


async def _call(middleware: BodySizeLimitMiddleware, chunks: list[bytes],
                content_length: int | None) -> list[dict]:
    sent: list[dict] = []
    queue = [{"type": "http.request", "body": c, "more_body": i < len(chunks) - 1}
             for i, c in enumerate(chunks)]

    async def receive() -> dict:
        return queue.pop(0)

    async def send(message: dict) -> None:
        sent.append(message)

    headers = [] if content_length is None else [(b"content-length", str(content_length).encode())]
    await middleware({"type": "http", "headers": headers}, receive, send)
    return sent


async def _echo_app(scope, receive, send) -> None:
    body = b""
    while True:
        message = await receive()
        body += message.get("body", b"")
        if not message.get("more_body"):
            break
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": body})


def test_small_bodies_pass() -> None:
    sent = asyncio.run(_call(BodySizeLimitMiddleware(_echo_app, 10), [b"12345"], 5))
    assert sent[0]["status"] == 200 and sent[1]["body"] == b"12345"


def test_declared_length_over_the_limit_is_413_without_reading() -> None:
    sent = asyncio.run(_call(BodySizeLimitMiddleware(_echo_app, 10), [b"x" * 11], 11))
    assert sent[0]["status"] == 413


def test_streamed_body_over_the_limit_is_413() -> None:
    sent = asyncio.run(_call(BodySizeLimitMiddleware(_echo_app, 10), [b"123456", b"123456"],
                             None))
    assert sent[0]["status"] == 413
