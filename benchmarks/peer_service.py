"""The service a user would write by hand instead of mlship's bento: Starlette on uvicorn, for `serving.py`.

It loads the same pickled pipeline (the cache entry's model file), answers
POST /predict_proba with {"records": [...]} as the bento does (one {class: probability}
object per record), and runs with the bento's capacity: one process, THREADS predictions
at once, the math libraries limited to MATH_THREADS each (set before NumPy is imported).
No schema validation, no metrics, no limits: the cheapest honest peer.

Usage: python peer_service.py MODEL_FILE PORT THREADS MATH_THREADS
"""

from __future__ import annotations

import os
import sys

MODEL_FILE, PORT, THREADS, MATH_THREADS = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
for variable in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[variable] = MATH_THREADS

import anyio  # noqa: E402
import cloudpickle  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import uvicorn  # noqa: E402
from starlette.applications import Starlette  # noqa: E402
from starlette.requests import Request  # noqa: E402
from starlette.responses import JSONResponse, PlainTextResponse  # noqa: E402
from starlette.routing import Route  # noqa: E402

with open(MODEL_FILE, "rb") as stream:
    MODEL = cloudpickle.load(stream)
CLASSES = [str(label) for label in MODEL.classes_]
FEATURES = list(MODEL.feature_names_in_)
LIMITER = anyio.CapacityLimiter(THREADS)


def predict(records: list[dict]) -> list[dict]:
    frame = pd.DataFrame.from_records(records, columns=FEATURES).fillna(np.nan)
    return [dict(zip(CLASSES, row)) for row in MODEL.predict_proba(frame).tolist()]


async def predict_proba(request: Request) -> JSONResponse:
    body = await request.json()
    return JSONResponse(await anyio.to_thread.run_sync(predict, body["records"], limiter=LIMITER))


async def readyz(_: Request) -> PlainTextResponse:
    return PlainTextResponse("\n")


app = Starlette(routes=[Route("/predict_proba", predict_proba, methods=["POST"]), Route("/readyz", readyz)])

if __name__ == "__main__":
    uvicorn.run(app, host="127.0.0.1", port=PORT, workers=1, log_level="warning", access_log=False)
