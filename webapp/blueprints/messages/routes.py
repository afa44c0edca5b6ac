"""Inbox views: list, open one, mark all read."""

from flask import flash, redirect, render_template, url_for
from flask_login import current_user

from webapp.blueprints.messages import bp
from webapp.forms import ActionForm
from webapp.messages import queries
from webapp.messages import services as messages
from webapp.web import page_number, role_required, safe_next


@bp.route("/")
@role_required("insured")
def inbox():
    """消息: the person's messages, newest first, paged."""
    page = queries.inbox_page(current_user.person_id, page_number())
    return render_template("messages/inbox.html", page=page, form=ActionForm())


@bp.route("/<public_id>")
@role_required("insured")
def show(public_id: str):
    """Open one message (marks it read) and follow its link when it has one."""
    message = messages.open_message(current_user.person_id, public_id)
    if message.link:
        return redirect(safe_next(message.link, url_for("messages.inbox")))
    return render_template("messages/show.html", message=message)


@bp.route("/read-all", methods=["POST"])
@role_required("insured")
def read_all():
    """Mark every message read."""
    if not ActionForm().validate_on_submit():
        flash("页面已过期，请重试", "error")
    elif count := messages.mark_all_read(current_user.person_id):
        flash(f"已将{count}条消息标为已读", "success")
    else:
        flash("没有未读消息", "success")
    return redirect(url_for("messages.inbox"))
