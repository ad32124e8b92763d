"""API authentication and roles on a real master with an auth file: every route, for every role.

The route table is the running master's own OpenAPI document (with the ``/api`` and
``/service/metronome`` twins of its routes); what each route needs is ``security.roles`` (its own unit
test pins that table down). Here: anonymous callers get 401 wherever anything is needed, a viewer 403 on
every write, an operator 403 on every admin route, and the roles allowed are never refused.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from elasticjob.security.roles import Action, required_action
from elasticjob.security.secrets import hash_secret, verify_secret
from tests.e2e.conftest import Cluster

USERS = {"root": "admin", "ops": "operator", "eve": "viewer"}
PASSWORD = "a long enough password"
TOKEN = "bot-token-0123456789"
PARAM = re.compile(r"\{([^}]+)\}")
REFUSED = (401, 403)


def auth_file(tmp_path: Path) -> Path:
    hashed = hash_secret(PASSWORD)
    users = [f'[[users]]\nname = "{name}"\nrole = "{role}"\npassword_hash = "{hashed}"\n'
             for name, role in USERS.items()]
    users.append(f'[[users]]\nname = "bot"\nrole = "viewer"\ntoken_hash = "{hash_secret(TOKEN)}"\n')
    path = tmp_path / "auth.toml"
    path.write_text("\n".join(users))
    return path


def routes(spec: dict[str, object]) -> list[tuple[str, str]]:
    found = []
    for template, operations in spec["paths"].items():  # type: ignore[attr-defined]
        twins = [template]
        if template.startswith(("/job", "/app", "/cluster")):
            twins.append("/api" + template)
        if template.startswith("/v1/"):
            twins.append("/service/metronome" + template)
        for method in operations:
            found.extend((method.upper(), PARAM.sub(lambda m: f"x-{m.group(1)}", t)) for t in twins)
    return found


def test_every_route_answers_each_role_as_the_table_says(cluster: Cluster, tmp_path: Path) -> None:
    master = cluster.start_master("--auth-file", str(auth_file(tmp_path)))
    clients = {"anonymous": httpx.Client(base_url=master.url, timeout=15)}
    for name in USERS:
        clients[name] = httpx.Client(base_url=master.url, timeout=15, auth=(name, PASSWORD))
    try:
        spec = clients["root"].get("/openapi.json").json()
        table = routes(spec)
        assert len(table) > 100, len(table)
        wrong = []
        for method, path in table:
            action = required_action(method, path)
            for who, client in clients.items():
                status = client.request(method, path, json={} if method in ("POST", "PUT") else None).status_code
                role = USERS.get(who)
                if action is None:
                    allowed = True
                elif role is None:
                    allowed = False
                else:
                    allowed = {"viewer": {Action.READ}, "operator": {Action.READ, Action.OPERATE}}.get(
                        role, set(Action)).__contains__(action)
                expected_refusal = 401 if role is None else 403
                if allowed and status in REFUSED or not allowed and status != expected_refusal:
                    wrong.append((method, path, who, status))
        assert not wrong, wrong
    finally:
        for client in clients.values():
            client.close()


def test_credentials_tokens_and_what_a_refusal_says(cluster: Cluster, tmp_path: Path) -> None:
    master = cluster.start_master("--auth-file", str(auth_file(tmp_path)))
    follower = cluster.start_master("--auth-file", str(auth_file(tmp_path)))
    with httpx.Client(base_url=master.url, timeout=15) as client:
        anonymous = client.get("/job/jobs")
        assert anonymous.status_code == 401 and anonymous.headers["www-authenticate"].startswith("Basic")
        assert anonymous.json()["message"].startswith("authentication required")
        # The console (its header) gets no Basic challenge: the browser would open its own dialog.
        console = client.get("/job/jobs", headers={"X-ElasticJob-Console": "1"})
        assert console.status_code == 401 and "www-authenticate" not in console.headers
        assert client.get("/job/jobs", auth=("root", "not it")).status_code == 401
        assert client.get("/job/jobs", headers={"Authorization": "Digest x"}).status_code == 401
        assert client.get("/job/jobs", headers={"Authorization": f"Bearer {TOKEN}"}).status_code == 200
        refused = client.post("/job/register", json={}, headers={"Authorization": f"Bearer {TOKEN}"})
        assert refused.status_code == 403 and "bot" in refused.json()["message"]
        assert client.get("/ping").text == "pong" and client.get("/").status_code == 200  # public
        assert client.get("/console/app.js").status_code == 200
    # A follower passes the caller's credentials on to the leader, which checks them too.
    with httpx.Client(base_url=follower.url, timeout=15, auth=("eve", PASSWORD)) as client:
        assert client.get("/job/events/executions").status_code == 200
        assert client.get("/job/jobs/x/runs").status_code == 404  # the leader's answer: no such job
    with httpx.Client(base_url=follower.url, timeout=15) as client:
        assert client.get("/job/events/executions").status_code == 401


def _elasticjob(*args: str, env: dict[str, str] | None = None, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "elasticjob", *args], input=stdin, capture_output=True,
                          text=True, timeout=60, env={**os.environ, **(env or {})})


def test_auth_hash_prints_a_hash_of_what_it_reads() -> None:
    done = _elasticjob("auth", "hash", stdin=PASSWORD + "\n")
    assert done.returncode == 0, done.stderr
    assert verify_secret(done.stdout.strip(), PASSWORD)
    short = _elasticjob("auth", "hash", stdin="short\n")
    assert short.returncode == 2 and "at least 8 characters" in short.stderr


def test_a_master_beyond_loopback_without_an_auth_file_refuses_to_start(tmp_path: Path) -> None:
    done = _elasticjob("master", "--zk", "127.0.0.1:9", "--http", "0.0.0.0:0", "--data-dir", str(tmp_path))
    assert done.returncode != 0 and "--auth-file" in done.stderr and "--insecure" in done.stderr
    broken = tmp_path / "broken.toml"
    broken.write_text('[[users]]\nname = "a"\nrole = "root"\npassword_hash = "x"\n')
    done = _elasticjob("master", "--zk", "127.0.0.1:9", "--auth-file", str(broken), "--data-dir", str(tmp_path))
    assert done.returncode != 0 and "users[0].role" in done.stderr


@pytest.mark.parametrize("how", ["basic", "token"])
def test_the_cli_sends_the_environments_credentials(cluster: Cluster, tmp_path: Path, how: str) -> None:
    master = cluster.start_master("--auth-file", str(auth_file(tmp_path)))
    env = {"ELASTICJOB_URL": master.url}
    refused = _elasticjob("job", "list", env=env)
    assert refused.returncode != 0 and "401" in refused.stderr
    creds = {"ELASTICJOB_USER": "eve", "ELASTICJOB_PASSWORD": PASSWORD} if how == "basic" else {
        "ELASTICJOB_TOKEN": TOKEN}
    done = _elasticjob("job", "list", "--json", env={**env, **creds})
    assert done.returncode == 0, done.stderr


def test_a_console_session_is_a_signed_http_only_cookie_and_writes_need_the_consoles_header(
    cluster: Cluster, tmp_path: Path
) -> None:
    master = cluster.start_master("--auth-file", str(auth_file(tmp_path)))
    with httpx.Client(base_url=master.url, timeout=15) as client:
        assert client.post("/auth/login", json={"user": "ops", "password": "wrong"}).status_code == 401
        assert client.post("/auth/login", json={"user": "ops"}).status_code == 422
        logged_in = client.post("/auth/login", json={"user": "ops", "password": PASSWORD})
        assert logged_in.status_code == 204
        cookie = logged_in.headers["set-cookie"].lower()
        assert "httponly" in cookie and "samesite=strict" in cookie and "path=/" in cookie
        assert client.get("/auth/me").json() == {"auth": True, "name": "ops", "role": "operator", "groups": None}
        assert client.get("/job/jobs").status_code == 200
        # A write with the cookie alone could be a forged cross-site request: refused.
        forged = client.post("/job/trigger", content=b"nojob")
        assert forged.status_code == 403 and "x-elasticjob-console" in forged.json()["message"]
        sent = client.post("/job/trigger", content=b"nojob", headers={"X-ElasticJob-Console": "1"})
        assert sent.status_code == 404  # through to the API: no such job
        admin_only = client.post("/job/register", json={}, headers={"X-ElasticJob-Console": "1"})
        assert admin_only.status_code == 403  # the session's role is the user's
        token = client.cookies["elasticjob_session"]
        tampered = token[:-1] + ("0" if token[-1] != "0" else "1")
        for value, status in ((token, 200), (tampered, 401), ("v1.b3Bz.99999999999.00", 401)):
            assert httpx.get(f"{master.url}/job/jobs", headers={"Cookie": f"elasticjob_session={value}"},
                             timeout=15).status_code == status, value
        assert client.post("/auth/logout").status_code == 204
        assert client.get("/job/jobs").status_code == 401
