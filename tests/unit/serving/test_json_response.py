import json
import math

import numpy as np

from streamrec.serving.json_response import OrjsonResponse


def test_renders_what_fastapi_would_and_stays_valid_json() -> None:
    body = {"items": [{"sku": "a", "score": np.float32(0.5), "rank": np.int64(3),
                       "path": ("Tools", "Drills"), "brand": None}],
            "timings_ms": {"total": 1.25}, "nan": math.nan}
    response = OrjsonResponse(body)
    assert response.media_type == "application/json"
    decoded = json.loads(response.body)  # strict JSON: NaN became null, not a bare NaN
    assert decoded == {"items": [{"sku": "a", "score": 0.5, "rank": 3,
                                  "path": ["Tools", "Drills"], "brand": None}],
                       "timings_ms": {"total": 1.25}, "nan": None}
    assert response.headers["content-length"] == str(len(response.body))
