"""The workflow engine's refusals, typed so the web layer maps them to 403/404/409."""

from __future__ import annotations

from app.i18n import _
from app.kernel.items import wall_clock
from app.meta.records import RecordError, RecordNotFound


class TransitionRefused(RecordError):
    """The transition cannot be fired now (wrong state, condition false, action refused);
    ``field`` names the input the refusal is about when the kernel or the action said so."""

    status = 409

    def __init__(self, message: str, field: str | None = None):
        super().__init__(message)
        self.field = field


class TransitionNotAllowed(RecordError):
    """This user may not fire this transition (role, segregation of duties, signature)."""

    status = 403


class UnknownTransition(RecordError):
    status = 404

    def __init__(self, form: str, name: str):
        super().__init__(
            _("The workflow of %(form)s has no transition '%(name)s'.", form=form, name=name)
        )


class SignatureRefused(TransitionNotAllowed):
    """The signer's password was wrong; the attempt is audited, nothing else is written."""

    def __init__(self):
        super().__init__(_("The password is wrong; the record was not signed."))


class SigningLocked(TransitionNotAllowed):
    """Too many wrong passwords in a row (signing or signing in): the account is locked, and
    so is signing with it, until ``until``."""

    def __init__(self, until):
        super().__init__(
            _(
                "Too many wrong passwords: signing is locked until %(time)s. Ask your "
                "administrator if it was not you.",
                time=wall_clock(until, "%H:%M"),
            )
        )


class TokenCannotSign(TransitionNotAllowed):
    """An API token fired a step that needs an e-signature: a signature is a person's own, and a
    token has no person (nor password) behind it. Not a wrong password: nothing is audited."""

    def __init__(self):
        super().__init__(
            _(
                "An electronic signature is a person's own: an API token cannot sign. A person "
                "signs in and does this step with their password."
            )
        )


class TaskNotFound(RecordNotFound):
    """No such approval task, or another approver's (which is not even shown)."""

    def __init__(self, task_id):
        RecordError.__init__(self, _("Approval task %(id)s was not found.", id=task_id))
