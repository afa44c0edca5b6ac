"""The region policy table: national defaults, province overrides and file validation."""

from __future__ import annotations

import copy
import dataclasses
import json

import pytest

from webapp import policy
from webapp.policy import DEFAULT_PATH, PolicyError, load_policy, policy_for

RAW = json.loads(DEFAULT_PATH.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def table():
    """The shipped policy.json, loaded and validated."""
    return load_policy()


def test_national_default(table):
    """A province without a profile gets the national numbers of DESIGN.md."""
    p = table.for_region("110101")
    assert (p.region_code, p.region_name, p.profile_code) == ("110000", "北京市", None)
    k = p.kinship
    assert (k.max_members, k.max_holders_per_month, k.self_confirm_age) == (5, 2, 16)
    assert k.relations == ("parent", "spouse", "child")
    assert k.under_age_materials == ("birth_cert", "hukou")
    assert k.material_formats == ("jpeg", "png", "pdf")
    assert k.material_max_bytes == 5 * 1024 * 1024
    assert k.review_required is False
    assert k.review_working_days == 3
    a = p.aid
    assert a.insurance_types == ("employee",)
    assert (a.max_members, a.max_children, a.self_confirm_age) == (8, None, 16)
    assert a.relations == ("spouse", "parent", "child", "sibling", "grandparent", "grandchild")
    assert (a.same_province, a.authorisation_window, a.monthly_cap_allowed) == (True, False, False)
    assert p.invitation.valid_hours == 72
    assert (p.code.refresh_seconds, p.code.valid_seconds) == (60, 90)
    assert p.face.pass_valid_seconds == 300
    assert p.pharmacy.max_amount_fen == 500000


def test_table_default_is_national(table):
    """The table's own default profile is named 全国 and has no region."""
    assert (table.default.region_code, table.default.region_name) == ("", "全国")
    assert table.default.kinship == table.for_region("330100").kinship


def test_jiangsu_reviews_materials_and_keeps_the_rest(table):
    """江苏: review on, 共济 authorisation window and monthly cap; other numbers national."""
    p = table.for_region("320102")
    assert (p.region_code, p.region_name, p.profile_code) == ("320000", "江苏省", "320000")
    assert p.kinship.review_required is True
    assert p.kinship.max_members == 5
    assert p.kinship.relations == table.default.kinship.relations
    assert p.aid.authorisation_window is True
    assert p.aid.monthly_cap_allowed is True
    assert p.aid.max_members == 8


def test_jiangxi_adds_siblings_and_guardians_to_kinship(table):
    """江西: the kinship relations also allow 兄弟姐妹 and 法定监护人."""
    p = table.for_region("360102")
    assert p.region_name == "江西省"
    assert set(p.kinship.relations) == {"parent", "spouse", "child", "sibling", "guardian"}
    assert p.kinship.materials_by_relation["parent"] == ("hukou", "id_card")
    assert p.kinship.review_required is False
    assert p.aid == table.default.aid


def test_hainan_limits_aid_to_close_family_and_three_children(table):
    """海南 (seed 004): 共济 only 配偶/父母/子女, at most 3 children, still 8 members."""
    a = table.for_region("460100").aid
    assert a.max_children == 3
    assert a.relations == ("spouse", "parent", "child")
    assert a.max_members == 8
    assert table.for_region("460100").kinship == table.default.kinship


def test_unknown_province_gets_the_national_default(table):
    """A code outside the 34 provinces still gets the default, named 未知地区."""
    p = table.for_region("990101")
    assert (p.region_code, p.region_name, p.profile_code) == ("990000", "未知地区", None)
    assert p.kinship == table.default.kinship


@pytest.mark.parametrize("code", ["", "36010", "3601021", "36O102", None])
def test_malformed_region_code_is_a_programming_error(table, code):
    """Only 6-digit region codes are asked about."""
    with pytest.raises(ValueError):
        table.for_region(code)


def test_policy_is_frozen(table):
    """Rules cannot be changed at run time."""
    with pytest.raises(dataclasses.FrozenInstanceError):
        table.default.kinship.max_members = 6  # type: ignore[misc]
    with pytest.raises(TypeError):
        table.default.kinship.materials_by_relation["child"] = ()  # type: ignore[index]


def test_materials_for_adult_and_under_age(table):
    """Adults: the relation's materials; under 16: only 出生医学证明/户口本 kinds."""
    k = table.default.kinship
    assert k.materials_for("parent", under_age=False) == ("hukou", "id_card")
    assert k.materials_for("spouse", under_age=False) == ("marriage_cert", "hukou")
    assert k.materials_for("child", under_age=True) == ("birth_cert", "hukou")
    assert k.materials_for("sibling", under_age=True) == ("hukou",)
    assert k.materials_for("parent", under_age=True) == ("hukou",)
    assert k.materials_for("", under_age=False) == ()
    assert k.materials_for("", under_age=True) == ("birth_cert", "hukou")


def test_module_helpers_use_the_shipped_file():
    """policy_for, labels and the RELATIONS/MATERIALS dicts read webapp/policy.json."""
    assert policy_for("460100").aid.max_children == 3
    assert policy_for("110000").aid.max_children is None
    assert policy.relation_label("grandparent") == "祖父母/外祖父母"
    assert policy.relation_label("guardian") == "法定监护人"
    assert policy.material_label("birth_cert") == "出生医学证明"
    assert policy.relation_label("nonsense") == "其他"
    assert policy.RELATIONS["spouse"] == "配偶"
    assert set(policy.MATERIALS) == {"hukou", "birth_cert", "marriage_cert", "id_card"}
    with pytest.raises(AttributeError):
        policy.NO_SUCH_THING  # noqa: B018


def write(tmp_path, raw) -> str:
    """Write raw (a dict or text) as tmp_path/policy.json and return its path."""
    path = tmp_path / "policy.json"
    path.write_text(raw if isinstance(raw, str) else json.dumps(raw, ensure_ascii=False), "utf-8")
    return str(path)


def changed(path: str, value=None, delete: bool = False) -> dict:
    """A copy of the shipped data with the dotted key set to value (or deleted)."""
    raw = copy.deepcopy(RAW)
    *parents, last = path.split(".")
    node = raw
    for key in parents:
        node = node[key]
    if delete:
        del node[last]
    else:
        node[last] = value
    return raw


def test_shipped_file_round_trips(tmp_path):
    """An unchanged copy of the file loads to the same table."""
    assert load_policy(write(tmp_path, RAW)) == load_policy()


DELETE = object()
BAD = [
    # (changed key, new value or DELETE, expected message)
    ("version", 2, "version must be 1"),
    ("version", True, "version must be 1"),
    ("extra", 1, "extra is not a known key"),
    ("regions", DELETE, "regions is missing"),
    ("relations.Parent", "父母", "relations.Parent is not a valid code"),
    ("relations.parent", "", "relations.parent must be a non-empty string"),
    ("materials", {}, "materials must not be empty"),
    ("default.code", DELETE, "default.code is missing"),
    ("default.name", "全国", "default.name is not a known key"),
    ("default.kinship.max_members", DELETE, "default.kinship.max_members is missing"),
    ("default.kinship.colour", "red", "default.kinship.colour is not a known key"),
    ("default.kinship.max_members", "5", "default.kinship.max_members must be a positive integer"),
    ("default.kinship.max_members", 0, "default.kinship.max_members must be a positive integer"),
    ("default.kinship.max_members", 2.5, "default.kinship.max_members must be a positive integer"),
    ("default.code.valid_seconds", True, "default.code.valid_seconds must be a positive integer"),
    (
        "default.kinship.turning_age_grace_days",
        -1,
        "turning_age_grace_days must be an integer >= 0",
    ),
    (
        "default.kinship.review_required",
        "no",
        "default.kinship.review_required must be true or false",
    ),
    (
        "default.kinship.notice_version",
        "",
        "default.kinship.notice_version must be a non-empty string",
    ),
    ("default.kinship.relations", [], "default.kinship.relations must be a non-empty list"),
    ("default.kinship.relations", ["parent", "cousin"], "has unknown relation code 'cousin'"),
    ("default.kinship.relations", ["parent", "parent"], "lists a relation code twice"),
    ("default.kinship.under_age_materials", ["passport"], "has unknown material code 'passport'"),
    ("default.kinship.material_formats", ["gif"], "has unknown format code 'gif'"),
    ("default.aid.insurance_types", ["gold"], "default.aid.insurance_types has unknown insurance"),
    (
        "default.aid.max_children",
        "3",
        "default.aid.max_children must be a positive integer or null",
    ),
    (
        "default.kinship.materials_by_relation.cousin",
        ["hukou"],
        "default.kinship.materials_by_relation.cousin is not a known relation code",
    ),
    (
        "default.kinship.materials_by_relation.child",
        DELETE,
        "default.kinship.materials_by_relation has no entry for 'child'",
    ),
    (
        "default.kinship.materials_by_relation.child",
        "hukou",
        "default.kinship.materials_by_relation.child must be a non-empty list of material codes",
    ),
    ("default.code.valid_seconds", 30, "default.code.valid_seconds must not be less than"),
    ("default.invitation", [], "default.invitation must be an object"),
    ("regions.360102", {}, "regions.360102 is not a province code"),
    ("regions.990000", {}, "regions.990000 is not a province code"),
    ("regions.46000", {}, "regions.46000 is not a province code"),
    (
        "regions.460000.aid.max_members",
        0,
        "policy.json: regions.460000.aid.max_members must be a positive integer",
    ),
    (
        "regions.460000.aid.max_children",
        9,
        "regions.460000.aid.max_children must not exceed aid.max_members",
    ),
    ("regions.460000.aid.colour", 1, "regions.460000.aid.colour is not a known key"),
    ("regions.460000.pharmacy", 5, "regions.460000.pharmacy must be an object"),
    ("regions.460000.shop", {}, "regions.460000.shop is not a known key"),
    ("regions.460000.name", "", "regions.460000.name must be a non-empty string"),
    ("regions.460000.note", 3, "regions.460000.note must be a string"),
    (
        "regions.360000.kinship.relations",
        ["parent", "grandchild_x"],
        "regions.360000.kinship.relations has unknown relation code",
    ),
    ("regions.320000", [], "regions.320000 must be an object"),
    ("age_order", DELETE, "age_order is missing"),
    ("age_order.older", DELETE, "age_order.older is missing"),
    ("age_order.elder", ["parent"], "age_order.elder is not a known key"),
    ("age_order.older", ["parent", "uncle"], "age_order.older has unknown relation code 'uncle'"),
    ("age_order.older", ["parent", "child"], "age_order.older lists 'child' also under younger"),
    ("default.aid.notice_version", DELETE, "default.aid.notice_version is missing"),
    ("default.aid.notice_version", "", "default.aid.notice_version must be a non-empty string"),
]


@pytest.mark.parametrize(
    ("key", "value", "message"), BAD, ids=[b[0] + ":" + repr(b[1])[:12] for b in BAD]
)
def test_malformed_file_names_the_bad_key(tmp_path, key, value, message):
    """Each kind of mistake stops loading with a message naming the key path."""
    raw = changed(key, delete=True) if value is DELETE else changed(key, value)
    with pytest.raises(PolicyError) as caught:
        load_policy(write(tmp_path, raw))
    assert message in str(caught.value)
    assert str(caught.value).startswith("policy.json: ")


def test_region_relation_without_materials_is_refused(tmp_path):
    """A region allowing a relation must say which materials prove it (checked after merging)."""
    raw = changed(
        "default.kinship.materials_by_relation",
        {"parent": ["hukou"], "spouse": ["hukou"], "child": ["hukou"], "sibling": ["hukou"]},
    )
    raw["regions"]["360000"]["kinship"]["relations"] = ["parent", "guardian"]
    with pytest.raises(
        PolicyError,
        match=r"regions\.360000\.kinship\.materials_by_relation has no entry for 'guardian'",
    ):
        load_policy(write(tmp_path, raw))


def test_region_may_override_one_material_list(tmp_path):
    """materials_by_relation is merged key by key over the default."""
    raw = copy.deepcopy(RAW)
    raw["regions"]["460000"]["kinship"] = {"materials_by_relation": {"child": ["hukou"]}}
    k = load_policy(write(tmp_path, raw)).for_region("460000").kinship
    assert k.materials_by_relation["child"] == ("hukou",)
    assert k.materials_by_relation["parent"] == ("hukou", "id_card")


def test_region_without_name_is_named_from_the_region_table(tmp_path):
    """A profile without a name takes the province's name."""
    raw = changed("regions.330000", {"aid": {"max_members": 6}})
    p = load_policy(write(tmp_path, raw)).for_region("330106")
    assert (p.region_name, p.profile_code, p.aid.max_members) == ("浙江省", "330000", 6)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("{not json", "policy.json: is not valid JSON"),
        ("[]", "policy.json: top level must be an object"),
    ],
)
def test_unreadable_json_is_refused(tmp_path, text, message):
    """A file that is not a JSON object says so."""
    with pytest.raises(PolicyError, match=message):
        load_policy(write(tmp_path, text))


