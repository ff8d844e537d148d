"""The insurance-eligibility service the backend calls for patient records: a real dependency whose 5xx
rate the ``error-burst`` fault turns up through the knob file."""

from __future__ import annotations

import argparse
import random
import sys

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from drills.service.knobs import KnobReader


def create_app(knobs_file: str | None, seed: int = 0) -> Starlette:
    knobs = KnobReader(knobs_file)
    rng = random.Random(seed)

    async def eligibility(request: Request) -> JSONResponse:
        if rng.random() < knobs.get().upstream_error_fraction:
            return JSONResponse({"error": "eligibility backend unavailable"}, status_code=503)
        return JSONResponse({"patient": int(request.path_params["pid"]), "status": "eligible"})

    async def health(_: Request) -> JSONResponse:
        return JSONResponse({"status": "ok"})

    return Starlette(routes=[Route("/eligibility/{pid:int}", eligibility), Route("/health", health)])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="drills.service.upstream")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--knobs-file")
    args = parser.parse_args(argv)
    import uvicorn

    uvicorn.run(create_app(args.knobs_file), host=args.host, port=args.port, log_level="warning",
                access_log=False)
    return 0


if __name__ == "__main__":
    sys.exit(main())
