"""The POS API's requests and answers, defined once (pydantic v2): they validate the body,
shape the answer and generate the OpenAPI document (``webapp.blueprints.api.openapi``).

Requests are strict (a string is a string, an integer an integer, no unknown fields). Rules
about the money itself (amount ≤ 0 or over the policy maximum, items not adding up) are the
settlement's business (422), so their bounds are documented but not enforced here.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator

from webapp.codes.checks import REASON_MAX
from webapp.codes.states import SettlementStatus

CODE_MAX = 64
TOKEN_MAX = 128
ITEM_NAME_MAX = 40
ITEMS_MAX = 20
QUANTITY_MAX = 9999
DETAIL_ROWS_MAX = 10_000
CONTROL_RE = re.compile(r"[\x00-\x1f\x7f]")
# Printable text with at least one non-space character (no control characters).
PRINTABLE = "^[^\\u0000-\\u001f\\u007f]*[^\\s\\u0000-\\u001f\\u007f][^\\u0000-\\u001f\\u007f]*$"
MSGID_PATTERN = "^[A-Za-z0-9]{12}[0-9]{18}$"
DATE_PATTERN = "^[0-9]{4}-[0-9]{2}-[0-9]{2}$"
SETTLEMENT_ID_PATTERN = "^[A-Za-z0-9_-]{1,40}$"


def _unicode(value: str) -> str:
    """Refuse text that is not valid Unicode (lone surrogates from JSON escapes)."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("含有无效字符") from None
    return value


def _printable(value: str) -> str:
    if CONTROL_RE.search(value) or not value.strip():
        raise ValueError("不能为空白或含控制字符")
    return value.strip()


Unicode = AfterValidator(_unicode)
MSGID_DOC = "报文ID：本机构编号(12位，不足左补0) + 时间 yyyyMMddHHmmss(14位) + 顺序号(4位)"
Msgid = Annotated[str, Field(min_length=30, max_length=30, pattern=MSGID_PATTERN,
                             description=MSGID_DOC, examples=["P36010200001202605011030150001"]),
                  Unicode]
BusinessType = Annotated[str, Field(
    min_length=5, max_length=5, pattern="^[0-9]{5}$", examples=["02121"],
    description="业务类型。支持：02121 药店购药；其他取值 422 unsupported_business_type"), Unicode]
Fen = Annotated[int, Field(json_schema_extra={"minimum": 0})]


class Request(BaseModel):
    """A strict JSON request body."""

    model_config = ConfigDict(extra="forbid", strict=True)


class Answer(BaseModel):
    """A JSON answer (no unknown fields; optional fields left out rather than null)."""

    model_config = ConfigDict(extra="forbid")

    def body(self) -> dict[str, Any]:
        """The JSON-ready dict of this answer."""
        return self.model_dump(mode="json", exclude_none=True)


class OptionalMsgid(Request):
    """A request that may carry a msgid (null is refused: leave the field out instead)."""

    msgid: Msgid | None = None

    @field_validator("msgid", mode="before")
    @classmethod
    def _not_null(cls, value: Any) -> Any:
        if value is None:
            raise ValueError("不能为 null")
        return value


class VerifyRequest(OptionalMsgid):
    """扫码或手工录入的医保码（大小写、空格和连字符不敏感）。可带 msgid：重试返回第一次的结果。"""

    code: Annotated[str, Field(min_length=1, max_length=CODE_MAX,
                               examples=["ABCDEF GHJKLM NPQRST"]), Unicode]


