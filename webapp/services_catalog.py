"""The home page's service grid: one place naming each service and where it lives."""

from __future__ import annotations

from dataclasses import dataclass

from flask import url_for


@dataclass(frozen=True)
class Service:
    """One tile of the service grid and the endpoint of its page."""

    key: str
    label: str
    icon: str  # a name in templates/_macros/icons.html
    endpoint: str
    description: str


SERVICES = [
    Service("kinship", "亲情账户", "family", "family.index", "为家人添加亲情账户，代家人出示医保码"),
    Service("aid", "家庭共济", "aid", "aid.index", "用个人账户余额为近亲属支付医药费用"),
    Service("code", "医保码", "code", "codes.index", "出示本人或家人的医保电子凭证"),
    Service("records", "消费记录", "records", "records.index", "查看本人及家人的医保消费记录"),
    Service("messages", "消息", "messages", "messages.inbox", "绑定、审核与支付通知"),
]
_BY_KEY = {s.key: s for s in SERVICES}


def service(key: str) -> Service:
    """The service with this key (KeyError for an unknown one)."""
    return _BY_KEY[key]


def service_url(key: str) -> str:
    """Where a tile or tab leads: the service's page."""
    return url_for(service(key).endpoint)
