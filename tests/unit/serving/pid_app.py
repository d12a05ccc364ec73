"""A bare ASGI app for the API process supervisor's tests: ``/`` answers with the process id
(and counts the request), ``/metrics`` with what the API's ``/metrics`` would."""

import os

from prometheus_client import Counter

from streamrec.serving.metrics_exposition import metrics_payload

ANSWERED = Counter("pid_app_answered_total", "Requests to / answered")


async def app(scope, receive, send):
    if scope["type"] != "http":
        return
    if scope["path"] == "/metrics":
        body = metrics_payload()
    else:
        ANSWERED.inc()
        body = str(os.getpid()).encode()
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", b"text/plain"),
                            (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})
