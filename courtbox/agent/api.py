"""The HTTP API (FastAPI): hearings and their live transcript, read from the store.

This first cut is read-only and serves the plain live-transcript page at ``/``; the clerk
console, the judge view, users and writes come with the agent-service issue. Reads use their
own connection to the database (WAL lets them run beside the writer thread), serialised by
a lock because FastAPI runs plain ``def`` endpoints in a thread pool. Partial lines are not
in the database (the final replaces them): ``partials`` is how the process that records
hands them over, one call per request.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from importlib import resources
from pathlib import Path

from fastapi import FastAPI, HTTPException, Query
from fastapi.responses import HTMLResponse

from courtbox import __version__
from courtbox.agent.store import Store

API = "/api/v1"


def _page() -> str:
    return (resources.files("courtbox.agent") / "web" / "live.html").read_text("utf-8")


PartialsProvider = Callable[[str], list[dict]]  # hearing id -> its current partial lines


def create_app(data_dir: Path, partials: PartialsProvider | None = None) -> FastAPI:
    app = FastAPI(title="courtbox", version=__version__, openapi_url=f"{API}/openapi.json",
                  docs_url=f"{API}/docs", redoc_url=None)
    store = Store.in_dir(data_dir)
    lock = threading.Lock()

    def hearing_or_404(hearing_id: str) -> dict:
        hearing = store.hearing(hearing_id)
        if hearing is None:
            raise HTTPException(404, detail=f"no hearing {hearing_id}")
        for key in ("panel", "parties"):
            hearing[key] = json.loads(hearing[key])
        return hearing

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    def live_page() -> str:
        return _page()

    @app.get(f"{API}/health")
    def health() -> dict:
        with lock:
            return {"status": "ok", "version": __version__,
                    "database": store.db.conn.execute("PRAGMA quick_check").fetchone()[0]}

    @app.get(f"{API}/hearings")
    def list_hearings() -> list[dict]:
        with lock:
            return [{k: h[k] for k in ("id", "case_number", "court", "room", "state",
                                       "wall_start", "created_at", "closed_at")}
                    for h in store.hearings()]

    @app.get(f"{API}/hearings/{{hearing_id}}")
    def get_hearing(hearing_id: str) -> dict:
        with lock:
            hearing = hearing_or_404(hearing_id)
            hearing["seats"] = store.seats(hearing_id)
            return hearing

    @app.get(f"{API}/hearings/{{hearing_id}}/transcript")
    def transcript(hearing_id: str,
                   after: int = Query(0, ge=0, description="Only lines with id > after."),
                   ) -> list[dict]:
        with lock:
            hearing_or_404(hearing_id)
            return [{**line, "words": json.loads(line["words"])}
                    for line in store.finals(hearing_id, after_id=after)]

    @app.get(f"{API}/hearings/{{hearing_id}}/partials")
    def partial_lines(hearing_id: str) -> list[dict]:
        """What each seat is saying right now, tentatively: ``text`` with its first
        ``stable`` characters agreed by two successive hypotheses."""
        with lock:
            hearing_or_404(hearing_id)
        return partials(hearing_id) if partials is not None else []

    app.state.store = store
    return app
