"""Alert emails: one per alert (email_mode "each") or one digest per watch and window
("hourly": each UTC hour, "daily": each UTC day; sent when the window has closed).

Each message's ``Message-ID`` is made from the alert id (a digest's from its alerts' ids), so a
mail system or a reader that keeps the ids it saw drops the one repeat that can happen (a
delivery process killed between the server's acceptance and recording it).
"""

from __future__ import annotations

import hashlib
import smtplib
import ssl
from collections.abc import Sequence
from datetime import datetime, timedelta
from email.message import EmailMessage
from email.utils import format_datetime
from urllib.parse import quote

from shared.settings import Settings
from shared.watches.models import Alert, EmailMode, Watch

SMTP_TIMEOUT_SECONDS = 30.0


def window_end(matched_at: datetime, mode: EmailMode) -> datetime:
    """When the digest window holding ``matched_at`` closes (UTC hours or days)."""
    if mode == "hourly":
        return matched_at.replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)
    return matched_at.replace(hour=0, minute=0, second=0, microsecond=0) + timedelta(days=1)


def _domain(settings: Settings) -> str:
    return settings.smtp_from.rsplit("@", 1)[-1].strip(" >") or "dateline.local"


def _lines(alert: Alert) -> list[str]:
    article = alert.article
    facts = [
        f"Source: {article.source}" if article.source else "",
        f"Published: {article.published_at:%Y-%m-%d %H:%M} UTC" if article.published_at else "",
        f"Dateline: {article.dateline}" if article.dateline else "",
    ]
    entities = article.entities.model_dump()
    named = "; ".join(f"{kind}: {', '.join(names)}" for kind, names in entities.items() if names)
    return [
        article.title,
        *(fact for fact in facts if fact),
        *([f"Entities: {named}"] if named else []),
        *([article.summary] if article.summary else []),
        f"On Dateline: {article.link}",
        *([f"Original: {article.url}"] if article.url else []),
    ]


def _feed(settings: Settings, watch: Watch) -> str:
    return f"{settings.public_url.rstrip('/')}/watches/{quote(watch.name, safe='')}/feed.atom"


def message(
    settings: Settings, watch: Watch, alerts: Sequence[Alert], closed: datetime | None = None
) -> EmailMessage:
    """The email for one alert, or the digest of ``alerts`` (window closing at ``closed``)."""
    if not alerts:
        raise ValueError("an email needs at least one alert")
    mail = EmailMessage()
    mail["From"] = settings.smtp_from
    mail["To"] = watch.email or ""
    if len(alerts) == 1 and closed is None:
        alert = alerts[0]
        mail["Subject"] = f"[Dateline] {watch.name}: {alert.article.title}"[:250]
        text = [f'A new article matches your watch "{watch.name}".', "", *_lines(alert)]
        ident = alert.id
    else:
        mail["Subject"] = f"[Dateline] {watch.name}: {len(alerts)} new article(s)"
        span = "hour" if watch.email_mode == "hourly" else "day"
        until = f" until {closed:%Y-%m-%d %H:%M} UTC" if closed else ""
        text = [f'{len(alerts)} new article(s) matched your watch "{watch.name}" in the {span}{until}.', ""]
        for number, alert in enumerate(alerts, 1):
            first, *rest = _lines(alert)
            text += [f"{number}. {first}", *(f"   {line}" for line in rest), ""]
        ident = hashlib.sha256("\n".join(sorted(a.id for a in alerts)).encode()).hexdigest()[:32]
    text += ["", f"Every alert of this watch: {_feed(settings, watch)}"]
    mail["Date"] = format_datetime(max(a.matched_at for a in alerts))
    mail["Message-ID"] = f"<{ident}@{_domain(settings)}>"
    mail["X-Dateline-Alert"] = ", ".join(a.id for a in alerts)
    mail["X-Dateline-Watch"] = watch.name
    mail.set_content("\n".join(text))
    return mail


def send(settings: Settings, mail: EmailMessage) -> str | None:
    """Hand ``mail`` to the SMTP server; None when accepted, else the server's answer or the error."""
    host = settings.smtp_host
    if not host:
        return "DATELINE_SMTP_HOST is not set: no SMTP server to send alert emails to"
    where = f"{host}:{settings.smtp_port}"
    try:
        with smtplib.SMTP(host, settings.smtp_port, timeout=SMTP_TIMEOUT_SECONDS) as smtp:
            if settings.smtp_starttls:
                smtp.starttls(context=ssl.create_default_context())
            if settings.smtp_username:
                password = settings.smtp_password.get_secret_value() if settings.smtp_password else ""
                smtp.login(settings.smtp_username, password)
            refused = smtp.send_message(mail)
    except smtplib.SMTPResponseException as exc:
        answer = (
            exc.smtp_error.decode(errors="replace")
            if isinstance(exc.smtp_error, bytes)
            else str(exc.smtp_error)
        )
        return f"SMTP {exc.smtp_code} from {where}: {answer[:200]}"
    except smtplib.SMTPRecipientsRefused as exc:
        return f"{where} refused the recipient(s): {_refusals(exc.recipients)}"
    except (smtplib.SMTPException, OSError) as exc:
        return f"cannot send through {where}: {type(exc).__name__}: {exc}"
    if refused:
        return f"{where} refused the recipient(s): {_refusals(refused)}"
    return None


def _refusals(refused: dict[str, tuple[int, bytes]]) -> str:
    return "; ".join(
        f"{rcpt} ({code} {text.decode(errors='replace')[:100]})" for rcpt, (code, text) in refused.items()
    )
