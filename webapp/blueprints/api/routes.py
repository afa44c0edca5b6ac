"""The POS API views: 1101 verify, 2101 pre-settle, 2102 settle, read, 2103 cancel, 2601
reversal, 3201 / 3202 reconciliation.

Shaped like the national terminal flow (XJ-D01-2019 e-voucher). Every rule and state change
is in ``webapp.codes`` — the same functions the pharmacy pages call; this module only parses
the body with the models of ``webapp.api.schemas`` and shapes the answer with them.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from typing import Any

from flask import Response, current_app, jsonify, request, url_for
from werkzeug.exceptions import MethodNotAllowed, NotFound
from werkzeug.routing import RequestRedirect

from webapp.api import schemas
from webapp.blueprints.api import bp
from webapp.blueprints.api.auth import (
    api_key_required,
    current_api_actor,
    current_key,
    key_of_request,
    verify_limit,
)
from webapp.blueprints.api.errors import ApiError
from webapp.blueprints.api.openapi import REPLAY_HEADER, build_document
from webapp.blueprints.api.validation import parse
from webapp.codes import cancel as cancel_service
from webapp.codes import reconciliation
from webapp.codes import settlement as settlement_service
from webapp.codes.services import is_male, settlement_of_pharmacy
from webapp.extensions import limiter
from webapp.masking import mask_id, mask_name
from webapp.models import Settlement
from webapp.money import yuan
from webapp.web import no_store

ID_TYPE_RESIDENT_CARD = "01"  # 居民身份证
# 险种类型 (national insutype codes) of the registry's insurance types.
INSURANCE_TYPES = {
    "employee": ("310", "职工基本医疗保险"),
    "resident": ("390", "城乡居民基本医疗保险"),
}
PUBLIC_ID_RE = re.compile(r"[A-Za-z0-9_-]{1,40}")
PROBED_METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE"]
# The fallback also takes OPTIONS and TRACE, so that they are answered 405 with Allow.
FALLBACK_METHODS = [*PROBED_METHODS, "OPTIONS", "TRACE"]
NO_OPTIONS = {"provide_automatic_options": False}
FIRST_DAY = date(2000, 1, 1)  # no settlement is older; earlier days overflow the UTC bounds


def iso(dt: datetime) -> str:
    """A stored naive-UTC time as RFC 3339 ('2025-05-01T02:03:04Z')."""
    return dt.replace(microsecond=0).isoformat() + "Z"


def verification_json(v: settlement_service.Verification) -> dict[str, Any]:
    """The verify answer: the national terminal fields, masked, plus the settlement token."""
    patient = v.patient
    insurance_code, insurance_name = INSURANCE_TYPES[patient.insurance_type]
    on_behalf = v.binding is not None and v.holder is not None
    return schemas.Verification.model_validate({
        "id_type": ID_TYPE_RESIDENT_CARD, "id_number": mask_id(patient.id_number),
        "name": mask_name(patient.name), "gender": "1" if is_male(patient) else "2",
        "birth_date": patient.birth_date.isoformat(), "age": v.age,
        "insured_region": patient.region_code, "insurance_type": insurance_code,
        "insurance_type_name": insurance_name, "balance_fen": v.balance_fen,
        "aid_available_fen": v.aid_available_fen, "max_amount_fen": v.max_amount_fen,
        "shown_by": "relative" if on_behalf else "self", "shown_by_text": v.shown_by,
        "settlement_token": v.token, "token_expires_at": iso(v.token_expires_at),
    }).body()


def settlement_json(s: Settlement) -> dict[str, Any]:
    """A settlement and its split (个人账户 → 家庭共济 → 个人自付), and its cancellation."""
    cancelled = s.cancelled_at is not None
    return schemas.Settlement.model_validate({
        "settlement_id": s.public_id, "business_type": s.business_type,
        "total_fen": s.total_fen, "personal_account_fen": s.account_fen, "aid_fen": s.aid_fen,
        "self_pay_fen": s.cash_fen, "items": s.items,
        "shown_by": "relative" if s.binding_id else "self", "created_at": iso(s.created_at),
        "status": s.status.value, "msgid": s.msgid,
        "cancelled_at": iso(s.cancelled_at) if s.cancelled_at else None,
        "cancel_reason": s.cancel_reason if cancelled else None,
        "self_pay_refunded_fen": s.cash_refunded_fen if cancelled else None,
    }).body()


def reversal_json(msgid: str, original_msgid: str, row: Settlement | None) -> dict[str, Any]:
    """The reversal answer: what became of the original message."""
    return schemas.Reversal(
        msgid=msgid, original_msgid=original_msgid,
        result="cancelled" if row is not None else "recorded",
        settlement=schemas.Settlement.model_validate(settlement_json(row)) if row else None,
    ).body()


def items_text(items: list[schemas.Item]) -> str:
    """'布洛芬缓释胶囊×1 ¥23.50；维生素C片×2 ¥9.00' — what the settlement row keeps."""
    return "；".join(f"{i.name}×{i.quantity} ¥{yuan(i.amount_fen)}" for i in items)


def _purchase(body: schemas.Purchase) -> str:
    """The items text of a purchase whose items add up to its amount."""
    if sum(i.amount_fen for i in body.items) != body.amount_fen:
        raise ApiError("invalid_amount", "药品明细金额合计与结算金额不一致", field="items")
    return items_text(body.items)


def answer(body: dict[str, Any] | None, status: int, replayed: bool = False) -> Response:
    """A JSON answer, never cached; a replay says so in its header."""
    response = no_store(jsonify(body))
    response.status_code = status
    if replayed:
        response.headers[REPLAY_HEADER] = "true"
    return response


def _day(text: str) -> date:
    """The China day of a reconciliation request (a real date, not before FIRST_DAY)."""
    try:
        day = date.fromisoformat(text)
    except ValueError:
        raise ApiError("invalid_request", "字段 date 应为有效日期 YYYY-MM-DD", field="date") from None
    if day < FIRST_DAY:
        raise ApiError("invalid_reconciliation", "对账日期超出范围", field="date")
    return day


@bp.get("/openapi.json")
def openapi_document():
    """The OpenAPI document of this API (public: it holds no secrets)."""
    return jsonify(build_document())


@bp.post("/v1/codes/verify", **NO_OPTIONS)
@api_key_required("codes.verify")
@limiter.limit(verify_limit, key_func=key_of_request, scope="api-verify")
def verify_code():
    """Decode a scanned 医保码 → the patient (masked) and a settlement token."""
    body = parse(schemas.VerifyRequest)
    if body.msgid is None:
        checked = settlement_service.verify(body.code, current_key().pharmacy,
                                            current_api_actor())
        return answer(verification_json(checked), 200)
    shaped, replayed = settlement_service.verify_message(
        body.code, current_key().pharmacy, current_api_actor(), body.msgid, verification_json)
    return answer(shaped, 200, replayed)


@bp.post("/v1/presettlements", **NO_OPTIONS)
@api_key_required("presettlements.create")
@limiter.limit(verify_limit, key_func=key_of_request, scope="api-settle")
def presettle():
    """2101: the split a settlement would make; no money moves, the token stays open."""
    body = parse(schemas.PresettlementRequest)
    split = settlement_service.presettle(body.settlement_token, current_key().pharmacy,
                                         body.amount_fen, _purchase(body), body.business_type)
    return answer(schemas.Presettlement(
        total_fen=split.total_fen, personal_account_fen=split.account_fen, aid_fen=split.aid_fen,
        self_pay_fen=split.cash_fen, split_text=split.text).body(), 200)


@bp.post("/v1/settlements", **NO_OPTIONS)
@api_key_required("settlements.create")
@limiter.limit(verify_limit, key_func=key_of_request, scope="api-settle")
def create_settlement():
    """2102: settle with the token of a verify, exactly once (replayed for a repeated msgid)."""
    body = parse(schemas.SettlementRequest)
    done = settlement_service.settle_message(
        body.settlement_token, current_key().pharmacy, current_api_actor(), body.amount_fen,
        _purchase(body), business_type=body.business_type, allow_cash=body.allow_self_pay,
        msgid=body.msgid, answer=settlement_json)
    assert done.settlement is not None
    response = answer(done.answer or settlement_json(done.settlement),
                      200 if done.replayed else 201, done.replayed)
    response.headers["Location"] = url_for("api.get_settlement",
                                           settlement_id=done.settlement.public_id)
    return response


@bp.get("/v1/settlements/<settlement_id>", **NO_OPTIONS)
@api_key_required("settlements.get")
def get_settlement(settlement_id: str):
    """One of this pharmacy's settlements (anyone else's is not_found, like a missing one)."""
    row = None
    if PUBLIC_ID_RE.fullmatch(settlement_id):
        row = settlement_of_pharmacy(settlement_id, current_key().pharmacy_id)
    if row is None:
        raise ApiError("not_found", "未找到该结算单")
    return answer(settlement_json(row), 200)


@bp.post("/v1/settlements/<settlement_id>/cancel", **NO_OPTIONS)
@api_key_required("settlements.cancel")
@limiter.limit(verify_limit, key_func=key_of_request, scope="api-settle")
def cancel_settlement(settlement_id: str):
    """2103: cancel one of this pharmacy's settlements whole; twice → the first answer."""
    body = parse(schemas.CancelRequest)
    if not PUBLIC_ID_RE.fullmatch(settlement_id):
        raise ApiError("not_found", "未找到该结算单")
    done = cancel_service.cancel_message(settlement_id, current_key().pharmacy,
                                         current_api_actor(), body.reason, msgid=body.msgid,
                                         answer=settlement_json)
    assert done.settlement is not None
    return answer(done.answer or settlement_json(done.settlement), 200, done.replayed)


