"""Pure parts of API security: the auth file, secret hashes, the route table, checking credentials."""

from __future__ import annotations

import base64

import pytest

from elasticjob.security.authenticator import Authenticator, BadCredentials
from elasticjob.security.authfile import AuthFileError, parse_auth
from elasticjob.security.roles import Action, Role, may, required_action
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


def test_confining_a_user_to_groups_is_refused_until_it_is_enforced() -> None:
    with pytest.raises(AuthFileError) as refused:
        parse_auth(_file(f'name = "bot"\nrole = "viewer"\ntoken_hash = "{HASHED_TOKEN}"\ngroups = ["a.b"]'))
    assert "users[0].groups" in str(refused.value) and "not supported yet" in str(refused.value)


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
    now[0] += 10_000
    assert auth.cached(_basic("alice", PASSWORD)) == (False, None)  # forgotten after a while
    for bad in ("Digest abc", "Basic !!!", "Basic " + base64.b64encode(b"no-colon").decode()):
        with pytest.raises(BadCredentials):
            auth.authenticate(bad)


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
    now[0] += 61
    assert sessions.user_of(token) is None  # expired
    assert cookie_value("a=1; elasticjob_session=tok; b=2") == "tok" and cookie_value(None) is None
