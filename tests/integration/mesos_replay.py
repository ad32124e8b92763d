"""A Mesos master stand-in on 127.0.0.1 that replays the documented v1 scheduler API messages (mesos/*.json).

It answers SUBSCRIBE with a RecordIO stream (SUBSCRIBED, OFFERS, HEARTBEAT, then what the exchange calls
for), records every other call, and checks that each carries the stream's ``Mesos-Stream-Id`` and the
framework id (a call that does not is answered 400 and kept in ``violations``). What it does per call:

- ACCEPT: each launched task gets UPDATE ``TASK_RUNNING``; once that is acknowledged, ``final_state``
  (``TASK_FINISHED``; ``TASK_UNREACHABLE`` for the partition scenario). The agent is offered again
  ``reoffer_after`` seconds later (what its tasks do not use), as is a declined agent.
- RECONCILE: an UPDATE ``TASK_RUNNING`` (reason REASON_RECONCILIATION, no uuid) per task named.
- KILL: UPDATE ``TASK_KILLED``.

Thread-safe; ``drop()`` ends the current stream (the client must subscribe again).
"""

from __future__ import annotations

import copy
import json
import queue
import threading
import time
import uuid
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from elasticjob.mesos.messages import encode_record

EXAMPLES = Path(__file__).parent / "mesos"
FRAMEWORK_ID = "12220-3440-12532-2345"
AGENT_ID = "12220-3440-12532-S1233"


def example(name: str) -> dict[str, Any]:
    value: dict[str, Any] = json.loads((EXAMPLES / f"{name}.json").read_text())
    return value


