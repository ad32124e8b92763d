"""One API reader of the ``api`` benchmark, run as a process of its own.

``python -m bench.api_reader --url URL --jobs N --prefix P --rate R --start TS --end TS`` reads, from
``start`` to ``end`` (Unix seconds), ``GET /job/jobs/{name}`` of random jobs ``P{00000..N-1}`` and, every
fourth request, a random page of 100 (``GET /job/jobs?page=&per_page=100``), on one keep-alive connection.

The load is offered at a fixed rate (``R`` reads a second), not as fast as answers come: the benchmark asks
whether the masters serve the target rate on time while the scheduler keeps its own, and a closed loop on
a 2-core machine would only measure who wins the CPU. Each read's latency counts from its planned start,
so a read that waits for a late one before it is counted late too (no coordinated omission).

The client is ``elasticjob.dev.httpload.Connection``, a few lines over a socket, because the load
generator shares the machine with what it measures: httpx spends ~1.9 ms of CPU per request here, this
~0.05 ms. Each answer is checked: status 200, and the job's name in a job's answer, the page's number of
jobs in a page.

Reads still due when the window closes are not sent: a master that cannot keep up shows as a lower rate.
Prints one JSON object: the latencies (ms) of each kind, the count of wrong answers and of reads not sent.
"""

from __future__ import annotations

import argparse
import json
import random
import time

from elasticjob.dev.httpload import Connection


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", required=True)
    parser.add_argument("--jobs", type=int, required=True)
    parser.add_argument("--prefix", required=True)
    parser.add_argument("--rate", type=float, required=True, help="reads per second offered")
    parser.add_argument("--start", type=float, required=True)
    parser.add_argument("--end", type=float, required=True)
    args = parser.parse_args()
    rng = random.Random()
    pages = max(1, args.jobs // 100)
    single: list[float] = []
    paged: list[float] = []
    errors = 0
    connection = Connection(args.url)
    interval = 1.0 / args.rate
    # Planned starts on the wall clock, latencies on the monotonic one.
    time.sleep(max(0.0, args.start - time.time()))
    origin = time.perf_counter() - (time.time() - args.start)
    finish = origin + (args.end - args.start)
    index = 0
    while (planned := origin + index * interval) < finish and time.perf_counter() < finish:
        index += 1
        time.sleep(max(0.0, planned - time.perf_counter()))
        if index % 4 == 0:
            page = rng.randint(1, pages)
            status, body = connection.get(f"/job/jobs?page={page}&per_page=100")
            paged.append((time.perf_counter() - planned) * 1000)
            right = body.count(b'"jobName":') == min(100, args.jobs - (page - 1) * 100)
        else:
            name = f"{args.prefix}{rng.randrange(args.jobs):05d}"
            status, body = connection.get(f"/job/jobs/{name}")
            single.append((time.perf_counter() - planned) * 1000)
            right = f'"jobName":"{name}"'.encode() in body
        if status != 200 or not right:
            errors += 1
    planned_reads = int((args.end - args.start) * args.rate)
    print(json.dumps({"single_ms": single, "page_ms": paged, "errors": errors,
                      "not_sent": planned_reads - len(single) - len(paged)}))


if __name__ == "__main__":
    main()
