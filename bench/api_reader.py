"""One API reader of the ``api`` benchmark, run as a process of its own.

``python -m bench.api_reader --url URL --jobs N --prefix P --start TS --end TS`` reads, from ``start`` to
``end`` (Unix seconds), ``GET /job/jobs/{name}`` of random jobs ``P{00000..N-1}`` and, every fourth
request, a random page of 100 (``GET /job/jobs?page=&per_page=100``), on one keep-alive connection. Prints
one JSON object: the latencies (ms) of each kind and the count of non-200 answers.
"""

from __future__ import annotations

import argparse
import json
import random
import time

import httpx


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", required=True)
    parser.add_argument("--jobs", type=int, required=True)
    parser.add_argument("--prefix", required=True)
    parser.add_argument("--start", type=float, required=True)
    parser.add_argument("--end", type=float, required=True)
    args = parser.parse_args()
    rng = random.Random()
    pages = max(1, args.jobs // 100)
    single: list[float] = []
    paged: list[float] = []
    errors = 0
    with httpx.Client(base_url=args.url, timeout=30) as client:
        time.sleep(max(0.0, args.start - time.time()))
        count = 0
        while time.time() < args.end:
            count += 1
            if count % 4 == 0:
                path, params, sink = "/job/jobs", {"page": rng.randint(1, pages), "per_page": 100}, paged
            else:
                path, params, sink = f"/job/jobs/{args.prefix}{rng.randrange(args.jobs):05d}", None, single
            began = time.perf_counter()
            response = client.get(path, params=params)
            sink.append((time.perf_counter() - began) * 1000)
            if response.status_code != 200:
                errors += 1
    print(json.dumps({"single_ms": single, "page_ms": paged, "errors": errors}))


if __name__ == "__main__":
    main()
