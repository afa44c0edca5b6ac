"""The POS API views: verify a code, settle with its token, read one of our settlements.

Shaped like the national terminal flow (XJ-D01-2019 e-voucher): decode the code through the
platform → the patient's ID type and number, name, insured region, gender, birth date and a
settlement token → settle with that token for a business type (02121 药店购药). Every rule
and state change is in ``webapp.codes.settlement`` — the same functions the pharmacy pages
call; this module only translates JSON.
"""

from __future__ import annotations

import re
from datetime import datetime

from flask import current_app, jsonify, request, url_for
from sqlalchemy import select
from werkzeug.exceptions import MethodNotAllowed, NotFound
from werkzeug.routing import RequestRedirect

from webapp.blueprints.api import bp
from webapp.blueprints.api.auth import (
    api_key_required,
    current_api_actor,
    current_key,
    key_of_request,
    verify_limit,
)
from webapp.blueprints.api.errors import ApiError
from webapp.blueprints.api.openapi import build_document
from webapp.blueprints.api.validation import settle_body, verify_body
from webapp.codes import settlement as settlement_service
from webapp.codes.services import is_male
from webapp.extensions import db, limiter
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
FALLBACK_METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE"]


def iso(dt: datetime) -> str:
    """A stored naive-UTC time as RFC 3339 ('2025-05-01T02:03:04Z')."""
    return dt.replace(microsecond=0).isoformat() + "Z"


def verification_json(v: settlement_service.Verification) -> dict:
    """The verify answer: the national terminal fields, masked, plus the settlement token."""
    patient = v.patient
    insurance_code, insurance_name = INSURANCE_TYPES[patient.insurance_type]
    on_behalf = v.binding is not None and v.holder is not None
    return {
        "id_type": ID_TYPE_RESIDENT_CARD,
        "id_number": mask_id(patient.id_number),
        "name": mask_name(patient.name),
        "gender": "1" if is_male(patient) else "2",
        "birth_date": patient.birth_date.isoformat(),
        "age": v.age,
        "insured_region": patient.region_code,
        "insurance_type": insurance_code,
        "insurance_type_name": insurance_name,
        "balance_fen": v.balance_fen,
        "aid_available_fen": v.aid_available_fen,
        "max_amount_fen": v.max_amount_fen,
        "shown_by": "relative" if on_behalf else "self",
        "shown_by_text": v.shown_by,
        "settlement_token": v.token,
        "token_expires_at": iso(v.token_expires_at),
    }


def settlement_json(s: Settlement) -> dict:
    """A settlement and its split (个人账户 → 家庭共济 → 个人自付)."""
    return {
        "settlement_id": s.public_id,
        "business_type": s.business_type,
        "total_fen": s.total_fen,
        "personal_account_fen": s.account_fen,
        "aid_fen": s.aid_fen,
        "self_pay_fen": s.cash_fen,
        "items": s.items,
        "shown_by": "relative" if s.binding_id else "self",
        "created_at": iso(s.created_at),
    }


def items_text(items: list[dict]) -> str:
    """'布洛芬缓释胶囊×1 ¥23.50；维生素C片×2 ¥9.00' — what the settlement row keeps."""
    return "；".join(
        f"{i['name']}×{i['quantity']} ¥{yuan(i['amount_fen'])}"
        for i in items
    )


@bp.get("/openapi.json")
def openapi_document():
    """The OpenAPI 3.1 document of this API (public: it holds no secrets)."""
    return jsonify(build_document())


@bp.post("/v1/codes/verify")
@api_key_required("codes.verify")
@limiter.limit(verify_limit, key_func=key_of_request, scope="api-verify")
def verify_code():
    """Decode a scanned 医保码 → the patient (masked) and a settlement token."""
    code = verify_body()
    checked = settlement_service.verify(code, current_key().pharmacy, current_api_actor())
    return no_store(jsonify(verification_json(checked)))


@bp.post("/v1/settlements")
@api_key_required("settlements.create")
@limiter.limit(verify_limit, key_func=key_of_request, scope="api-settle")
def create_settlement():
    """Settle a purchase with the token of a verify: one transaction, exactly once."""
    body = settle_body()
    if sum(i["amount_fen"] for i in body["items"]) != body["amount_fen"]:
        raise ApiError("invalid_amount", "药品明细金额合计与结算金额不一致", field="items")
    done = settlement_service.settle(
        body["token"], current_key().pharmacy, current_api_actor(), body["amount_fen"],
        items_text(body["items"]), business_type=body["business_type"],
        allow_cash=body["allow_self_pay"],
    )
    response = no_store(jsonify(settlement_json(done)))
    response.status_code = 201
    response.headers["Location"] = url_for("api.get_settlement", settlement_id=done.public_id)
    return response


@bp.get("/v1/settlements/<settlement_id>")
@api_key_required("settlements.get")
def get_settlement(settlement_id: str):
    """One of this pharmacy's settlements (anyone else's is not_found, like a missing one)."""
    row = None
    if PUBLIC_ID_RE.fullmatch(settlement_id):
        row = db.session.scalar(select(Settlement).where(
            Settlement.public_id == settlement_id,
            Settlement.pharmacy_id == current_key().pharmacy_id,
        ))
    if row is None:
        raise ApiError("not_found", "未找到该结算单")
    return no_store(jsonify(settlement_json(row)))


@bp.route("/", defaults={"rest": ""}, methods=FALLBACK_METHODS)
@bp.route("/<path:rest>", methods=FALLBACK_METHODS)
def fallback(rest: str):
    """Anything else under /api: JSON not_found, or method_not_allowed with Allow."""
    adapter = current_app.url_map.bind_to_environ(request.environ)
    allowed = set()
    for method in FALLBACK_METHODS:
        try:
            endpoint, _ = adapter.match(method=method)
        except (NotFound, MethodNotAllowed, RequestRedirect):
            continue
        if endpoint != "api.fallback":
            allowed.add(method)
    if allowed:
        raise MethodNotAllowed(valid_methods=sorted(allowed))
    raise ApiError("not_found")
