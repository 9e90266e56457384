"""The worker's side of webhooks: one signed POST per attempt, and its record.

Each attempt: the endpoint as it is now (a disabled or deleted endpoint gets nothing), the
SSRF check against the addresses we are about to connect to (the connection is pinned to
the checked address; TLS still verifies the certificate for the host name), connect and
total timeouts, no redirects, at most a few kB of the response read and stored.
"""

from __future__ import annotations

import json
import time
import uuid
from datetime import UTC, datetime

import httpx
from sqlalchemy import Connection, Engine, insert, select, text
from sqlalchemy.orm import Session

from pressroom.config import Settings
from pressroom.db.base import new_id
from pressroom.email.service import send_email
from pressroom.orgs.models import Organization, Role
from pressroom.outbox.queue import Delivery
from pressroom.outbox.worker import Result
from pressroom.webhooks import security, signing
from pressroom.webhooks.models import WebhookAttempt, WebhookEndpoint

USER_AGENT = "Pressroom-Webhooks/1"


def active_secrets(endpoint: WebhookEndpoint, now: datetime) -> list[str]:
    found = [endpoint.secret]
    expires = endpoint.previous_secret_expires_at
    if endpoint.previous_secret and expires is not None and expires > now:
        found.append(endpoint.previous_secret)
    return found


class WebhookDeliverer:
    def __init__(self, engine: Engine, settings: Settings) -> None:
        self.engine = engine
        self.settings = settings
        self.client = httpx.Client(
            follow_redirects=False,
            trust_env=False,  # no proxy from the environment: we pin the address ourselves
            timeout=httpx.Timeout(
                settings.webhook_timeout_seconds, connect=settings.webhook_connect_timeout_seconds
            ),
            headers={"User-Agent": USER_AGENT, "Content-Type": "application/json"},
        )

    def __call__(self, delivery: Delivery) -> Result:
        with Session(self.engine) as session:
            ep = session.get(WebhookEndpoint, delivery.endpoint_id)
        if ep is None:
            return Result(False, "endpoint deleted", permanent=True)
        if not ep.enabled:
            return Result(False, "endpoint disabled", permanent=True)
        started = time.perf_counter()
        status_code, body, error = self._post(ep, delivery)
        duration_ms = int((time.perf_counter() - started) * 1000)
        ok = status_code is not None and 200 <= status_code < 300
        if status_code is not None and not ok:
            error = f"HTTP {status_code}"

        def record(conn: Connection, _status: str) -> None:
            conn.execute(
                insert(WebhookAttempt).values(
                    id=new_id(),
                    org_id=ep.org_id,
                    endpoint_id=ep.id,
                    delivery_id=delivery.id,
                    attempt=delivery.attempts,
                    status_code=status_code,
                    duration_ms=duration_ms,
                    error=error,
                    response_body=body,
                )
            )
            if ok:
                _clear_failing(conn, ep.id)
            else:
                _note_failure(conn, self.settings, ep, error or "failed")

        return Result(ok, error, record=record)

    def _post(
        self, ep: WebhookEndpoint, delivery: Delivery
    ) -> tuple[int | None, str | None, str | None]:
        """(status code, stored body, error) of one attempt."""
        try:
            target = security.check_url(ep.url, self.settings)
            address = security.resolve(target, self.settings)[0]
        except security.UnsafeTarget as exc:
            return None, None, f"refused: {exc}"
        now = datetime.now(UTC)
        body = json.dumps(delivery.payload, separators=(",", ":"))
        headers = signing.headers(active_secrets(ep, now), str(delivery.event_id), now, body)
        url = httpx.URL(ep.url)
        pinned = url.copy_with(host=str(address))
        headers["Host"] = url.netloc.decode("ascii")
        deadline = time.monotonic() + self.settings.webhook_timeout_seconds
        limit = self.settings.webhook_response_body_max_bytes
        try:
            with self.client.stream(
                "POST",
                pinned,
                content=body.encode(),
                headers=headers,
                extensions={"sni_hostname": target.host},
            ) as response:
                kept = b""
                for chunk in response.iter_bytes():
                    kept += chunk[: max(limit - len(kept), 0)]
                    if len(kept) >= limit or time.monotonic() > deadline:
                        break  # enough to show; the rest is not worth waiting for
                return response.status_code, kept.decode("utf-8", "replace") or None, None
        except httpx.TimeoutException as exc:
            return None, None, f"timeout: {type(exc).__name__}"
        except httpx.HTTPError as exc:
            return None, None, f"connection error: {type(exc).__name__}: {exc}"[:500]


def _clear_failing(conn: Connection, endpoint_id: uuid.UUID) -> None:
    conn.execute(
        text(
            "UPDATE webhook_endpoints SET failing_since = NULL "
            "WHERE id = :id AND failing_since IS NOT NULL"
        ),
        {"id": endpoint_id},
    )


_NOTE_FAILURE = text(
    """
    UPDATE webhook_endpoints SET failing_since = COALESCE(failing_since, now())
    WHERE id = :id
    RETURNING failing_since, failing_since < now() - make_interval(secs => :after)
    """
)

_DISABLE = text(
    """
    UPDATE webhook_endpoints SET enabled = false, disabled_reason = :reason, updated_at = now()
    WHERE id = :id AND enabled
    RETURNING id
    """
)


def _note_failure(conn: Connection, settings: Settings, ep: WebhookEndpoint, error: str) -> None:
    """Remember since when the endpoint fails; past the limit, disable it and tell the
    org's owners (their e-mails are written in this same transaction)."""
    row = conn.execute(
        _NOTE_FAILURE, {"id": ep.id, "after": settings.webhook_disable_after_seconds}
    ).first()
    if row is None or not row[1]:
        return
    failing_since: datetime = row[0]
    reason = f"every delivery failed since {failing_since.isoformat()}"
    if conn.execute(_DISABLE, {"id": ep.id, "reason": reason}).first() is None:
        return
    # By the endpoint's own row: this runs under the outbox's duty, across orgs.
    org_name = conn.execute(
        select(Organization.name)
        .join(WebhookEndpoint, WebhookEndpoint.org_id == Organization.id)
        .where(WebhookEndpoint.id == ep.id)
    )
    owners = conn.execute(
        text(
            "SELECT u.email FROM webhook_endpoints e"
            " JOIN memberships m ON m.org_id = e.org_id JOIN users u ON u.id = m.user_id"
            " WHERE e.id = :endpoint AND m.role = :role"
        ),
        {"endpoint": ep.id, "role": Role.OWNER.value},
    ).scalars()
    name = org_name.scalar() or ""
    for email in owners:
        send_email(
            conn,
            to=email,
            template="endpoint_disabled",
            org_id=ep.org_id,
            context={
                "org_name": name,
                "url": ep.url,
                "endpoint_id": str(ep.id),
                "failing_since": failing_since.isoformat(),
                "last_error": error,
            },
        )