def test_file_not_in_utf8_is_refused(tmp_path):
    """A file in another encoding is not valid JSON for us."""
    path = tmp_path / "policy.json"
    path.write_bytes(json.dumps(RAW, ensure_ascii=False).encode("gb18030"))
    with pytest.raises(PolicyError, match="policy.json: is not valid JSON"):
        load_policy(path)


def test_missing_file_is_refused(tmp_path):
    """A missing file stops loading with a clear message."""
    with pytest.raises(PolicyError, match="policy.json: cannot be read"):
        load_policy(tmp_path / "policy.json")


def test_the_app_uses_its_policy_file_and_refuses_a_bad_one(tmp_path):
    """POLICY_FILE is what policy_for answers inside the app; a malformed one stops start-up."""
    from webapp import create_app

    raw = changed("regions.460000.kinship", {**RAW["regions"]["460000"].get("kinship", {}),
                                             "max_members": 3})
    app = create_app({"ENV_NAME": "testing", "SQLALCHEMY_DATABASE_URI": "sqlite://",
                      "POLICY_FILE": write(tmp_path, raw)})
    with app.app_context():
        assert policy_for("460100").kinship.max_members == 3
    assert policy_for("460100").kinship.max_members == 5  # outside an app: the shipped file

    bad = changed("default.kinship.max_members", "五")
    with pytest.raises(PolicyError, match="max_members"):
        create_app({"ENV_NAME": "testing", "SQLALCHEMY_DATABASE_URI": "sqlite://",
                    "POLICY_FILE": write(tmp_path, bad)})


