"""The region policy table (policy.json): a national default plus per-province overrides.

Code asks ``policy_for(region_code)`` and never hard-codes a rule's number.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from functools import lru_cache
from pathlib import Path
from types import MappingProxyType
from typing import Any

from flask import current_app, has_app_context

from webapp.face.rules import FACE_CHECKS, FaceRules, check_face
from webapp.material_pages import MaterialPages, pages_table
from webapp.policy_checks import (
    Check,
    Context,
    PolicyError,
    an_object,
    at_least,
    boolean,
    codes,
    labels,
    optional_int,
    text,
)
from webapp.regions import PROVINCES, is_region_code, province_name, province_of

__all__ = ["Check", "PolicyError", "load_policy", "policy_for", "relation_label", "age_order"]

DEFAULT_PATH = Path(__file__).with_name("policy.json")
VERSION = 1
FORMATS = ("jpeg", "png", "pdf")
INSURANCE_TYPES = ("employee", "resident")
NATIONAL_NAME = "全国"
# How a relative's birth date must compare with the applicant's (policy.json "age_order").
AGE_ORDERS = ("younger", "older")

@dataclass(frozen=True)
class KinshipRules:
    """亲情账户 rules: limits, relations, who confirms, proof materials, review."""

    max_members: int
    max_holders_per_month: int
    relations: tuple[str, ...]
    self_confirm_age: int
    under_age_materials: tuple[str, ...]
    materials_by_relation: Mapping[str, tuple[str, ...]] = field(hash=False)
    material_formats: tuple[str, ...]
    material_max_bytes: int
    review_required: bool
    review_working_days: int
    turning_age_grace_days: int
    notice_version: str
    letter_version: str

    def materials_for(self, relation: str, under_age: bool) -> tuple[str, ...]:
        """Material codes accepted for the relation; under age only 出生医学证明/户口本 kinds."""
        allowed = self.materials_by_relation.get(relation, ())
        if not under_age:
            return allowed
        return tuple(m for m in allowed if m in self.under_age_materials) or (
            self.under_age_materials
        )


@dataclass(frozen=True)
class AidRules:
    """家庭共济 rules: who may own a group, its size, relations and options."""

    insurance_types: tuple[str, ...]
    max_members: int
    max_children: int | None
    relations: tuple[str, ...]
    self_confirm_age: int
    same_province: bool
    authorisation_window: bool
    monthly_cap_allowed: bool
    notice_version: str


@dataclass(frozen=True)
class InvitationRules:
    """Invitation links: how long they stay valid."""

    valid_hours: int


@dataclass(frozen=True)
class CodeRules:
    """医保码: refresh period and the validity of each code."""

    refresh_seconds: int
    valid_seconds: int


@dataclass(frozen=True)
class PharmacyRules:
    """Pharmacy settlement: the largest amount accepted in one purchase; how many days after its
    China day a settlement may be cancelled (0 = the same day); how long message ids are kept."""

    max_amount_fen: int
    cancel_days: int = 0
    msgid_keep_days: int = 7


@dataclass(frozen=True)
class Policy:
    """The rules that apply in one province (region_code 'XX0000'; '' for the national default)."""

    region_code: str
    region_name: str
    profile_code: str | None  # the province whose profile applied; None = national default
    kinship: KinshipRules
    aid: AidRules
    invitation: InvitationRules
    code: CodeRules
    face: FaceRules
    pharmacy: PharmacyRules


@dataclass(frozen=True)
class PolicyTable:
    """The loaded file: labels, the national default and each province profile."""

    version: int
    relations: Mapping[str, str] = field(hash=False)
    materials: Mapping[str, str] = field(hash=False)
    age_orders: Mapping[str, str] = field(hash=False)
    default: Policy
    profiles: Mapping[str, Policy] = field(hash=False)
    # Pages per material (webapp/material_pages.py); a material not named takes 1 to 4.
    material_pages: Mapping[str, MaterialPages] = field(default_factory=dict, hash=False)
    # The national default named for each province without a profile, made once per province.
    _defaults: dict[str, Policy] = field(default_factory=dict, hash=False, compare=False,
                                         repr=False)

    def for_region(self, code: str) -> Policy:
        """The policy for any 6-digit region code: its province profile or the national default."""
        if not is_region_code(code):
            raise ValueError(f"region code must be 6 digits, got {code!r}")
        province = province_of(code)
        profile = self.profiles.get(province)
        if profile is not None:
            return profile
        named = self._defaults.get(province)
        if named is None:
            named = self._defaults[province] = replace(
                self.default, region_code=province, region_name=province_name(province))
        return named

    def relation_label(self, code: str) -> str:
        """The Chinese label of a relation code ('parent' → '父母')."""
        return self.relations.get(code, "其他")

    def material_label(self, code: str) -> str:
        """The Chinese label of a material code ('hukou' → '户口本')."""
        return self.materials.get(code, "其他材料")

    def pages_for(self, code: str) -> MaterialPages:
        """How many pages the material takes and which (MaterialPages() when not named)."""
        return self.material_pages.get(code) or MaterialPages()

    def age_order(self, relation: str) -> str | None:
        """'younger' / 'older' when the relative must be younger / older than the applicant."""
        return self.age_orders.get(relation)


# --- validation (the checkers are in webapp/policy_checks.py) ---------------------------

_relation_list = codes("relation", lambda ctx: ctx.relations)
_material_list = codes("material", lambda ctx: ctx.materials)
_format_list = codes("format", lambda ctx: FORMATS)
_insurance_list = codes("insurance type", lambda ctx: INSURANCE_TYPES)


def _materials_by_relation(value: Any, path: str, ctx: Context) -> dict[str, tuple[str, ...]]:
    """An object mapping relation codes to lists of material codes."""
    if not isinstance(value, dict):
        raise ctx.fail(path, "must be an object")
    for key in value:
        if key not in ctx.relations:
            raise ctx.fail(f"{path}.{key}", "is not a known relation code")
    return {key: _material_list(items, f"{path}.{key}", ctx) for key, items in value.items()}


SECTIONS: dict[str, tuple[type, dict[str, Check]]] = {
    "kinship": (
        KinshipRules,
        {
            "max_members": at_least(1),
            "max_holders_per_month": at_least(1),
            "relations": _relation_list,
            "self_confirm_age": at_least(1),
            "under_age_materials": _material_list,
            "materials_by_relation": _materials_by_relation,
            "material_formats": _format_list,
            "material_max_bytes": at_least(1),
            "review_required": boolean,
            "review_working_days": at_least(1),
            "turning_age_grace_days": at_least(0),
            "notice_version": text,
            "letter_version": text,
        },
    ),
    "aid": (
        AidRules,
        {
            "insurance_types": _insurance_list,
            "max_members": at_least(1),
            "max_children": optional_int,
            "relations": _relation_list,
            "self_confirm_age": at_least(1),
            "same_province": boolean,
            "authorisation_window": boolean,
            "monthly_cap_allowed": boolean,
            "notice_version": text,
        },
    ),
    "invitation": (InvitationRules, {"valid_hours": at_least(1)}),
    "code": (CodeRules, {"refresh_seconds": at_least(1), "valid_seconds": at_least(1)}),
    "face": (FaceRules, FACE_CHECKS),
    "pharmacy": (PharmacyRules, {"max_amount_fen": at_least(1), "cancel_days": at_least(0),
                                 "msgid_keep_days": at_least(1)}),
}


def _profile(raw: Any, path: str, ctx: Context, complete: bool) -> dict[str, dict[str, Any]]:
    """Check every section of a profile (all keys required when complete) and return it cleaned."""
    extra = () if complete else ("name", "note")
    an_object(raw, path, ctx, (*SECTIONS, *extra), SECTIONS if complete else ())
    out: dict[str, dict[str, Any]] = {}
    for section, (_, checks) in SECTIONS.items():
        if section not in raw:
            continue
        where = f"{path}.{section}"
        body = an_object(raw[section], where, ctx, checks, checks if complete else ())
        out[section] = {
            key: checks[key](value, f"{where}.{key}", ctx) for key, value in body.items()
        }
    return out


def _merge(default: dict[str, dict[str, Any]], override: dict[str, dict[str, Any]]) -> dict:
    """The default with the override's values laid over it, nested objects merged key by key."""
    merged = {section: dict(values) for section, values in default.items()}
    for section, values in override.items():
        for key, value in values.items():
            old = merged[section].get(key)
            merged[section][key] = {**old, **value} if isinstance(old, dict) else value
    return merged


