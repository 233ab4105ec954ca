"""Built-in actions ``notify`` (in-app inbox messages) and ``webhook`` (a queued HTTP POST).

``notify`` writes one inbox message per recipient: the record's creator (``creator: true``), users
named in ``users``, the user who last fired the transition ``fired_by`` names on the record (the
picker hears that the review sent their picking back, whoever created the order), and users
holding one of ``roles`` at the record's location or above it (a QA officer assigned to HQ hears
of every store's checks, a store clerk only of their store's).
With ``about: <link field>`` the message is about the record that field links to instead — its
creator, its location's staff, its page: a transfer out that ships tells the destination's staff
of the transfer in it made, which is theirs to open (the transfer out is the source's).
``webhook`` never calls out inline: it queues a ``webhook`` job that POSTs the record as JSON to
``url``, signed with HMAC-SHA256 when ``secret_env`` names the environment variable holding a
shared secret, tried again with growing delays while the endpoint is down, and records the
answer's status on the job. It never follows a redirect. Its jobs are the integration's business:
admins follow them on /jobs, not the clerk whose transition queued them.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import os
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid

from sqlalchemy import select

from app.i18n import LOCALES, _, _l, localized
from app.kernel import audit, jobs
from app.kernel.locations import Location
from app.kernel.users import User, holding
from app.workflow.actions import Action, ActionContext, ActionError
from app.workflow.models import WorkflowEvent, inbox_message

NAMES = {"type": "array", "items": {"type": "string"}}


class Notify(Action):
    name = "notify"
    label = {"zh_CN": "发送站内消息", "en": "Send an inbox message"}
    params_schema = {
        "type": "object",
        "additionalProperties": False,
        "required": ["message"],
        "properties": {
            # a label {zh_CN, en}: each recipient reads it in their language (one text: in both)
            "message": {
                "oneOf": [
                    {"type": "string", "minLength": 1, "maxLength": 400},
                    {
                        "type": "object",
                        "additionalProperties": False,
                        "required": ["zh_CN", "en"],
                        "properties": {
                            "zh_CN": {"type": "string", "minLength": 1, "maxLength": 400},
                            "en": {"type": "string", "minLength": 1, "maxLength": 400},
                        },
                    },
                ]
            },
            "creator": {"type": "boolean"},
            "users": NAMES,
            "roles": NAMES,
            "fired_by": {"type": "string", "pattern": "^[a-z][a-z0-9_]*$"},
            "about": {"type": "string", "pattern": "^[a-z][a-z0-9_]*$"},
        },
    }

    def run(self, context: ActionContext) -> None:
        params, session = context.params, context.session
        record = _about(context, params["about"]) if params.get("about") else context.record
        if record is None:
            return  # the link is empty: there is nothing to tell about yet
        recipients: set[int] = set()
        if params.get("creator") and record.created_by:
            recipients.add(record.created_by)
        if params.get("users"):
            recipients |= set(
                session.scalars(select(User.id).where(User.username.in_(params["users"])))
            )
        if params.get("fired_by"):
            recipients |= _last_to_fire(session, record, params["fired_by"])
        if params.get("roles"):
            place = session.get(Location, record.location_id) if record.location_id else None
            recipients |= holding(session, params["roles"], place)
        number = record.number or record.id
        text = {language: f"{number}: {localized(params['message'], language)}"
                for language in LOCALES}  # fmt: skip
        sender = getattr(context.user, "id", None)
        for user_id in sorted(recipients):
            session.add(inbox_message(user_id, record.id, text, sender_id=sender))
        session.flush()


def _last_to_fire(session, record, transition: str) -> set[int]:
    """The user who last fired ``transition`` on ``record``: nobody if no one has, or a job did."""
    user_id = session.scalar(
        select(WorkflowEvent.user_id)
        .where(WorkflowEvent.record_id == record.id, WorkflowEvent.transition == transition)
        .order_by(WorkflowEvent.id.desc())
        .limit(1)
    )
    return {user_id} if user_id else set()


def _about(context: ActionContext, name: str):
    """The record the link field ``name`` of the action's record names (None when empty)."""
    spec = context.records.definition(context.record.form)
    field = next((f for f in spec.get("fields", []) if f.get("name") == name), None) or {}
    target = field.get("link") if field.get("type") == "link" else None
    if not target or not context.records.definition(target):
        raise ActionError(
            _("'%(name)s' is not a link to another form's record: say which record to tell about.",
              name=name)
        )  # fmt: skip
    value = (context.record.data or {}).get(name)
    return context.records.read(target, value) if value not in (None, "") else None


class Webhook(Action):
    name = "webhook"
    label = {
        "zh_CN": "将单据以 JSON 推送到外部地址（排队发送，失败重试）",
        "en": "Post the record as JSON to a URL (queued, retried)",
    }
    params_schema = {
        "type": "object",
        "additionalProperties": False,
        "required": ["url"],
        "properties": {
            "url": {"type": "string", "pattern": "^https?://"},
            # the name of the environment variable holding the shared secret, never the secret
            "secret_env": {"type": "string", "pattern": "^[A-Z][A-Z0-9_]*$"},
        },
    }
    param_labels = {
        "url": {"zh_CN": "接收地址", "en": "URL"},
        "secret_env": {
            "zh_CN": "签名密钥所在的环境变量",
            "en": "Environment variable of the secret",
        },
    }

    def run(self, context: ActionContext) -> None:
        record = context.record
        body = {
            "event_id": uuid.uuid4().hex,
            "form": record.form, "id": record.id, "number": record.number,
            "from_state": record.state, "state": context.target_state or record.state,
            "transition": context.transition,
            "data": audit.jsonable(record.data or {}),
        }  # fmt: skip
        params = {"url": context.params["url"], "body": body}
        if context.params.get("secret_env"):
            params["secret_env"] = context.params["secret_env"]
        jobs.enqueue(context.session, "webhook", params, getattr(context.user, "id", None))


