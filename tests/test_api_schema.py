"""Schemathesis against the app's own /api/openapi.json: no 500s, every answer documented and
conforming (status, content type, headers, body), invalid input refused, auth enforced.

Random codes and tokens would only ever meet 404/400, so a share of the schema-valid cases get
a real, fresh code / settlement token / settlement id of the key's pharmacy swapped in (and
the amount made to add up), which lets the success paths and their schemas be checked too.
"""

from __future__ import annotations

import itertools

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    ignored_auth,
    negative_data_rejection,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.test_codes import issue
from webapp import clock
from webapp.api.keys import actor_for, create_key
from webapp.audit.services import SYSTEM
from webapp.codes import msgids
from webapp.codes import settlement as settlement_service

MAX_EXAMPLES = 50
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    negative_data_rejection,
    ignored_auth,
]


class Real:
    """Real codes, tokens and settlements of one pharmacy, to swap into generated cases."""

    def __init__(self, factory):
        self.pharmacy = factory.pharmacy(name="仁心大药房", region="360000")
        self.key_row, self.key = create_key(self.pharmacy.code, "schemathesis", SYSTEM)
        self.actor = actor_for(self.key_row)
        self.user = factory.user(name="张小明", balance_fen=10 ** 9)
        self.turn = itertools.count()
        self.sequence = itertools.count(1)
        self.sent: list[str] = []
        first = settlement_service.verify(issue(self.user).code, self.pharmacy, self.actor)
        self.settlement_id = settlement_service.settle(
            first.token, self.pharmacy, self.actor, 100, "布洛芬").public_id

    def now(self) -> bool:
        """Every other schema-valid case gets real values."""
        return next(self.turn) % 2 == 0

    def code(self) -> str:
        return issue(self.user).code

    def token(self) -> str:
        return settlement_service.verify(self.code(), self.pharmacy, self.actor).token

    def msgid(self) -> str:
        """A fresh msgid of the key's pharmacy (schema-valid random ones have another prefix)."""
        return msgids.prefix_of(self.pharmacy) + "20260501103015" + f"{next(self.sequence):04d}"

    def fresh_settlement(self) -> str:
        """A new settlement of the pharmacy, made with a msgid (so it can be reversed)."""
        msgid = self.msgid()
        self.sent.append(msgid)
        return settlement_service.settle(self.token(), self.pharmacy, self.actor, 100, "布洛芬",
                                         msgid=msgid).public_id


@pytest.fixture
def real(app, factory):
    app.config["RATELIMIT_CODE_VERIFY"] = "100000 per minute"
    return Real(factory)


def swap_in_real_values(case, real: Real) -> None:
    """Make a schema-valid case use a live code / token / settlement half of the time."""
    meta = getattr(case, "meta", None)
    if meta is None or meta.generation.mode.is_negative or not real.now():
        return
    path = case.operation.path
    body = case.body if isinstance(case.body, dict) else None
    if path == "/api/v1/codes/verify" and body is not None:
        case.body = {**body, "code": real.code()}
    elif path in ("/api/v1/settlements", "/api/v1/presettlements") and body is not None:
        swapped = {**body, "settlement_token": real.token(), "business_type": "02121"}
        if path == "/api/v1/settlements":
            swapped["msgid"] = real.msgid()
        items = body.get("items")
        if isinstance(items, list) and all(isinstance(i, dict) for i in items):
            swapped["amount_fen"] = sum(i.get("amount_fen", 0) for i in items)
        case.body = swapped
    elif path == "/api/v1/settlements/{settlement_id}":
        case.path_parameters = {"settlement_id": real.settlement_id}
    elif path == "/api/v1/settlements/{settlement_id}/cancel" and body is not None:
        case.path_parameters = {"settlement_id": real.fresh_settlement()}
        case.body = {**body, "msgid": real.msgid()}
    elif path == "/api/v1/reversals" and body is not None:
        real.fresh_settlement()
        case.body = {**body, "msgid": real.msgid(), "original_msgid": real.sent[-1]}
    elif path.startswith("/api/v1/reconciliations") and body is not None:
        case.body = {**body, "date": clock.today().isoformat()}


def operations(app):
    """Every operation of the document the app serves."""
    schema = schemathesis.openapi.from_wsgi("/api/openapi.json", app)
    return [result.ok() for result in schema.get_all_operations()]


def test_document_lists_the_three_operations(app):
    """The three operations of 1101/2102 and the read, and those of issue 10."""
    labels = {op.label for op in operations(app)}
    assert labels == {"POST /api/v1/codes/verify", "POST /api/v1/settlements",
                      "GET /api/v1/settlements/{settlement_id}",
                      "POST /api/v1/presettlements",
                      "POST /api/v1/settlements/{settlement_id}/cancel",
                      "POST /api/v1/reversals", "POST /api/v1/reconciliations",
                      "POST /api/v1/reconciliations/details"}


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE],
                         ids=["positive", "negative"])
def test_api_matches_its_openapi_document(app, real, mode):
    """Per operation, up to MAX_EXAMPLES generated requests, all checks on every answer."""
    for operation in operations(app):

        @given(case=operation.as_strategy(generation_mode=mode))
        @settings(max_examples=MAX_EXAMPLES, deadline=None, database=None,
                  suppress_health_check=list(HealthCheck))
        def run(case):
            swap_in_real_values(case, real)
            # identity: schemathesis' WSGI transport does not decode a compressed body
            # (flask-compress answers br/gzip to clients that ask; tests/test_page_weight_*).
            case.call_and_validate(headers={"X-API-Key": real.key,
                                            "Accept-Encoding": "identity"}, checks=CHECKS)

        run()
