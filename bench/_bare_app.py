"""The bare FastAPI app bench/serving.py measures the service against: one route returning {"ok": true}.

    python -m uvicorn _bare_app:app   (from bench/; bench/serving.py starts it itself)

The yardstick of issue 17: what the framework and server stack can do on this machine with no work behind
the route, so the service's figures read as a share of it.
"""

from __future__ import annotations

from fastapi import FastAPI

app = FastAPI()


@app.get("/")
async def root() -> dict[str, bool]:
    return {"ok": True}