#: How long to wait after each failed attempt; after the last, the job fails.
RETRY_DELAYS = tuple(dt.timedelta(minutes=minutes) for minutes in (1, 5, 30, 120, 360))
#: Answers that say the endpoint may take the same body later: anything else 4xx will not.
PASSING_STATUSES = {408, 425, 429}


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    """Leaves a 3xx answer as it came (an ``HTTPError``) instead of following it."""

    def redirect_request(self, req, fp, code, msg, headers, newurl):
        return None


#: What a delivery goes through: urllib's own ``urlopen`` follows redirects, this does not.
_opener = urllib.request.build_opener(_NoRedirects)


@jobs.handler("webhook", label=_l("Webhook"), admins_only=True)
def deliver(run: jobs.JobRun) -> dict:
    """POST the queued body, signed when the action names a secret.

    An endpoint that is down, times out or answers 5xx, 408 or 429 is tried again later (1 min,
    5 min, 30 min, 2 h, 6 h after each failure: six attempts); one that refuses the body (any
    other 4xx) fails the job at once. Every attempt sends the same ``event_id``, so a receiver
    that got an earlier one but whose answer was lost can tell the repeat.

    A redirect (any 3xx) fails the job at once, naming where it points. Followed, a 301/302/303
    turns the POST into a GET without the body (the event lost, yet the job done), and a 307/308
    would send the record and its signature to an address nobody configured. Nor is it tried
    again, not even a "temporary" 302/303/307: the endpoint answers the same URL the same way
    until someone changes its configuration or the webhook's URL, and failing now tells the
    admin at once rather than after six attempts and nine hours.
    """
    body = json.dumps(run.params["body"], ensure_ascii=False).encode("utf-8")
    request = urllib.request.Request(
        run.params["url"], data=body, headers=_headers(run, body), method="POST"
    )
    try:
        with _opener.open(request, timeout=10) as response:
            return {"status": response.status, "attempts": run.attempt}
    except urllib.error.HTTPError as exc:
        reason = _("The webhook answered HTTP %(status)s.", status=exc.code)
        if 300 <= exc.code < 400:
            raise jobs.JobFailed(_redirected(run.params["url"], exc)) from None
        if exc.code < 500 and exc.code not in PASSING_STATUSES:
            raise jobs.JobFailed(reason) from None
        raise _retry_or_fail(run, reason, exc.headers.get("Retry-After")) from None
    except (urllib.error.URLError, OSError) as exc:
        reason = _("The webhook could not be reached: %(reason)s", reason=exc)
        raise _retry_or_fail(run, reason, None) from None


def _redirected(url: str, answer: urllib.error.HTTPError) -> str:
    """Why a delivery answered with a redirect failed: where it points (made absolute, as the
    webhook's URL must be) and what to do."""
    location = answer.headers.get("Location")
    if not location:
        return _("The webhook answered HTTP %(status)s, a redirect without an address: a webhook "
                 "does not follow redirects. Check the webhook's URL with the receiver.",
                 status=answer.code)  # fmt: skip
    return _("The webhook answered HTTP %(status)s, a redirect to %(location)s: a webhook does "
             "not follow redirects. Update the webhook's URL in the workflow to that address.",
             status=answer.code, location=urllib.parse.urljoin(url, location))  # fmt: skip


def _headers(run: jobs.JobRun, body: bytes) -> dict[str, str]:
    """The delivery's headers; with a secret, ``X-Lianku-Signature: sha256=<hex>``, the
    HMAC-SHA256 of ``<timestamp>.<body>`` under the secret (the timestamp is sent too, so a
    receiver can refuse an old delivery replayed)."""
    event = run.params["body"].get("event_id") or f"job-{run.job_id}"
    timestamp = str(int(time.time()))
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "Lianku-Webhook/1",
        "X-Lianku-Event-Id": event,
        "X-Lianku-Delivery-Attempt": str(run.attempt),
        "X-Lianku-Timestamp": timestamp,
    }
    name = run.params.get("secret_env")
    if name:
        secret = os.environ.get(name)
        if not secret:
            raise jobs.JobFailed(
                _("The webhook is to be signed with the secret in the environment variable "
                  "%(name)s, which the job worker does not have: set it and run the job again.",
                  name=name)
            )  # fmt: skip
        signed = timestamp.encode() + b"." + body
        digest = hmac.new(secret.encode("utf-8"), signed, hashlib.sha256).hexdigest()
        headers["X-Lianku-Signature"] = f"sha256={digest}"
    return headers


def _retry_or_fail(run: jobs.JobRun, reason: str, retry_after: str | None) -> Exception:
    """What to raise: try the delivery again after the attempt's delay (longer if the endpoint
    asked for it), or fail it after the last attempt."""
    if run.attempt > len(RETRY_DELAYS):
        return jobs.JobFailed(
            _("%(reason)s Gave up after %(count)d attempts.", reason=reason, count=run.attempt)
        )
    delay = RETRY_DELAYS[run.attempt - 1]
    if retry_after and retry_after.strip().isdigit():
        delay = max(delay, min(dt.timedelta(seconds=int(retry_after)), RETRY_DELAYS[-1]))
    return jobs.JobRetry(
        _("Attempt %(attempt)d failed: %(reason)s It is tried again later.",
          attempt=run.attempt, reason=reason),
        delay,
    )  # fmt: skip
