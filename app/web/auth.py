"""Sign-in and sign-out with Flask-Login; CSRF protection on every state-changing form.

Browsers sign in with a username and password (locked for a while after repeated failures);
integrators' systems send ``Authorization: Bearer <token>`` to ``/api/…`` and never get a
session cookie. A request that carries a Bearer token is never authenticated by a cookie, which
is why such requests may skip the CSRF check: a forged cross-site form cannot add that header.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import (
    Blueprint,
    Flask,
    flash,
    g,
    jsonify,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_login import (
    LoginManager,
    current_user,
    login_required,
    login_url,
    login_user,
    logout_user,
)
from flask_wtf import FlaskForm
from flask_wtf.csrf import CSRFProtect
from wtforms import PasswordField, StringField
from wtforms.validators import DataRequired

from app.db import utcnow
from app.i18n import _, _l
from app.kernel import tokens, users
from app.kernel.users import User
from app.meta import access
from app.web.session import database, db_session

bp = Blueprint("auth", __name__)
login_manager = LoginManager()
csrf = CSRFProtect()

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})


class LoginForm(FlaskForm):
    username = StringField(_l("Username"), validators=[DataRequired()])
    password = PasswordField(_l("Password"), validators=[DataRequired()])


def bearer_token() -> str | None:
    """The token of an ``Authorization: Bearer …`` header, if the request has one."""
    header = request.headers.get("Authorization", "")
    scheme, _sep, value = header.partition(" ")
    return value.strip() if scheme.lower() == "bearer" and value.strip() else None


def is_api_request() -> bool:
    return request.path.startswith("/api/")


def init_auth(app: Flask) -> None:
    app.config["WTF_CSRF_CHECK_DEFAULT"] = False  # checked below, Bearer requests excepted
    csrf.init_app(app)
    login_manager.init_app(app)
    login_manager.login_view = "auth.login"
    login_manager.login_message = _l("Please sign in to continue.")

    @app.before_request
    def _check_csrf():
        if request.method in SAFE_METHODS or bearer_token() is not None:
            return
        if is_api_request() and not current_user.is_authenticated:
            return  # nobody to forge a request for: the endpoint answers 401
        if app.config.get("WTF_CSRF_ENABLED", True):
            csrf.protect()

    @app.before_request
    def _remember_user_name():
        if current_user.is_authenticated:
            g.user_name = current_user.username


@login_manager.user_loader
def load_user(user_id: str) -> User | None:
    if bearer_token() is not None:
        return None  # a Bearer request is the token's, never the cookie's
    user = db_session().get(User, int(user_id)) if user_id.isdigit() else None
    return user if user is not None and user.active else None


@login_manager.request_loader
def load_token(req) -> tokens.TokenPrincipal | None:
    """Authenticate ``/api/`` requests by their Bearer token; refresh its ``last_used_at``."""
    plaintext = bearer_token()
    if plaintext is None or not is_api_request():
        return None
    # Looked up and stamped in sessions of their own, finished before the request's session
    # starts: on SQLite a write request holds the write lock, which the stamp would wait for.
    with database().session() as lookup:
        try:
            token = tokens.find_active_token(lookup, plaintext)
        except tokens.TokenRefused as refused:
            g.token_refused = refused  # what the 401 says
            return None
        stamp = token is not None and tokens.needs_last_used_update(token)
    if token is None:
        return None
    if stamp:
        with database().transaction() as writer:
            writer.get(tokens.ApiToken, token.id).last_used_at = utcnow()
    return tokens.TokenPrincipal(db_session().get(tokens.ApiToken, token.id))


@login_manager.unauthorized_handler
def unauthorized():
    if is_api_request() or bearer_token() is not None:
        # a program with a token is answered as one, also off /api/: never a sign-in page
        if not is_api_request():
            message = _("An API token is accepted under /api/ only: this page is for people.")
        elif g.get("token_refused"):
            message = str(g.token_refused)
        elif bearer_token() is not None:
            message = _("This API token is not known: send it whole, as it was shown when it "
                        "was created, or ask an administrator for a new one.")  # fmt: skip
        else:
            message = _("Please sign in to continue.")
        response = jsonify(error="unauthorized", message=message)
        response.headers["WWW-Authenticate"] = 'Bearer realm="lianku"'
        return response, 401
    flash(login_manager.login_message, "info")
    return redirect(login_url(login_manager.login_view, next_url=request.url))


def _safe_next(target: str | None) -> str:
    """Only redirect to a path on this site, never to another host."""
    if target and not urlsplit(target).netloc and target.startswith("/") and "\\" not in target:
        return target
    return url_for("pages.home")


@bp.route("/login", methods=["GET", "POST"])
def login():
    form = LoginForm()
    if not form.validate_on_submit():
        return render_template("login.html", form=form)
    sql = db_session()
    try:
        user = users.authenticate(sql, form.username.data.strip(), form.password.data)
    except users.SignInRefused as refused:
        sql.commit()  # the failure (and any lockout) is recorded even though sign-in is refused
        flash(str(refused), "error")
        return render_template("login.html", form=form), 401
    if not access.may_use_pages(user):
        sql.rollback()  # not signed in: no "login" entry, but the refusal is recorded
        users.refuse_sign_in(sql, sql.get(User, user.id), "api_only")
        sql.commit()
        flash(_("This account may only use the API, with a token."), "error")
        return render_template("login.html", form=form), 403
    sql.commit()
    session.clear()  # a fresh session at sign-in: nothing carried over from before
    login_user(user)
    return redirect(_safe_next(request.args.get("next")))


@bp.post("/logout")
@login_required
def logout():
    if not current_user.is_api_token:
        sql = db_session()
        users.record_logout(sql, current_user)
        sql.commit()
    logout_user()
    session.clear()
    return redirect(url_for("auth.login"))