def _build(merged: dict, path: str, ctx: Context, code: str, name: str, profile: str | None):
    """Cross-check a complete profile and turn it into a Policy."""
    kin, aid, qr = merged["kinship"], merged["aid"], merged["code"]
    for relation in kin["relations"]:
        if relation not in kin["materials_by_relation"]:
            raise ctx.fail(
                f"{path}.kinship.materials_by_relation", f"has no entry for {relation!r}"
            )
    if aid["max_children"] is not None and aid["max_children"] > aid["max_members"]:
        raise ctx.fail(f"{path}.aid.max_children", "must not exceed aid.max_members")
    if qr["valid_seconds"] < qr["refresh_seconds"]:
        raise ctx.fail(f"{path}.code.valid_seconds", "must not be less than code.refresh_seconds")
    check_face(merged["face"], f"{path}.face", ctx)
    kin = {**kin, "materials_by_relation": MappingProxyType(dict(kin["materials_by_relation"]))}
    sections = {s: SECTIONS[s][0](**(kin if s == "kinship" else merged[s])) for s in SECTIONS}
    return Policy(region_code=code, region_name=name, profile_code=profile, **sections)


def _age_order(raw: Any, path: str, ctx: Context) -> dict[str, str]:
    """{"younger": [relations], "older": [relations]} → relation → order (no relation in both)."""
    an_object(raw, path, ctx, AGE_ORDERS, AGE_ORDERS)
    orders: dict[str, str] = {}
    for order in AGE_ORDERS:
        for relation in _relation_list(raw[order], f"{path}.{order}", ctx):
            if relation in orders:
                raise ctx.fail(f"{path}.{order}", f"lists {relation!r} also under {orders[relation]}")
            orders[relation] = order
    return orders