@bp.post("/v1/reversals", **NO_OPTIONS)
@api_key_required("reversals.create")
@limiter.limit(verify_limit, key_func=key_of_request, scope="api-settle")
def create_reversal():
    """2601: undo whatever the original message did (or refuse its late arrival)."""
    body = parse(schemas.ReversalRequest)
    done = cancel_service.reverse(body.msgid, body.original_msgid, current_key().pharmacy,
                                  current_api_actor(), answer=reversal_json)
    shaped = done.answer or reversal_json(body.msgid, body.original_msgid, done.settlement)
    return answer(shaped, 200, done.replayed)


@bp.post("/v1/reconciliations", **NO_OPTIONS)
@api_key_required("reconciliations.totals")
@limiter.limit(verify_limit, key_func=key_of_request, scope="api-settle")
def reconcile_totals():
    """3201: the POS's totals of a China day against ours → match or the differences."""
    body = parse(schemas.ReconciliationRequest)
    theirs = body.model_dump(exclude={"date"})
    done = reconciliation.compare_totals(current_key().pharmacy_id, _day(body.date), theirs,
                                         current_api_actor())
    return answer(schemas.ReconciliationResult.model_validate(done.as_dict()).body(), 200)


@bp.post("/v1/reconciliations/details", **NO_OPTIONS)
@api_key_required("reconciliations.details")
@limiter.limit(verify_limit, key_func=key_of_request, scope="api-settle")
def reconcile_details():
    """3202: the POS's settlements of a China day against ours → what is missing or differs."""
    body = parse(schemas.DetailsRequest)
    rows = [(r.settlement_id, r.amount_fen, r.state) for r in body.settlements]
    done = reconciliation.compare_details(current_key().pharmacy_id, _day(body.date), rows,
                                          current_api_actor())
    return answer(schemas.DetailsResult.model_validate(done.as_dict()).body(), 200)


@bp.route("/", defaults={"rest": ""}, methods=FALLBACK_METHODS, **NO_OPTIONS)
@bp.route("/<path:rest>", methods=FALLBACK_METHODS, **NO_OPTIONS)
def fallback(rest: str):
    """Anything else under /api: JSON not_found, or method_not_allowed with Allow."""
    adapter = current_app.url_map.bind_to_environ(request.environ)
    allowed = set()
    for method in PROBED_METHODS:
        try:
            endpoint, _ = adapter.match(method=method)
        except (NotFound, MethodNotAllowed, RequestRedirect):
            continue
        if endpoint != "api.fallback":
            allowed.add(method)
    if allowed:
        raise MethodNotAllowed(valid_methods=sorted(allowed))
    raise ApiError("not_found")
