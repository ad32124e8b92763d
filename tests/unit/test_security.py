"""Pure parts of API security: the auth file, secret hashes, the route table, checking credentials."""

from __future__ import annotations

import base64

import pytest

from elasticjob.security.authenticator import Authenticator, BadCredentials, Busy
from elasticjob.security.authfile import AuthFileError, parse_auth
from elasticjob.security.roles import Action, Role, may, required_action
from elasticjob.security.scopes import CLUSTER_WIDE, EVERYTHING, JobScope, named_in_path
from elasticjob.security.secrets import WeakSecret, hash_secret, is_hash, verify_secret

PASSWORD = "correct horse battery"
TOKEN = "tok-0123456789abcdef"
HASHED_PASSWORD = hash_secret(PASSWORD)
HASHED_TOKEN = hash_secret(TOKEN)


def _file(*users: str) -> str:
    return "\n".join(f"[[users]]\n{u}" for u in users)


def test_hashes_verify_their_secret_only_and_short_secrets_are_refused() -> None:
    assert is_hash(HASHED_PASSWORD) and hash_secret(PASSWORD) != HASHED_PASSWORD  # salted
    assert verify_secret(HASHED_PASSWORD, PASSWORD) and not verify_secret(HASHED_PASSWORD, PASSWORD + "x")
    assert not verify_secret("not a hash", PASSWORD)
    with pytest.raises(WeakSecret):
        hash_secret("short")


def test_an_auth_file_names_users_roles_and_hashes() -> None:
    config = parse_auth(_file(
        f'name = "alice"\nrole = "admin"\npassword_hash = "{HASHED_PASSWORD}"',
        f'name = "bot"\nrole = "operator"\ntoken_hash = "{HASHED_TOKEN}"',
    ))
    alice, bot = config.users
    assert alice.role is Role.ADMIN and alice.groups is None
    assert bot.role is Role.OPERATOR and bot.token_hash == HASHED_TOKEN
    assert config.user("bot") is bot and config.user("nobody") is None


def test_a_user_confined_to_groups_keeps_them() -> None:
    config = parse_auth(_file(f'name = "bot"\nrole = "viewer"\ntoken_hash = "{HASHED_TOKEN}"\n'
                              'groups = ["a.b", "c"]'))
    assert config.users[0].groups == ("a.b", "c")


def test_a_job_scope_covers_its_groups_and_the_names_below_them_only() -> None:
    scope = JobScope.of(["marketing", "billing.reports"])
    assert scope.confined and not EVERYTHING.confined
    covered = ["marketing", "marketing.daily", "marketing.a.b", "billing.reports", "billing.reports.eu"]
    outside = ["marketingx", "marketing-x", "billing", "billing.invoices", "billing.reportsx", "x.marketing"]
    assert all(scope.covers(n) for n in covered) and not any(scope.covers(n) for n in outside)
    assert all(EVERYTHING.covers(n) for n in covered + outside)
    assert scope.only(outside + covered) == covered


def test_a_job_scope_drops_groups_another_covers() -> None:
    assert JobScope.of(["a.b", "a", "c", "a"]).groups == ("a", "c")


def test_a_job_scope_finds_its_names_in_a_sorted_list_as_a_filter_would() -> None:
    names = sorted(["a", "a-b", "a.b", "a.b.c", "a.z", "a0", "ab", "b", "b.a", "c.d", "c", "c.", "c..x"])
    for groups in (["a"], ["a.b"], ["b", "c"], ["zz"], ["a", "b.a", "c"]):
        scope = JobScope.of(groups)
        assert scope.within(names) == scope.only(names), groups
    assert EVERYTHING.within(names) == names


@pytest.mark.parametrize(("path", "wide"), [
    ("/cluster/registry", True), ("/api/cluster/registry", True), ("/metrics", True),
    ("/job/statistics/jobs/register", True), ("/api/job/statistics/tasks/results/lastHour", True),
    ("/cluster/overview", False), ("/cluster/agents", False), ("/job/jobs", False), ("/v1/jobs", False),
])
def test_the_views_of_the_whole_installation(path: str, wide: bool) -> None:
    assert bool(CLUSTER_WIDE.fullmatch(path)) is wide


