"""The agent join token (``security.jointoken``): what a token may be, and which metadata admits."""

from __future__ import annotations

from pathlib import Path

import pytest

from elasticjob.security.jointoken import JoinToken, check_token, read_token_file, token_metadata

TOKEN = "s3cret-join-token-0123"


def test_the_token_metadata_admits_and_nothing_else_does() -> None:
    token = JoinToken.of(TOKEN)
    assert token.admits(token_metadata(TOKEN))
    assert token.admits([("user-agent", "grpc"), *token_metadata(TOKEN)])
    assert token.admits((("Authorization", "Bearer " + TOKEN),))  # metadata keys are case-insensitive
    refused: list[list[tuple[str, str | bytes]]] = [
        [],
        [("authorization", TOKEN)],  # no scheme
        [("authorization", "Basic " + TOKEN)],
        [("authorization", "Bearer " + TOKEN + "x")],
        [("authorization", "Bearer " + TOKEN[:-1])],
        [("x-token", "Bearer " + TOKEN)],
        [("authorization-bin", b"Bearer " + TOKEN.encode())],
    ]
    for metadata in refused:
        assert not token.admits(metadata), metadata
    assert not token.admits(None)
    # Of several entries one that matches admits (a proxy may add its own authorization).
    assert token.admits([("authorization", "Bearer wrong"), *token_metadata(TOKEN)])


def test_the_master_keeps_a_digest_not_the_token() -> None:
    token = JoinToken.of(TOKEN)
    assert TOKEN.encode() not in token.digest and len(token.digest) == 32
    assert TOKEN not in repr(token)


def test_check_token_strips_and_names_its_source() -> None:
    assert check_token(f"  {TOKEN}\n", "--join-token-file f") == TOKEN
    for bad, message in (("", "holds no join token"), ("short", "use 16 or more"),
                         ("with a space inside it", "visible ASCII"), ("tökentökentökentöken", "visible ASCII")):
        with pytest.raises(ValueError, match=message) as raised:
            check_token(bad, "ELASTICJOB_JOIN_TOKEN")
        assert str(raised.value).startswith("ELASTICJOB_JOIN_TOKEN")


def test_read_token_file_names_the_flag(tmp_path: Path) -> None:
    path = tmp_path / "token"
    path.write_text(TOKEN + "\n")
    assert read_token_file(path, "--agent-token-file") == TOKEN
    with pytest.raises(ValueError, match="--agent-token-file .*missing: cannot read it"):
        read_token_file(tmp_path / "missing", "--agent-token-file")
