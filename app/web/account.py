"""The signed-in user's own account: roles and locations at a glance, language, password.

The password policy names the rule a new password breaks; the language is the user's own choice.
"""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, url_for
from flask_login import current_user, login_required
from flask_wtf import FlaskForm
from wtforms import PasswordField, SelectChoice, SelectField
from wtforms.validators import DataRequired, EqualTo

from app.i18n import LOCALES, _, _l
from app.kernel import users
from app.meta import access, identity
from app.web.session import db_session

bp = Blueprint("account", __name__, url_prefix="/account")


class ChangePasswordForm(FlaskForm):
    current = PasswordField(_l("Current password"), validators=[DataRequired()])
    password = PasswordField(_l("New password"), validators=[DataRequired()])
    confirm = PasswordField(
        _l("Repeat the new password"),
        validators=[DataRequired(), EqualTo("password", message=_l("The passwords differ."))],
    )


LOCALE_LABELS = {"zh_CN": "中文", "en": "English"}


class LanguageForm(FlaskForm):
    locale = SelectField(
        _l("Language"),
        choices=[SelectChoice(code, LOCALE_LABELS.get(code, code)) for code in LOCALES],
    )


@bp.route("", methods=["GET", "POST"])
@login_required
def overview():
    """Who am I here: roles, locations, language (changeable)."""
    form = LanguageForm(locale=current_user.locale)
    if form.validate_on_submit():
        sql = db_session()
        identity.update_user(sql, current_user, locale=form.locale.data)
        sql.commit()
        flash(_("Saved."), "info")
        return redirect(url_for("account.overview"))
    roles = access.role_definitions()
    labels = [roles[name]["label"] for name in current_user.role_names if name in roles]
    return render_template("account/overview.html", form=form, role_labels=labels)


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