class Verification(Answer):
    """解码结果（与国家医保电子凭证终端解码返回的字段对应），姓名与证件号已脱敏。"""

    id_type: Literal["01"] = Field(description="证件类型：01 居民身份证")
    id_number: str = Field(pattern="^[0-9]{4}\\*{10}[0-9]{3}[0-9X]$",
                           description="脱敏的证件号码（前 4 位与后 4 位可见）",
                           examples=["3601**********123X"])
    name: str = Field(min_length=1, description="脱敏姓名", examples=["张*明"])
    gender: Literal["1", "2"] = Field(description="性别（GB/T 2261.1）：1 男，2 女")
    birth_date: str = Field(json_schema_extra={"format": "date"})
    age: int = Field(ge=0, description="今日周岁")
    insured_region: str = Field(pattern="^[0-9]{2}0000$", description="参保地（省级行政区划代码）",
                                examples=["360000"])
    insurance_type: Literal["310", "390"] = Field(
        description="险种类型：310 职工基本医疗保险，390 城乡居民基本医疗保险")
    insurance_type_name: Literal["职工基本医疗保险", "城乡居民基本医疗保险"]
    balance_fen: int = Field(ge=0, description="参保人本人个人账户余额（分）")
    aid_available_fen: int = Field(ge=0, description="家庭共济可用额度（分）")
    max_amount_fen: int = Field(ge=1, description="本药店单笔结算上限（分）")
    shown_by: Literal["self", "relative"] = Field(
        description="self 本人出示；relative 亲属代为出示（亲情账户）")
    shown_by_text: str = Field(examples=["由 李*（母亲）代为出示"])
    settlement_token: str = Field(min_length=1, max_length=TOKEN_MAX,
                                  description="结算凭证：仅本药店可用，单次有效")
    token_expires_at: str = Field(json_schema_extra={"format": "date-time"})


class Item(Request):
    """一条药品明细。"""

    name: Annotated[str, Field(
        min_length=1, max_length=ITEM_NAME_MAX, examples=["布洛芬缓释胶囊"],
        json_schema_extra={"pattern": PRINTABLE}), Unicode, AfterValidator(_printable)]
    quantity: int = Field(ge=1, le=QUANTITY_MAX)
    amount_fen: int = Field(ge=0, description="该项金额（分）")


class Purchase(Request):
    """A purchase to price or settle: token, business type, amount and items."""

    settlement_token: Annotated[str, Field(min_length=1, max_length=TOKEN_MAX), Unicode]
    business_type: BusinessType
    amount_fen: int = Field(examples=[2350], json_schema_extra={"minimum": 1}, description=(
        "结算总金额（分）。≤ 0 或超过药店所在地政策上限：422 invalid_amount"))
    items: list[Item] = Field(min_length=1, max_length=ITEMS_MAX)


class PresettlementRequest(Purchase):
    """预结算（2101）：与结算相同的内容；只试算拆分，不动钱，结算凭证仍然有效。"""


class SettlementRequest(Purchase):
    """用解码得到的结算凭证结算（2102）。金额为整数分；明细金额之和必须等于 amount_fen，否则 422
    invalid_amount；明细合成的文字超过 200 字时 422 invalid_items。必须带 msgid：同一 msgid 同一请求
    返回原结果（200，响应头 X-Replay: true），同一 msgid 不同请求 409 msgid_conflict。"""

    msgid: Msgid

    allow_self_pay: bool = Field(
        default=True, description="账户余额不足时差额由个人自付；false 时不足则 409 insufficient")


class Presettlement(Answer):
    """预结算结果：total = 个人账户 + 共济 + 个人自付（分）；未扣款。"""

    total_fen: int = Field(ge=1)
    personal_account_fen: int = Field(ge=0)
    aid_fen: int = Field(ge=0)
    self_pay_fen: int = Field(ge=0)
    split_text: str = Field(examples=["个人账户¥20.00，现金¥3.50"])


class Settlement(Answer):
    """结算单：total = 个人账户 + 共济 + 个人自付（分）；撤销后 status 为 cancelled。"""

    settlement_id: str = Field(min_length=1)
    business_type: str = Field(pattern="^[0-9]{5}$")
    total_fen: int = Field(ge=1)
    personal_account_fen: int = Field(ge=0)
    aid_fen: int = Field(ge=0)
    self_pay_fen: int = Field(ge=0)
    items: str = Field(examples=["布洛芬缓释胶囊×1 ¥23.50"])
    shown_by: Literal["self", "relative"]
    created_at: str = Field(json_schema_extra={"format": "date-time"})
    status: SettlementStatus = Field(description="settled 已结算；cancelled 已撤销")
    msgid: str | None = Field(default=None, description="结算报文ID（结算时带了才有）")
    cancelled_at: str | None = Field(default=None, json_schema_extra={"format": "date-time"})
    cancel_reason: str | None = None
    self_pay_refunded_fen: int | None = Field(
        default=None, ge=0, description="撤销时以现金退还的个人自付部分（分）")


