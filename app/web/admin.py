"""Admin pages: users (roles, locations, language, active, password reset) and API tokens.

Views only parse and render; validation of roles and locations is in ``app.meta.identity`` and
every change is audited by the kernel with its old and new values.
"""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required
from flask_wtf import FlaskForm
from sqlalchemy import select
from wtforms import (
    BooleanField,
    PasswordField,
    SelectChoice,
    SelectField,
    SelectMultipleField,
    StringField,
)
from wtforms.validators import DataRequired, Length
from wtforms.widgets import CheckboxInput, ListWidget

from app.i18n import LOCALES, _, _l, localized
from app.kernel import audit, tokens, users
from app.kernel.locations import Location
from app.meta import access, identity

bp = Blueprint("admin", __name__, url_prefix="/admin")

LOCALE_LABELS = {"zh_CN": "中文", "en": "English"}


class CheckboxList(SelectMultipleField):
    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


class UserForm(FlaskForm):
    username = StringField(_l("Username"), validators=[DataRequired(), Length(max=64)])
    full_name = StringField(_l("Full name"), validators=[DataRequired(), Length(max=128)])
    password = PasswordField(_l("Password"))
    locale = SelectField(_l("Language"))
    active = BooleanField(_l("Active"), default=True)
    roles = CheckboxList(_l("Roles"))
    locations = SelectMultipleField(_l("Locations"), coerce=int)


class ResetPasswordForm(FlaskForm):
    password = PasswordField(_l("New password"), validators=[DataRequired()])


#: What the token page offers a token's validity as, in days (0: until revoked).
VALIDITY_CHOICES = [
    SelectChoice(30, _l("30 days")), SelectChoice(90, _l("90 days")),
    SelectChoice(180, _l("180 days")), SelectChoice(365, _l("1 year")),
    SelectChoice(730, _l("2 years")), SelectChoice(0, _l("Until revoked")),
]  # fmt: skip


class TokenForm(FlaskForm):
    name = StringField(_l("Name"), validators=[DataRequired(), Length(max=64)])
    role = SelectField(_l("Role"))
    locations = SelectMultipleField(_l("Locations"), coerce=int)
    valid_days = SelectField(
        _l("Valid for"), coerce=int, choices=VALIDITY_CHOICES,
        default=identity.DEFAULT_VALIDITY_DAYS,
    )  # fmt: skip


class RevokeForm(FlaskForm):
    pass


@bp.before_request
@login_required
def _admins_only():
    access.require(current_user, "admin")


def _sql():
    from app.web.session import db_session

    return db_session()


def role_labels() -> dict[str, str]:
    return {name: localized(role["label"]) for name, role in access.role_definitions().items()}


def role_choices() -> list[SelectChoice]:
    return [SelectChoice(name, label) for name, label in role_labels().items()]


def location_choices() -> list[SelectChoice]:
    query = select(Location).where(Location.active.is_(True)).order_by(Location.path)
    return [
        SelectChoice(loc.id, f"{'  ' * (loc.path.count('/') - 2)}{loc.code} {loc.name}")
        for loc in _sql().scalars(query)
    ]


def _fill_choices(form) -> None:
    if hasattr(form, "roles"):
        form.roles.choices = role_choices()
    if hasattr(form, "role"):
        form.role.choices = role_choices()
    if hasattr(form, "locale"):
        form.locale.choices = [SelectChoice(code, LOCALE_LABELS[code]) for code in LOCALES]
    form.locations.choices = location_choices()


def _field_error(form, exc) -> None:
    field = getattr(exc, "field", None)
    if isinstance(exc, access.UnknownRole):
        field = "roles" if hasattr(form, "roles") else "role"
    target = getattr(form, field or "", None)
    if target is not None:
        target.errors = [*target.errors, str(exc)]
    else:
        flash(str(exc), "error")


# --- users --------------------------------------------------------------------------------------


@bp.get("/users")
def users_list():
    rows = (
        _sql()
        .scalars(
            select(users.User)
            .where(~users.User.username.startswith(tokens.ACCOUNT_PREFIX))  # (the tokens' page)
            .order_by(users.User.username)
        )
        .all()
    )
    return render_template("admin/users.html", users=rows, roles=role_labels())


