"""Views of the shell: home grid and the 长辈模式 switch."""

from flask import abort, flash, make_response, redirect, render_template, request, url_for
from flask_login import current_user

from webapp.accounts import services as accounts
from webapp.blueprints.main import bp
from webapp.forms import ActionForm
from webapp.kinship import person_queries
from webapp.services_catalog import SERVICES
from webapp.web import safe_next

ELDER_COOKIE = "elder_mode"
# Staff land on their own work page.
STAFF_HOME = {"pharmacy": "pharmacy.scan", "reviewer": "review.queue"}


@bp.route("/")
def index():
    """首页: the 医保码 entry, one's own balance and the service grid (staff land on their own
    work page)."""
    if current_user.is_authenticated and current_user.role in STAFF_HOME:
        return redirect(url_for(STAFF_HOME[current_user.role]))
    person = current_user.person if current_user.is_authenticated else None
    return render_template("main/index.html", services=SERVICES,
                           card=person_queries.home_card(person))


@bp.route("/settings/elder", methods=["POST"])
def toggle_elder():
    """Switch 长辈模式 on or off; remembered on the account, or in a cookie when logged out."""
    if not ActionForm().validate_on_submit():
        abort(400)
    enabled = request.form.get("enabled") == "1"
    if current_user.is_authenticated:
        accounts.set_elder_mode(current_user._get_current_object(), enabled)
    flash("已开启长辈模式" if enabled else "已关闭长辈模式", "success")
    response = make_response(redirect(safe_next(request.form.get("next"), url_for("main.index"))))
    response.set_cookie(
        ELDER_COOKIE, "1" if enabled else "0", max_age=3600 * 24 * 365, samesite="Lax",
        httponly=True,
    )
    return response

