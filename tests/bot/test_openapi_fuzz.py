"""Schemathesis against the service's own OpenAPI, in process: no request makes a server error.

Every operation of ``/openapi.json`` gets a bounded number of generated requests
(valid and invalid parameters and bodies), as a caseworker of one organisation,
with a case, a note and a message of another organisation in the database.
"""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given
from hypothesis import settings as hypothesis_settings
from schemathesis import Case

from bot import auth, cases
from bot.config import Settings
from tests.helpers import factories
from tests.helpers.app import make_app

EXAMPLES_PER_OPERATION = 12


def test_no_generated_request_makes_a_server_error(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(auth, "_hasher", factories.FAST_HASHER)
    app = make_app(settings, monkeypatch)
    with app.state.helpline.db.session() as session:
        ours = factories.organisation(session, "Ours")
        caseworker = factories.user(session, ours, "fuzzer", role=cases.SUPERVISOR)
        token = factories.token(session, caseworker)
        conversation = factories.conversation(session)
        factories.inbound(session, conversation, "<script>alert(1)</script>", status="done")
        case = factories.case(session, conversation)
        cases.add_note(session, caseworker, case.id, "'; DROP TABLE cases; --")
        theirs = factories.organisation(session, "Theirs", languages=["ar"])
        factories.case(session, factories.conversation(session, language="ar"))
        assert theirs.id != ours.id
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    headers = {"Authorization": f"Bearer {token}"}
    failures: list[str] = []
    for result in schema.get_all_operations():
        operation = result.ok()
        if operation.path == "/healthz":
            continue  # 503 is its answer while Rasa is down, as it is in these tests

        @given(case=operation.as_strategy())
        @hypothesis_settings(
            max_examples=EXAMPLES_PER_OPERATION,
            deadline=None,
            database=None,
            derandomize=True,
            phases=[Phase.explicit, Phase.generate],
            suppress_health_check=list(HealthCheck),
        )
        def run(case: Case) -> None:
            response = case.call(headers=headers)
            if response.status_code >= 500:
                failures.append(f"{case.method} {case.path}: {response.status_code}")

        run()
    assert failures == []
