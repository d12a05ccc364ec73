"""JSON responses rendered by orjson and handed back as they are.

A route that returns a plain dict goes through FastAPI's ``jsonable_encoder`` (a Python
walk over every value) and then ``json.dumps``; ``orjson.dumps`` does the same in C, on
routes whose whole budget is a few milliseconds of CPU. Routes build their body from JSON types
(numpy scalars allowed) and return ``OrjsonResponse(body)``.
"""

from __future__ import annotations

from typing import Any

import orjson
from fastapi.responses import JSONResponse


class OrjsonResponse(JSONResponse):
    def render(self, content: Any) -> bytes:
        # non-finite floats become null (json.dumps would write NaN, which is not JSON)
        return orjson.dumps(content, option=orjson.OPT_SERIALIZE_NUMPY)
