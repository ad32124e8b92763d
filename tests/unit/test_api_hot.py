"""``HotReads``: which requests it answers itself, what it answers, and what it leaves to the application."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from starlette.types import Message, Receive, Scope, Send

from elasticjob.api.hot import HotReads
from elasticjob.api.service import in_namespace
from elasticjob.model import NotFound
from elasticjob.security.scopes import EVERYTHING, JobScope

JOBS = [f"job{i:03d}" for i in range(250)]


class Jobs:
    """The two service calls HotReads makes, over a fixed list of jobs (pure: no state, no I/O)."""

    def job_view(self, name: str) -> bytes:
        if name not in JOBS:
            raise NotFound(f"job '{name}' does not exist")
        return json.dumps({"jobName": name}).encode()

    def jobs_json(self, start: int, stop: int, jobs: JobScope = EVERYTHING,
                  namespace: str | None = None) -> tuple[list[bytes], int]:
        names = jobs.only(JOBS)
        if namespace is not None:
            names = in_namespace(names, namespace)
        return [json.dumps({"jobName": n}).encode() for n in names[start:stop]], len(names)


class Application:
    """Stands for the FastAPI application: records what reached it and answers 299."""

    def __init__(self) -> None:
        self.seen: list[str] = []

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        self.seen.append(f"{scope['method']} {scope['path']}")
        await send({"type": "http.response.start", "status": 299, "headers": []})
        await send({"type": "http.response.body", "body": b""})


def call(method: str, path: str, query: bytes = b"", jobs: JobScope = EVERYTHING,
         ) -> tuple[int, dict[str, str], bytes, Application, Scope]:
    application = Application()
    hot = HotReads(application, Jobs())  # type: ignore[arg-type]
    scope: dict[str, Any] = {"type": "http", "method": method, "path": path, "query_string": query,
                             "state": {"job_scope": jobs}}
    sent: list[Message] = []

    async def receive() -> Message:
        return {"type": "http.request", "body": b""}

    async def send(message: Message) -> None:
        sent.append(message)

    asyncio.run(hot(scope, receive, send))
    start, body = sent
    headers = {k.decode(): v.decode() for k, v in start["headers"]}
    return start["status"], headers, body["body"], application, scope


def test_a_job_is_answered_from_the_service_without_the_application() -> None:
    for prefix in ("", "/api"):
        status, headers, body, application, scope = call("GET", f"{prefix}/job/jobs/job007")
        assert (status, json.loads(body)) == (200, {"jobName": "job007"})
        assert headers["content-type"] == "application/json"
        assert headers["content-length"] == str(len(body))
        assert application.seen == []
        assert scope["route"].path == f"{prefix}/job/jobs/{{jobName}}"  # what MetricsMiddleware counts


def test_a_page_carries_the_total_and_the_next_page_link() -> None:
    status, headers, body, application, scope = call("GET", "/job/jobs", b"page=2&per_page=100")
    assert status == 200 and application.seen == []
    assert [j["jobName"] for j in json.loads(body)] == JOBS[100:200]
    assert headers["x-total-count"] == "250"
    assert headers["link"] == '</job/jobs?page=3&per_page=100>; rel="next"'
    assert scope["route"].path == "/job/jobs"

    status, headers, body, _, scope = call("GET", "/api/job/jobs", b"page=3&per_page=100")
    assert [j["jobName"] for j in json.loads(body)] == JOBS[200:]
    assert "link" not in headers
    assert scope["route"].path == "/api/job/jobs"


def test_a_namespace_filter_is_answered_and_kept_in_the_next_page_link() -> None:
    status, headers, body, application, _ = call("GET", "/job/jobs", b"namespace=default&page=1&per_page=100")
    assert status == 200 and application.seen == []
    assert [j["jobName"] for j in json.loads(body)] == JOBS[:100]  # names without dots: namespace default
    assert headers["link"] == '</job/jobs?namespace=default&page=2&per_page=100>; rel="next"'
    status, headers, body, _, _ = call("GET", "/job/jobs", b"namespace=other")
    assert status == 200 and json.loads(body) == [] and headers["x-total-count"] == "0"
    status, _, _, application, _ = call("GET", "/job/jobs", b"namespace=a/b")  # not a name: the route's 422
    assert status == 299 and application.seen == ["GET /job/jobs"]


def test_without_paging_parameters_the_list_is_whole() -> None:
    status, headers, body, application, _ = call("GET", "/job/jobs")
    assert status == 200 and application.seen == []
    assert [j["jobName"] for j in json.loads(body)] == JOBS


def test_errors_and_other_requests_are_left_to_the_application() -> None:
    for method, path, query in [
        ("GET", "/job/jobs/nosuchjob", b""),  # NotFound: the application renders the 404
        ("GET", "/job/jobs/bad name!", b""),  # not a valid name
        ("GET", "/job/jobs/", b""),
        ("GET", "/job/jobs/job007/extra", b""),
        ("GET", "/job/jobs", b"page=0"),  # refused by the paging parser: the application's 400
        ("GET", "/job/jobs", b"page="),
        ("GET", "/job/jobs", b"per_page=5000"),
        ("POST", "/job/jobs", b""),
        ("DELETE", "/job/jobs/job007", b""),
        ("GET", "/app/list", b""),
        ("GET", "/jobs/job007", b""),
    ]:
        status, _, _, application, _ = call(method, path, query)
        assert status == 299, (method, path, query)
        assert application.seen == [f"{method} {path}"]


def test_a_list_for_a_user_confined_to_job_groups_is_left_to_the_route() -> None:
    status, _, _, application, _ = call("GET", "/job/jobs", jobs=JobScope.of(["job00"]))
    assert status == 299 and application.seen == ["GET /job/jobs"]
