"""The home page's service grid: one place naming each service and where it lives."""

from __future__ import annotations

from dataclasses import dataclass

from flask import current_app, url_for


@dataclass(frozen=True)
class Service:
    """One tile of the service grid; ``endpoint`` is None until the service exists."""

    key: str
    label: str
    icon: str  # a name in templates/_macros/icons.html
    endpoint: str | None
    description: str


SERVICES = [
    Service("kinship", "亲情账户", "family", "family.index", "为家人添加亲情账户，代家人出示医保码"),
    Service("aid", "家庭共济", "aid", "aid.index", "用个人账户余额为近亲属支付医药费用"),
    Service("code", "医保码", "code", "codes.index", "出示本人或家人的医保电子凭证"),
    Service("records", "消费记录", "records", "records.index", "查看本人及家人的医保消费记录"),
    Service("messages", "消息", "messages", "messages.inbox", "绑定、审核与支付通知"),
]


def service(key: str) -> Service:
    """The service with this key."""
    return next(s for s in SERVICES if s.key == key)


def service_url(key: str) -> str:
    """Where a tile or tab leads: the service's page, or the plain 'not available yet' page."""
    svc = service(key)
    if svc.endpoint and svc.endpoint in current_app.view_functions:
        return url_for(svc.endpoint)
    return url_for("main.unavailable", key=key)


def is_available(key: str) -> bool:
    """Whether the service's page exists in this build."""
    svc = service(key)
    return bool(svc.endpoint and svc.endpoint in current_app.view_functions)
