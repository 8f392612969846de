"""No client secret and no access token in any log line or response, whatever happens.

Every log record at debug (pytest's ``caplog`` sees the raw records of every
logger, urllib3's included; ``capfd`` sees what the action prints) and every
response is collected over many scenarios, for both credential sources, and
searched for every secret in play.
"""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest
import responses

from actions.generic import main
from lib import http
from tests.action_support import (
    ACCESS_TOKEN,
    CLIENT_SECRET,
    add_ims_error,
    add_quota,
    add_token,
    app_builder_params,
    problem,
    set_deadline,
)
from tools.sandbox import AdobeEmulator, Fault

WRONG_SECRET = "p8e-Wrong-Secret-Someone-Typed-0001"
CALLER_TOKEN = "caller-bearer-token-0123456789"  # a web caller's own Authorization header


def inputs(adobe: AdobeEmulator, source: str, **overrides: Any) -> dict[str, Any]:
    """The emulator's credentials as tutorial inputs or as App Builder's injected object."""
    params = adobe.params()
    secret = overrides.pop("secret", params["OAUTHS2S_CLIENT_SECRET"])
    scopes = overrides.pop("scopes", params["OAUTHS2S_CECREDENTIALS_METASCOPES"])
    if source == "inputs":
        params.update(OAUTHS2S_CLIENT_SECRET=secret, OAUTHS2S_CECREDENTIALS_METASCOPES=scopes)
    else:
        params = {"__ims_oauth_s2s": {"client_id": params["OAUTHS2S_CLIENT_ID"],
                                      "client_secret": secret, "scopes": scopes.split(","),
                                      "org_id": params["IMS_ORG_ID"]}}
    return {"LOG_LEVEL": "debug", "__ow_headers": {"authorization": f"Bearer {CALLER_TOKEN}"},
            **params, **overrides}


def everything_seen(results: list[Any], caplog: pytest.LogCaptureFixture,
                    capfd: pytest.CaptureFixture[str]) -> str:
    """Responses, raw log records (messages, tracebacks, structured fields) and printed output."""
    captured = capfd.readouterr()
    records = [f"{r.getMessage()} {getattr(r, 'fields', '')} {r.args!r}" for r in caplog.records]
    return "\n".join([json.dumps(results), caplog.text, *records, captured.out, captured.err])


