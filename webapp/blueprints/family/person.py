"""家人主页 (family.person): one person's code entry, 本年医疗费用, 消费记录 and insurance.

The URL names the person by their opaque public id (one's own page too); the loader in
``webapp.kinship.person_queries`` answers 404 to anyone who is not the person or a holder of
an 已绑定 binding to them.
"""

from __future__ import annotations

from flask import render_template
from flask_login import current_user

from webapp import charts
from webapp.blueprints.family import bp
from webapp.kinship import person_queries
from webapp.web import role_required


def elder() -> bool:
    """Whether the logged-in user reads in 长辈模式."""
    return bool(current_user.elder_mode)


@bp.app_template_global("avatar_word")
def avatar_word(binding=None) -> str:
    """Jinja: the text of a family avatar (我 / 儿子 / 母亲 …)."""
    return person_queries.avatar_word(binding)


@bp.app_template_global("month_chart")
def month_chart(bars, title: str, elder_mode: bool = False):
    """Jinja: the year's month chart (rows in 长辈模式), e.g. per member on 消费明细."""
    return charts.month_chart(bars, title, elder=elder_mode)


@bp.route("/people/<public_id>")
@role_required("insured")
def person(public_id: str):
    """One family member's page (or one's own)."""
    page = person_queries.person_page(current_user.person, public_id)
    chart = charts.month_chart(page.bars, page.chart_title, elder=elder())
    return render_template("family/person.html", page=page, chart=chart)
