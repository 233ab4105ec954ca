"""The signed-in user's own account: change the password (the policy names the broken rule)."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, url_for
from flask_login import current_user, login_required
from flask_wtf import FlaskForm
from wtforms import PasswordField
from wtforms.validators import DataRequired, EqualTo

from app.i18n import _, _l
from app.kernel import users
from app.web.session import db_session

bp = Blueprint("account", __name__, url_prefix="/account")


class ChangePasswordForm(FlaskForm):
    current = PasswordField(_l("Current password"), validators=[DataRequired()])
    password = PasswordField(_l("New password"), validators=[DataRequired()])
    confirm = PasswordField(
        _l("Repeat the new password"),
        validators=[DataRequired(), EqualTo("password", message=_l("The passwords differ."))],
    )


@bp.route("/password", methods=["GET", "POST"])
@login_required
def change_password():
    form = ChangePasswordForm()
    if form.validate_on_submit():
        sql = db_session()
        try:
            users.change_password(sql, current_user, form.current.data, form.password.data)
        except users.PasswordPolicyViolation as exc:
            sql.rollback()
            getattr(form, exc.field).errors.append(str(exc))
        else:
            sql.commit()
            flash(_("Your password was changed."), "info")
            return redirect(url_for("pages.home"))
    status = 422 if form.errors else 200
    return render_template("account/password.html", form=form), status