def load_policy(path: str | Path | None = None) -> PolicyTable:
    """Read and validate the policy file (default: webapp/policy.json); PolicyError if bad."""
    path = Path(path) if path else DEFAULT_PATH
    ctx = Context(source=path.name)
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except OSError as err:
        raise PolicyError(f"{path.name}: cannot be read ({err.strerror or err})") from err
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise PolicyError(f"{path.name}: is not valid JSON ({err})") from err
    top = ("version", "relations", "materials", "age_order", "default", "regions")
    an_object(raw, "", ctx, (*top, "material_pages"), top)
    if raw["version"] != VERSION or isinstance(raw["version"], bool):
        raise ctx.fail("version", f"must be {VERSION}")
    ctx.relations = labels(raw["relations"], "relations", ctx)
    ctx.materials = labels(raw["materials"], "materials", ctx)
    orders = _age_order(raw["age_order"], "age_order", ctx)
    default = _profile(raw["default"], "default", ctx, complete=True)
    national = _build(default, "default", ctx, "", NATIONAL_NAME, None)
    regions = raw["regions"]
    an_object(regions, "regions", ctx, regions if isinstance(regions, dict) else ())
    profiles: dict[str, Policy] = {}
    for code, body in regions.items():
        where = f"regions.{code}"
        if code not in PROVINCES:
            raise ctx.fail(where, "is not a province code (a known 'XX0000' region code)")
        override = _profile(body, where, ctx, complete=False)
        name = text(body["name"], f"{where}.name", ctx) if "name" in body else province_name(code)
        if "note" in body and not isinstance(body["note"], str):
            raise ctx.fail(f"{where}.note", "must be a string")
        profiles[code] = _build(_merge(default, override), where, ctx, code, name, code)
    return PolicyTable(
        version=VERSION,
        relations=MappingProxyType(ctx.relations),
        materials=MappingProxyType(ctx.materials),
        age_orders=MappingProxyType(orders),
        default=national,
        profiles=MappingProxyType(profiles),
        material_pages=MappingProxyType(pages_table(raw.get("material_pages", {}), ctx)),
    )


# --- the app's one way to ask -------------------------------------------------------------


@lru_cache(maxsize=1)
def default_table() -> PolicyTable:
    """The table loaded once from webapp/policy.json (``default_table.cache_clear()`` reloads)."""
    return load_policy()


def current_table() -> PolicyTable:
    """The running app's table (its POLICY_FILE, checked at start-up), else the shipped one."""
    if has_app_context():
        table = current_app.extensions.get("policy")
        if table is not None:
            return table
    return default_table()


def policy_for(region_code: str) -> Policy:
    """The policy of the province of a 6-digit region code (national default if no profile)."""
    return current_table().for_region(region_code)


def relation_label(code: str) -> str:
    """The Chinese label of a relation code ('spouse' → '配偶'), from the app's policy file."""
    return current_table().relation_label(code)


def material_label(code: str) -> str:
    """The Chinese label of a material code ('birth_cert' → '出生医学证明'), from the app's file."""
    return current_table().material_label(code)


def age_order(relation: str) -> str | None:
    """'younger' / 'older' when a relative of this relation must be younger / older than the
    applicant (None: no rule); from the app's policy file."""
    return current_table().age_order(relation)


def __getattr__(name: str) -> Mapping[str, str]:
    """RELATIONS and MATERIALS (code → label) of the app's policy file."""
    if name == "RELATIONS":
        return current_table().relations
    if name == "MATERIALS":
        return current_table().materials
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
