"""A master without an auth file (the suite's masters have one unless ``ELASTICJOB_TEST_AUTH=0``): every
request passes, with or without credentials, and the console has nothing to log in to."""

from __future__ import annotations

import httpx

from tests.e2e.conftest import Cluster


def test_a_master_without_an_auth_file_lets_every_request_through(cluster: Cluster) -> None:
    master = cluster.start_master(auth=False)
    assert master.auth is None
    with httpx.Client(base_url=master.url, timeout=15) as anonymous:
        assert anonymous.get("/job/jobs").status_code == 200
        refused = anonymous.post("/job/register", json={})
        assert refused.status_code == 422, refused.text  # the API's own answer, not 401
        assert anonymous.get("/auth/me").json() == {"auth": False, "name": None, "role": "admin",
                                                     "groups": None}
        assert anonymous.post("/auth/login", json={"user": "admin", "password": "whatever it is"}).status_code == 404
        # Credentials are not checked where there is nothing to check them against.
        assert anonymous.get("/job/jobs", auth=("nobody", "not a password")).status_code == 200