@pytest.mark.parametrize(("path", "named"), [
    ("/job/jobs/m.daily", ("job", "m.daily")),
    ("/api/job/jobs/m.daily/runs/r1/logs", ("job", "m.daily")),
    ("/job/m.daily/disable", ("job", "m.daily")),
    ("/job/m.daily/enable", ("job", "m.daily")),
    ("/job/tasks/m.daily@-@0@-@READY@-@agent-1@-@u1/logs", ("job", "m.daily")),
    ("/v1/jobs/m.daily/runs", ("job", "m.daily")),
    ("/service/metronome/v1/jobs/m.daily", ("job", "m.daily")),
    ("/v1/regions/us/jobs/m.daily", ("job", "m.daily")),
    ("/v1/regions/us/jobs/m.daily/instances/m.daily-abcde/logs", ("job", "m.daily")),
    ("/v1/regions/us/jobs", None),
    ("/app/m.app", ("app", "m.app")),
    ("/app/m.app/disable", ("app", "m.app")),
    ("/job/jobs", None), ("/job/tasks/running", None), ("/app/list", None), ("/app", None),
    ("/v1/jobs", None), ("/cluster/agents/a1", None), ("/job/summaries", None),
    # A number is no name (an execs job's: its route checks the job it finds, Metronome's the id).
    ("/v1/jobs/146", None), ("/v1/jobs/146/execs/e1/logs", None), ("/v1/jobs/m.146", ("job", "m.146")),
    ("/v1/jobs/146x", ("job", "146x")),
])
def test_the_job_or_app_a_path_names(path: str, named: tuple[str, str] | None) -> None:
    assert named_in_path(path) == named


@pytest.mark.parametrize(("text", "says"), [
    ("not toml [", "not valid TOML"),
    ("", "users"),
    (_file('name = "a"\nrole = "root"\npassword_hash = "x"'), "users[0].role"),
    (_file(f'name = "a"\nrole = "viewer"\npassword_hash = "{PASSWORD}"'), "users[0].password_hash"),
    (_file('name = "a"\nrole = "viewer"'), "give password_hash, token_hash or both"),
    (_file(f'name = "a"\nrole = "viewer"\ntoken_hash = "{HASHED_TOKEN}"\nextra = 1'), "users[0].extra"),
    (_file(f'name = "a"\nrole = "viewer"\ntoken_hash = "{HASHED_TOKEN}"',
           f'name = "a"\nrole = "admin"\ntoken_hash = "{HASHED_TOKEN}"'), "listed twice"),
    (_file(f'name = "a"\nrole = "viewer"\ntoken_hash = "{HASHED_TOKEN}"\ngroups = ["../x"]'), "groups"),
])
def test_an_auth_file_that_cannot_be_used_says_where(text: str, says: str) -> None:
    with pytest.raises(AuthFileError) as refused:
        parse_auth(text, "auth.toml")
    assert says in str(refused.value) and str(refused.value).startswith("auth.toml")


def test_roles_allow_reading_operating_and_administering_in_turn() -> None:
    assert may(Role.VIEWER, Action.READ) and not may(Role.VIEWER, Action.OPERATE)
    assert may(Role.OPERATOR, Action.OPERATE) and not may(Role.OPERATOR, Action.ADMIN)
    assert all(may(Role.ADMIN, action) for action in Action)


@pytest.mark.parametrize(("method", "path", "action"), [
    ("GET", "/", None), ("GET", "/ping", None), ("GET", "/console/app.js", None),
    ("GET", "/job/jobs", Action.READ), ("GET", "/api/job/jobs/x", Action.READ), ("GET", "/metrics", Action.READ),
    ("GET", "/cluster/registry", Action.READ), ("GET", "/job/tasks/t/logs", Action.READ),
    ("GET", "/job/jobs/x/webhooks/deliveries", Action.READ),
    ("POST", "/job/trigger", Action.OPERATE), ("POST", "/api/job/x/disable", Action.OPERATE),
    ("DELETE", "/job/x/disable", Action.OPERATE), ("POST", "/app/x/enable", Action.OPERATE),
    ("POST", "/job/jobs/x/runs/r/stop", Action.OPERATE), ("POST", "/v1/jobs/x/runs", Action.OPERATE),
    ("POST", "/service/metronome/v1/jobs/x/runs/r/actions/stop", Action.OPERATE),
    ("POST", "/v1/jobs/146/execs", Action.OPERATE), ("DELETE", "/v1/jobs/146/execs/e", Action.ADMIN),
    ("DELETE", "/v1/jobs/146", Action.ADMIN),
    ("POST", "/job/register", Action.ADMIN), ("PUT", "/job/update", Action.ADMIN),
    ("DELETE", "/job/deregister", Action.ADMIN), ("DELETE", "/job/jobs/x/runs/r", Action.ADMIN),
    ("POST", "/v1/jobs", Action.ADMIN), ("PUT", "/v1/jobs/x", Action.ADMIN), ("DELETE", "/app/x", Action.ADMIN),
    ("POST", "/v1/jobs/x/schedules", Action.ADMIN), ("POST", "/job/x/disable/more", Action.ADMIN),
    ("POST", "/ping/../job/register", Action.ADMIN), ("POST", "/console/../job/register", Action.ADMIN),
])
def test_the_action_a_request_needs(method: str, path: str, action: Action | None) -> None:
    assert required_action(method, path) is action


