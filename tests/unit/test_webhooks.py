"""The pure parts of webhooks: signing, the retry schedule, the payload, the configuration and masking."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac

import pytest
from pydantic import ValidationError

from elasticjob.model.masking import MASK, MaskedSecretUnknown, masked, unmasked
from elasticjob.model.run import RunTask, assemble
from elasticjob.model.webhook import Webhook, WebhookEvent, delivery_id, run_payload, shown_url
from elasticjob.webhooks import backoff
from elasticjob.webhooks.signing import signature_header, verify

SECRET = "0123456789abcdef-secret"
T0 = dt.datetime(2026, 3, 1, 8, 0, tzinfo=dt.UTC)


def test_the_signature_is_hmac_sha256_over_the_timestamp_a_dot_and_the_body() -> None:
    body = b'{"event":"run.ended"}'
    header = signature_header(SECRET, 1_700_000_000, body)
    expected = hmac.new(SECRET.encode(), b"1700000000." + body, hashlib.sha256).hexdigest()
    assert header == f"t=1700000000,v1={expected}"


def test_verify_refuses_another_body_secret_or_a_stale_timestamp() -> None:
    body = b"{}"
    header = signature_header(SECRET, 1000, body)
    assert verify(SECRET, header, body, now=1100)
    assert not verify(SECRET, header, b"{ }", now=1100)
    assert not verify("another-secret-value", header, body, now=1100)
    assert not verify(SECRET, header, body, now=1000 + 301)
    assert not verify(SECRET, "t=abc,v1=00", body, now=1000)


def test_backoff_doubles_from_one_second_up_to_five_minutes_with_jitter_of_half() -> None:
    assert [backoff.delay(n, lambda: 0.999999) for n in (1, 2, 3, 4)] == pytest.approx([1, 2, 4, 8], rel=1e-5)
    assert [backoff.delay(n, lambda: 0.0) for n in (1, 2, 3)] == [0.5, 1.0, 2.0]
    assert backoff.delay(40, lambda: 0.999999) == pytest.approx(300, rel=1e-5)
    with pytest.raises(ValueError, match="at least 1"):
        backoff.delay(0)


def test_no_attempt_is_planned_beyond_the_retry_time() -> None:
    now = T0 + dt.timedelta(seconds=50)
    assert backoff.next_attempt(T0, now, 1, 60, lambda: 0.0) == now + dt.timedelta(seconds=0.5)
    assert backoff.next_attempt(T0, now, 5, 60, lambda: 0.0) == now + dt.timedelta(seconds=8)
    assert backoff.next_attempt(T0, now, 6, 60, lambda: 0.0) is None  # 16 s later is past 60 s


def _run(states: list[str]) -> object:
    tasks = [RunTask(f"t{i}", i, state, created_at=T0, started_at=T0, finished_at=T0 + dt.timedelta(seconds=2))
             for i, state in enumerate(states)]
    return assemble("job", "cron-20260301T080000.000Z", tasks)


def test_the_payload_is_the_run_without_tasks_with_shard_counts() -> None:
    run = _run(["FINISHED", "FAILED", "FINISHED"])
    body = run_payload(WebhookEvent.END, run, 3, "d1")  # type: ignore[arg-type]
    assert body == {
        "event": "run.ended", "deliveryId": "d1", "jobName": "job", "runId": run.run_id,  # type: ignore[attr-defined]
        "firingId": "cron-20260301T080000.000Z", "cause": "SCHEDULED", "status": "FAILED",
        "reason": "shard 1 FAILED", "createdAt": "2026-03-01T08:00:00.000+00:00",
        "startedAt": "2026-03-01T08:00:00.000+00:00", "finishedAt": "2026-03-01T08:00:02.000+00:00",
        "shards": {"total": 3, "succeeded": 2, "failed": 1, "active": 0},
    }


def test_a_delivery_id_is_the_same_for_the_same_run_event_and_url_only() -> None:
    one = delivery_id("job", "f", WebhookEvent.END, "http://h/x")
    assert one == delivery_id("job", "f", WebhookEvent.END, "http://h/x") and len(one) == 32
    assert len({one, delivery_id("job", "f", WebhookEvent.START, "http://h/x"),
                delivery_id("job", "g", WebhookEvent.END, "http://h/x"),
                delivery_id("job", "f", WebhookEvent.END, "http://h/y")}) == 4


def test_a_webhook_is_http_or_https_with_a_host_a_long_secret_and_known_events() -> None:
    hook = Webhook.model_validate({"url": "https://h.example/x", "secret": SECRET})
    assert hook.events == [WebhookEvent.END]
    for bad in ({"url": "file:///etc/passwd", "secret": SECRET}, {"url": "https:///x", "secret": SECRET},
                {"url": "https://h/x", "secret": "short"}, {"url": "https://h/x", "secret": SECRET,
                                                              "events": ["end", "end"]},
                {"url": "https://h/x", "secret": SECRET, "events": []}, {"secret": SECRET}):
        with pytest.raises(ValidationError):
            Webhook.model_validate(bad)
    assert Webhook.model_validate({"url": "https://h/x", "secret": MASK}).secret == MASK


def test_the_url_shown_has_no_credentials() -> None:
    assert shown_url("https://user:pw@h.example:8443/x?a=1") == "https://h.example:8443/x?a=1"
    assert shown_url("http://h/x") == "http://h/x"


def test_secrets_are_masked_in_a_copy_and_a_mask_sent_back_keeps_the_stored_one() -> None:
    stored = {"jobName": "j", "webhooks": [{"url": "http://a", "secret": SECRET}]}
    shown = masked(stored)
    assert shown["webhooks"][0]["secret"] == MASK and stored["webhooks"][0]["secret"] == SECRET
    assert masked({"jobName": "j"}) == {"jobName": "j"}
    update = {"jobName": "j", "webhooks": [{"url": "http://a", "secret": MASK}, {"url": "http://b",
                                                                                  "secret": "new-secret-0123456"}]}
    assert unmasked(update, stored)["webhooks"] == [{"url": "http://a", "secret": SECRET},
                                                     {"url": "http://b", "secret": "new-secret-0123456"}]
    with pytest.raises(MaskedSecretUnknown) as caught:
        unmasked({"webhooks": [{"url": "http://c", "secret": MASK}]}, stored)
    assert caught.value.path == "webhooks.0.secret"
    with pytest.raises(MaskedSecretUnknown):
        unmasked({"webhooks": [{"url": "http://a", "secret": MASK}]}, None)