def scenarios(adobe: AdobeEmulator, source: str, monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """Success and failure of every kind, each answer kept."""
    results = [main(inputs(adobe, source)), main(inputs(adobe, source, current="false"))]
    token = adobe.requests[-1].headers["authorization"].removeprefix("Bearer ")

    adobe.expire_tokens()  # AEM 401: refresh and retry
    results.append(main(inputs(adobe, source)))
    for status in (403, 404, 500):
        adobe.queue("aem", Fault(status))
        results.append(main(inputs(adobe, source)))
    adobe.queue("aem", Fault(429, headers={"Retry-After": "90"}))
    results.append(main(inputs(adobe, source)))
    adobe.queue("aem", *[Fault(503, headers={"Retry-After": "0"})] * 4)
    results.append(main(inputs(adobe, source)))
    adobe.queue("aem", Fault(200, body="not json"), Fault(drop=True))
    results += [main(inputs(adobe, source)), main(inputs(adobe, source))]

    echo = problem(401, f"token {token}", f"the token {token} has expired")
    adobe.queue("aem", Fault(401, body=echo), Fault(401, body=echo))  # AEM echoes our token
    results.append(main(inputs(adobe, source)))

    # IMS echoing the secret it was sent (new scopes: a new cache key, so IMS is asked).
    adobe.queue("ims", Fault(400, body={"error": "invalid_request", "error_description":
                                        f"client_secret={adobe.client_secret} is not valid"}))
    results.append(main(inputs(adobe, source, scopes="openid")))
    results.append(main(inputs(adobe, source, secret=WRONG_SECRET)))  # IMS 401 invalid_client
    results.append(main(inputs(adobe, source, secret=WRONG_SECRET)))  # remembered rejection
    adobe.queue("ims", Fault(500))
    results.append(main(inputs(adobe, source, scopes="AdobeID")))
    results.append(main(inputs(adobe, source, current="maybe")))  # 400, params logged first

    set_deadline(monkeypatch, 1.0)
    adobe.queue("aem", Fault(delay=10))
    results.append(main(inputs(adobe, source)))  # 504
    monkeypatch.delenv("__OW_DEADLINE")
    return results


@pytest.fixture
def debug_logs(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    caplog.set_level(logging.DEBUG)  # the root logger: every library's records are kept
    return caplog


@pytest.mark.parametrize("source", ["inputs", "__ims_oauth_s2s"])
def test_no_secret_or_token_anywhere(
    adobe: AdobeEmulator, source: str, monkeypatch: pytest.MonkeyPatch,
    debug_logs: pytest.LogCaptureFixture, capfd: pytest.CaptureFixture[str],
) -> None:
    results = scenarios(adobe, source, monkeypatch)
    statuses = [r.get("statusCode") or r["error"]["statusCode"] for r in results]
    assert statuses == [200, 200, 200, 502, 404, 502, 429, 502, 502, 200, 502, 502, 502, 502,
                        502, 400, 504]
    tokens = {r.headers["authorization"].removeprefix("Bearer ")
              for r in adobe.requests if r.endpoint == "aem"}
    assert len(tokens) == 3  # the first, one after expire_tokens, one after the echoed 401

    seen = everything_seen(results, debug_logs, capfd)
    # The capture really holds what the action did, at debug, from every source.
    for expected in ('"level": "debug"', "parameters:", "IMS token minted",
                     "Starting new HTTP connection", "request failed", "x_debug_id"):
        assert expected in seen
    for secret in (adobe.client_secret, WRONG_SECRET, CALLER_TOKEN, *tokens):
        assert secret not in seen


def test_a_secret_in_an_unexpected_exception_is_masked_in_the_activation_log(
    monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str],
) -> None:
    """The second defence: a bug that puts the secret into an exception message.

    Only what the action prints is checked: pytest's own log capture holds the
    raw record, which no deployed handler sees.
    """
    def broken() -> None:
        raise RuntimeError(f"request failed with client_secret={CLIENT_SECRET}")

    monkeypatch.setattr(http, "session", broken)
    result = main(app_builder_params(LOG_LEVEL="debug"))
    assert result["error"]["statusCode"] == 500
    printed = capfd.readouterr()
    assert "RuntimeError: request failed with client_secret=<hidden>" in printed.err
    assert CLIENT_SECRET not in printed.err + printed.out + json.dumps(result)


def test_no_known_token_leaks_through_responses_mock(
    debug_logs: pytest.LogCaptureFixture, capfd: pytest.CaptureFixture[str],
) -> None:
    """The same with fixed values, for answers the emulator does not give."""
    results = []
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        add_token(rsps)
        add_quota(rsps, status=401, body=problem(401, "Unauthorized", f"bad {ACCESS_TOKEN}"))
        results.append(main(app_builder_params(LOG_LEVEL="debug")))
    with responses.RequestsMock() as rsps:
        add_ims_error(rsps, 401, "invalid_client", f"secret {CLIENT_SECRET} unknown")
        params = app_builder_params(LOG_LEVEL="debug", current="false")
        params["__ims_oauth_s2s"]["scopes"] = ["openid"]  # not cached: IMS is asked
        results.append(main(params))
    assert [r["error"]["statusCode"] for r in results] == [502, 502]
    seen = everything_seen(results, debug_logs, capfd)
    assert "AEM rejected the access token" in seen
    assert "invalid_client" in seen
    assert ACCESS_TOKEN not in seen
    assert CLIENT_SECRET not in seen