@bp.route("/users/new", methods=["GET", "POST"])
def user_new():
    form = UserForm()
    _fill_choices(form)
    if form.validate_on_submit():
        sql = _sql()
        try:
            user = identity.create_user(
                sql, form.username.data, form.full_name.data, form.password.data or "",
                roles=form.roles.data, location_ids=form.locations.data,
                locale=form.locale.data, active=form.active.data,
            )  # fmt: skip
        except (identity.InvalidAssignment, access.UnknownRole, ValueError) as exc:
            sql.rollback()
            _field_error(form, exc)
        else:
            sql.commit()
            flash(_("User %(name)s created.", name=user.username), "info")
            return redirect(url_for("admin.user_edit", user_id=user.id))
    status = 422 if form.errors else 200
    return render_template("admin/user_form.html", form=form, user=None), status


def _user_or_404(user_id: int) -> users.User:
    user = _sql().get(users.User, user_id)
    if user is None or user.username.startswith(tokens.ACCOUNT_PREFIX):
        abort(404)  # (a token's account is the token's: revoke the token instead)
    return user


@bp.route("/users/<int:user_id>", methods=["GET", "POST"])
def user_edit(user_id: int):
    user = _user_or_404(user_id)
    form = UserForm()
    del form.username, form.password
    _fill_choices(form)
    if request.method == "GET":
        form.full_name.data, form.locale.data, form.active.data = (
            user.full_name,
            user.locale,
            user.active,
        )
        form.roles.data, form.locations.data = user.role_names, user.location_ids
    if form.validate_on_submit():
        sql = _sql()
        try:
            changes = identity.update_user(
                sql, user, roles=form.roles.data, location_ids=form.locations.data,
                full_name=form.full_name.data, locale=form.locale.data, active=form.active.data,
                actor=current_user,
            )  # fmt: skip
        except (identity.InvalidAssignment, access.UnknownRole) as exc:
            sql.rollback()
            _field_error(form, exc)
        else:
            sql.commit()
            flash(
                _("Saved.") if changes else _("Nothing changed."),
                "info",
            )
            return redirect(url_for("admin.user_edit", user_id=user.id))
    status = 422 if form.errors else 200
    return render_template(
        "admin/user_form.html", form=form, user=user, reset=ResetPasswordForm(),
        history=audit.history(_sql(), "user", user.id),
    ), status  # fmt: skip


@bp.post("/users/<int:user_id>/password")
def user_reset_password(user_id: int):
    user = _user_or_404(user_id)
    form = ResetPasswordForm()
    sql = _sql()
    if form.validate_on_submit():
        try:
            users.reset_password(sql, user, form.password.data)
        except users.PasswordPolicyViolation as exc:
            sql.rollback()
            flash(str(exc), "error")
        else:
            sql.commit()
            flash(_("The password of %(name)s was reset.", name=user.username), "info")
    else:
        flash(_("Enter the new password."), "error")
    return redirect(url_for("admin.user_edit", user_id=user.id))


# --- API tokens ---------------------------------------------------------------------------------


@bp.route("/tokens", methods=["GET", "POST"])
def tokens_list():
    form = TokenForm()
    _fill_choices(form)
    issued = None
    if form.validate_on_submit():
        sql = _sql()
        try:
            token, issued = identity.issue_token(
                sql, form.name.data, form.role.data, form.locations.data, current_user.id,
                form.valid_days.data or None,
            )  # fmt: skip
        except identity.InvalidAssignment as exc:
            sql.rollback()
            _field_error(form, exc)
        else:
            sql.commit()
            form = TokenForm(formdata=None)
            _fill_choices(form)
    rows = _sql().scalars(select(tokens.ApiToken).order_by(tokens.ApiToken.id.desc())).all()
    status = 422 if form.errors else 200
    return render_template(
        "admin/tokens.html", form=form, tokens=rows, issued=issued, revoke=RevokeForm(),
        roles=role_labels(),
    ), status  # fmt: skip


@bp.post("/tokens/<int:token_id>/revoke")
def token_revoke(token_id: int):
    token = _sql().get(tokens.ApiToken, token_id)
    if token is None:
        abort(404)
    sql = _sql()
    tokens.revoke_token(sql, token)
    sql.commit()
    flash(_("Token %(name)s revoked.", name=token.name), "info")
    return redirect(url_for("admin.tokens_list"))