class CancelRequest(Request):
    """结算撤销（2103）：整笔撤销本药店当日、未对账的结算；钱按原路退回。"""

    msgid: Msgid
    reason: Annotated[str, Field(
        min_length=1, max_length=REASON_MAX, examples=["顾客退货"],
        json_schema_extra={"pattern": PRINTABLE}), Unicode, AfterValidator(_printable)]


class ReversalRequest(Request):
    """冲正（2601）：撤销 original_msgid 做过的事；未送达的报文此后到达将被拒绝（reversed）。"""

    msgid: Msgid
    original_msgid: Msgid


class Reversal(Answer):
    """冲正结果：cancelled 已撤销原结算（settlement 为撤销后的结算单）；recorded 原报文未到达，已登记。"""

    msgid: str
    original_msgid: str
    result: Literal["cancelled", "recorded"]
    settlement: Settlement | None = None


class Totals(BaseModel):
    """一天的合计（分）：已结算的笔数与各项金额，撤销的另计（POS 报来的与我方的同一形状）。"""

    model_config = ConfigDict(extra="forbid", strict=True)

    count: int = Field(ge=0, description="结算笔数（不含已撤销）")
    total_fen: int = Field(ge=0, description="费用总额")
    account_fen: int = Field(ge=0, description="个人账户支付")
    aid_fen: int = Field(ge=0, description="共济支付")
    cash_fen: int = Field(ge=0, description="个人现金支付")
    cancelled_count: int = Field(default=0, ge=0, description="撤销笔数")
    cancelled_fen: int = Field(default=0, ge=0, description="撤销金额")


class ReconciliationRequest(Totals):
    """对总账（3201）：POS 自己统计的某个中国日的合计；一致时该日即告对平，不能再撤销。"""

    date: Annotated[str, Field(pattern=DATE_PATTERN, examples=["2026-05-01"],
                               json_schema_extra={"format": "date"}), Unicode]


class Difference(Answer):
    """一项不一致：我方、POS 方、差额（POS − 我方）。"""

    field: str
    ours: int
    theirs: int
    difference: int


class ReconciliationResult(Answer):
    """对总账结果：match 一致；mismatch 时 differences 列出每项差额。"""

    result: Literal["match", "mismatch"]
    day: str = Field(json_schema_extra={"format": "date"})
    ours: Totals
    theirs: Totals
    differences: list[Difference]


class DetailRow(Request):
    """POS 的一笔明细：结算单号、金额（分）、状态。"""

    settlement_id: Annotated[str, Field(min_length=1, max_length=40), Unicode]
    amount_fen: int = Field(ge=0)
    state: Annotated[SettlementStatus, Field(strict=False)]  # its value, as JSON sends it


class DetailsRequest(Request):
    """对明细账（3202）：POS 某个中国日的全部明细。"""

    date: Annotated[str, Field(pattern=DATE_PATTERN, examples=["2026-05-01"],
                               json_schema_extra={"format": "date"}), Unicode]
    settlements: list[DetailRow] = Field(max_length=DETAIL_ROWS_MAX)


class DetailAnswerRow(Answer):
    """一笔明细。"""

    settlement_id: str
    amount_fen: int
    state: str


class DetailDifference(Answer):
    """双方都有但金额或状态不同的一笔。"""

    settlement_id: str
    ours_amount_fen: int
    theirs_amount_fen: int
    ours_state: str
    theirs_state: str


class DetailsResult(Answer):
    """对明细账结果：missing_ours 我方没有的，missing_theirs POS 没有的，different 不一致的。"""

    result: Literal["match", "mismatch"]
    day: str = Field(json_schema_extra={"format": "date"})
    missing_ours: list[DetailAnswerRow]
    missing_theirs: list[DetailAnswerRow]
    different: list[DetailDifference]


# Every model of the document, by its component name.
COMPONENTS: tuple[type[BaseModel], ...] = (
    VerifyRequest, Verification, Item, PresettlementRequest, Presettlement, SettlementRequest,
    Settlement, CancelRequest, ReversalRequest, Reversal, ReconciliationRequest,
    ReconciliationResult, Totals, Difference, DetailsRequest, DetailRow, DetailsResult,
    DetailAnswerRow, DetailDifference,
)
# State enums the models use: each becomes a component of its own (values from the enum).
ENUMS: tuple[type[SettlementStatus], ...] = (SettlementStatus,)