def _basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def test_basic_and_bearer_credentials_and_what_is_remembered_of_them() -> None:
    config = parse_auth(_file(
        f'name = "alice"\nrole = "admin"\npassword_hash = "{HASHED_PASSWORD}"',
        f'name = "bot"\nrole = "viewer"\ntoken_hash = "{HASHED_TOKEN}"',
    ))
    now = [0.0]
    auth = Authenticator(config, clock=lambda: now[0])
    alice = auth.authenticate(_basic("alice", PASSWORD))
    assert alice is not None and alice.name == "alice" and alice.role is Role.ADMIN
    assert auth.cached(_basic("alice", PASSWORD)) == (True, alice)
    assert auth.authenticate(_basic("alice", "wrong password")) is None
    assert auth.cached(_basic("alice", "wrong password")) == (True, None)  # a wrong one costs no hashing again
    assert auth.authenticate(_basic("bot", TOKEN)) is None  # a token is no password
    bot = auth.authenticate(f"Bearer {TOKEN}")
    assert bot is not None and bot.name == "bot" and bot.role is Role.VIEWER
    assert auth.authenticate("Bearer nope-nope-nope") is None
    # The hosted services' scheme and DC/OS's form carry the same token.
    for header in (f"token {TOKEN}", f"Token {TOKEN}", f"token={TOKEN}"):
        assert auth.authenticate(header) == bot, header
    assert auth.authenticate("token=nope-nope-nope") is None
    now[0] += 10_000
    assert auth.cached(_basic("alice", PASSWORD)) == (False, None)  # forgotten after a while
    for bad in ("Digest abc", "token", "token=", "Basic !!!", "Basic " + base64.b64encode(b"no-colon").decode()):
        with pytest.raises(BadCredentials):
            auth.authenticate(bad)


def test_credentials_not_remembered_wait_for_one_of_a_few_turns_to_be_hashed() -> None:
    config = parse_auth(_file(f'name = "alice"\nrole = "admin"\npassword_hash = "{HASHED_PASSWORD}"'))
    auth = Authenticator(config, max_hashing=1, hash_wait=0.05)
    alice = auth.authenticate(_basic("alice", PASSWORD))
    auth._hashing.acquire()  # noqa: SLF001 - the one turn, taken as by a verification under way
    try:
        with pytest.raises(Busy):
            auth.authenticate(_basic("alice", "made up 1"))  # a flood of made-up ones waits, then 503
        assert auth.authenticate(_basic("alice", PASSWORD)) == alice  # remembered: no turn needed
    finally:
        auth._hashing.release()  # noqa: SLF001
    assert auth.authenticate(_basic("alice", "made up 1")) is None


def test_a_token_is_tried_first_against_the_user_its_username_header_names(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import elasticjob.security.authenticator as authenticator

    others = [f'name = "bot{i}"\nrole = "viewer"\ntoken_hash = "{HASHED_PASSWORD}"' for i in range(5)]
    config = parse_auth(_file(*others, f'name = "last"\nrole = "operator"\ntoken_hash = "{HASHED_TOKEN}"'))
    tried: list[str] = []
    monkeypatch.setattr(authenticator, "verify_secret",
                        lambda hashed, secret: tried.append(hashed) or verify_secret(hashed, secret))
    last = Authenticator(config).authenticate(f"token {TOKEN}", username="last")
    assert last is not None and last.name == "last" and tried == [HASHED_TOKEN]  # one hash, not six
    tried.clear()
    assert Authenticator(config).authenticate(f"token {TOKEN}", username="nobody") == last
    assert len(tried) == 6  # no hint that helps: every token user in turn
    tried.clear()
    assert Authenticator(config).authenticate(f"token {TOKEN}", username="bot0") == last  # a wrong hint
    assert len(tried) == 6


def test_sessions_are_signed_expire_and_belong_to_their_key() -> None:
    from elasticjob.security.sessions import Sessions, cookie_value, session_key

    now = [1_000.0]
    sessions = Sessions(session_key("file one"), clock=lambda: now[0], lifetime=60)
    token = sessions.issue("alice@example")
    assert sessions.user_of(token) == "alice@example"
    assert Sessions(session_key("file two"), clock=lambda: now[0]).user_of(token) is None  # another auth file
    name, user, expiry, mac = token.split(".")
    assert sessions.user_of(f"{name}.{user}.{int(expiry) + 3600}.{mac}") is None  # a longer life is forged
    assert sessions.user_of("v1.x.1") is None and sessions.user_of("garbage") is None
    assert sessions.user_of(f"{name}.{user}.².{mac}") is None  # "²".isdigit(), but no number
    now[0] += 61
    assert sessions.user_of(token) is None  # expired
    assert cookie_value("a=1; elasticjob_session=tok; b=2") == "tok" and cookie_value(None) is None