def test_relation_added_through_the_policy_file_gets_its_label(tmp_path):
    """relation_label / material_label answer from the app's POLICY_FILE, not the shipped file.

    (They read the shipped table before, so a relation added here was labelled 其他.)"""
    from webapp import create_app

    raw = copy.deepcopy(RAW)
    raw["relations"]["uncle"] = "叔伯"
    raw["materials"]["letter"] = "关系证明信"
    raw["default"]["kinship"]["materials_by_relation"]["uncle"] = ["letter"]
    raw["regions"]["360000"]["kinship"]["relations"].append("uncle")
    app = create_app({"ENV_NAME": "testing", "SQLALCHEMY_DATABASE_URI": "sqlite://",
                      "POLICY_FILE": write(tmp_path, raw)})
    with app.app_context():
        assert policy.relation_label("uncle") == "叔伯"
        assert policy.material_label("letter") == "关系证明信"
        assert policy.relation_label("parent") == "父母"
        assert policy.RELATIONS["uncle"] == "叔伯"
        assert "uncle" in policy_for("360100").kinship.relations
    assert policy.relation_label("uncle") == "其他"  # outside an app: the shipped file


def test_age_order_and_aid_notice_version_come_from_the_table(tmp_path, table):
    """Which relatives must be younger / older, and the 家庭共济告知书 version, are policy data."""
    from webapp import create_app

    assert [table.age_order(r) for r in ("child", "grandchild", "parent", "grandparent")] == [
        "younger", "younger", "older", "older"]
    assert table.age_order("spouse") is None and table.age_order("sibling") is None
    assert policy.age_order("parent") == "older"
    assert table.for_region("110000").aid.notice_version == "2026-01"

    raw = copy.deepcopy(RAW)
    raw["age_order"] = {"younger": ["child"], "older": ["parent", "grandparent", "sibling"]}
    raw["regions"]["460000"]["aid"]["notice_version"] = "2026-07"
    app = create_app({"ENV_NAME": "testing", "SQLALCHEMY_DATABASE_URI": "sqlite://",
                      "POLICY_FILE": write(tmp_path, raw)})
    with app.app_context():
        assert policy.age_order("sibling") == "older"
        assert policy.age_order("grandchild") is None
        assert policy_for("460100").aid.notice_version == "2026-07"
        assert policy_for("110000").aid.notice_version == "2026-01"