class ReplayMesos:
    def __init__(self, final_state: str = "TASK_FINISHED", reoffer_after: float = 0.3,
                 cpus: float = 2.0, mem: float = 1024.0) -> None:
        self.final_state = final_state
        self.reoffer_after = reoffer_after
        self.cpus, self.mem = cpus, mem
        self.lock = threading.Lock()
        self.subscribes: list[dict[str, Any]] = []
        self.calls: list[dict[str, Any]] = []
        self.violations: list[str] = []
        self.stream_id: str | None = None
        self._stream: queue.Queue[dict[str, Any] | None] | None = None
        self._offer_seq = 0
        self._pending_final: dict[str, tuple[str, str]] = {}  # uuid of RUNNING -> (task id, agent id)
        self._timers: list[threading.Timer] = []
        self._stopped = False
        replay = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", "0"))) or b"{}")
                if self.path != "/api/v1/scheduler":
                    self.send_error(404)
                    return
                if body.get("type") == "SUBSCRIBE":
                    replay._subscribe(self, body)
                else:
                    status = replay._call(body, self.headers.get("Mesos-Stream-Id"))
                    self.send_response(status)
                    self.send_header("Content-Length", "0")
                    self.end_headers()

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> ReplayMesos:
        self._thread.start()
        return self

    def __exit__(self, *_: Any) -> None:
        self._stopped = True
        self.drop()
        for timer in self._timers:
            timer.cancel()
        self.server.shutdown()
        self.server.server_close()

    # ---- what tests look at ----------------------------------------------------------------------
    def calls_of(self, kind: str) -> list[dict[str, Any]]:
        with self.lock:
            return [c for c in self.calls if c.get("type") == kind]

    def wait_for(self, check: Callable[[], Any], timeout: float = 10.0) -> Any:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            value = check()
            if value:
                return value
            time.sleep(0.02)
        raise AssertionError(f"timed out; calls: {[c.get('type') for c in self.calls]}; "
                             f"violations: {self.violations}")

    def drop(self) -> None:
        """End the current stream (a network cut, a Mesos master failover)."""
        with self.lock:
            stream, self._stream = self._stream, None
            self.stream_id = None
        if stream is not None:
            stream.put(None)

    def push(self, event: dict[str, Any]) -> None:
        with self.lock:
            stream = self._stream
        if stream is not None:
            stream.put(event)

    # ---- the stream ------------------------------------------------------------------------------
    def _subscribe(self, handler: BaseHTTPRequestHandler, body: dict[str, Any]) -> None:
        self.drop()
        stream: queue.Queue[dict[str, Any] | None] = queue.Queue()
        stream_id = str(uuid.uuid4())
        with self.lock:
            self.subscribes.append(body)
            self._stream, self.stream_id = stream, stream_id
        subscribed = example("subscribed")
        given = body.get("framework_id", {}).get("value")
        subscribed["subscribed"]["framework_id"]["value"] = given or FRAMEWORK_ID
        handler.send_response(200)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Mesos-Stream-Id", stream_id)
        handler.send_header("Transfer-Encoding", "chunked")
        handler.end_headers()
        stream.put(subscribed)
        stream.put(self._offers())
        stream.put(example("heartbeat"))
        try:
            while not self._stopped:
                try:
                    event = stream.get(timeout=0.2)
                except queue.Empty:
                    continue
                if event is None:
                    break
                record = encode_record(event)
                handler.wfile.write(f"{len(record):x}\r\n".encode() + record + b"\r\n")
                handler.wfile.flush()
            handler.wfile.write(b"0\r\n\r\n")
            handler.wfile.flush()
        except OSError:
            pass
        handler.close_connection = True

    def _offers(self, cpus: float | None = None, mem: float | None = None) -> dict[str, Any]:
        event = example("offers")
        offer = event["offers"]["offers"][0]
        with self.lock:
            self._offer_seq += 1
            offer["id"]["value"] = f"12214-23523-O{self._offer_seq}"
        for resource in offer["resources"]:
            if resource["name"] == "cpus":
                resource["scalar"]["value"] = self.cpus if cpus is None else cpus
            elif resource["name"] == "mem":
                resource["scalar"]["value"] = self.mem if mem is None else mem
        return event

    def _later(self, delay: float, action: Callable[[], None]) -> None:
        timer = threading.Timer(delay, action)
        timer.daemon = True
        self._timers.append(timer)
        timer.start()

    def update(self, task_id: str, state: str, agent_id: str = AGENT_ID, *, with_uuid: bool = True,
               reason: str = "") -> str:
        event = copy.deepcopy(example("update"))
        status = event["update"]["status"]
        status["task_id"]["value"] = task_id
        status["state"] = state
        status["agent_id"]["value"] = agent_id
        status["timestamp"] = time.time()
        if reason:
            status["reason"] = reason
        uid = ""
        if with_uuid:
            uid = str(uuid.uuid4())
            status["uuid"] = uid
        else:
            del status["uuid"]
        self.push(event)
        return uid

    # ---- calls -----------------------------------------------------------------------------------
    def _call(self, body: dict[str, Any], stream_id: str | None) -> int:
        kind = body.get("type", "")
        with self.lock:
            self.calls.append(body)
            expected = self.stream_id
        if stream_id is None or stream_id != expected:
            self.violations.append(f"{kind}: Mesos-Stream-Id {stream_id!r}, expected {expected!r}")
            return 400
        if body.get("framework_id", {}).get("value") is None:
            self.violations.append(f"{kind}: no framework_id")
            return 400
        section = body.get(kind.lower(), {})
        if kind == "ACCEPT":
            used_cpus = used_mem = 0.0
            for operation in section.get("operations", []):
                for info in operation.get("launch", {}).get("task_infos", []):
                    resources = {r["name"]: r["scalar"]["value"] for r in info.get("resources", [])}
                    used_cpus += resources.get("cpus", 0.0)
                    used_mem += resources.get("mem", 0.0)
                    task_id = info["task_id"]["value"]
                    uid = self.update(task_id, "TASK_RUNNING", info["agent_id"]["value"])
                    with self.lock:
                        self._pending_final[uid] = (task_id, info["agent_id"]["value"])
            left = (max(self.cpus - used_cpus, 0.0), max(self.mem - used_mem, 0.0))
            self._later(self.reoffer_after, lambda: self.push(self._offers(*left)))
        elif kind == "DECLINE":
            self._later(self.reoffer_after, lambda: self.push(self._offers()))
        elif kind == "ACKNOWLEDGE":
            with self.lock:
                pending = self._pending_final.pop(section.get("uuid", ""), None)
            if pending is not None:
                task_id, agent_id = pending
                reason = "REASON_AGENT_DISCONNECTED" if self.final_state == "TASK_UNREACHABLE" else ""
                self.update(task_id, self.final_state, agent_id, reason=reason)
        elif kind == "RECONCILE":
            for task in section.get("tasks", []):
                self.update(task["task_id"]["value"], "TASK_RUNNING",
                            task.get("agent_id", {}).get("value", AGENT_ID), with_uuid=False,
                            reason="REASON_RECONCILIATION")
        elif kind == "KILL":
            self.update(section["task_id"]["value"], "TASK_KILLED",
                        section.get("agent_id", {}).get("value", AGENT_ID))
        return 202
