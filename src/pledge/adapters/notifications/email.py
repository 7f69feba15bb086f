"""Email over SMTP (the standard library's smtplib), one connection kept open across messages.

Every email carries ``List-Unsubscribe`` (the one-click HTTPS link of RFC 8058, with
``List-Unsubscribe-Post``) and the same link in its body, and a ``Message-ID`` made from our
message id: a retry after a lost answer carries the same Message-ID, so the receiving side
(and a person reading headers) sees one message twice, not two messages.

What the server says of a recipient or a message decides what happens next: a 2xx is sent; a
4xx (greylisting, mailbox busy, 421 closing) is retried later; a 5xx to RCPT or DATA is a permanent
failure recorded as the bounce it is. A refusal of the connection, of HELO or of our sender
address is about us, not the recipient: retried, whatever its code.
A connection that cannot be made, or credentials the server refuses, are retried too: they are
our problem, not the recipient's, and must not mark a whole distribution as bounced.

One instance is one SMTP session: use one per worker thread.
"""

from __future__ import annotations

import smtplib
import ssl
import time
from email.message import EmailMessage
from email.utils import formatdate
from typing import Final

from pledge.adapters.notifications.config import SmtpConfig
from pledge.domain.notifications import Channel, DeliveryResult, Outcome, Outgoing

IDLE_CHECK_S: Final = 30.0  # a connection idle this long is checked (NOOP) before it is reused


def message_id_header(message_id: str, domain: str) -> str:
    return f"<{message_id}@{domain}>"


class SmtpEmailChannel:
    channel: Final = Channel.EMAIL

    def __init__(
        self, config: SmtpConfig, *, timeout_s: float = 30.0, tls_context: ssl.SSLContext | None = None
    ) -> None:
        self.config = config
        self.timeout_s = timeout_s
        # The system's trust store and hostname checks unless a context is given (a private CA).
        self.tls_context = tls_context or ssl.create_default_context()
        self._smtp: smtplib.SMTP | None = None
        self._last_used = 0.0

    def email_of(self, out: Outgoing) -> EmailMessage:
        if out.channel is not Channel.EMAIL:
            raise ValueError(f"message {out.message_id} is for {out.channel}, not email")
        if not out.unsubscribe_url:
            raise ValueError(f"message {out.message_id} has no unsubscribe link; every email needs one")
        sender = self.config.mail_from
        email = EmailMessage()
        email["From"] = sender
        email["To"] = out.to
        email["Subject"] = out.rendered.subject
        email["Date"] = formatdate(usegmt=True)
        email["Message-ID"] = message_id_header(out.message_id, sender.domain)
        email["List-Unsubscribe"] = f"<{out.unsubscribe_url}>"
        email["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
        email["Auto-Submitted"] = "auto-generated"  # RFC 3834: vacation responders stay quiet
        email.set_content(out.rendered.text)
        if out.rendered.html:
            email.add_alternative(out.rendered.html, subtype="html")
        # After the body: set_content() drops every Content-* header set before it.
        email["Content-Language"] = out.locale
        return email

    def send(self, out: Outgoing) -> DeliveryResult:
        email = self.email_of(out)
        try:
            connection = self._connection()
            connection.send_message(email, from_addr=self.config.mail_from.addr_spec, to_addrs=[out.to])
        except smtplib.SMTPRecipientsRefused as refused:
            code, text = next(iter(refused.recipients.values()))
            return _answer(code, text)
        except smtplib.SMTPAuthenticationError as error:
            self.close()
            return DeliveryResult(Outcome.RETRY, "smtp_auth_failed", _text(error.smtp_error))
        except (smtplib.SMTPConnectError, smtplib.SMTPHeloError, smtplib.SMTPSenderRefused) as error:
            # The server refuses *us* (greeting, HELO, our sender address): whatever the code, this
            # says nothing about the recipient, so it is never recorded as their bounce.
            self.close()
            return DeliveryResult(Outcome.RETRY, f"smtp_{error.smtp_code}", _text(error.smtp_error))
        except smtplib.SMTPResponseException as error:  # DATA refused: this message, for good on 5xx
            self.close()
            return _answer(error.smtp_code, error.smtp_error)
        except (smtplib.SMTPException, OSError) as error:  # refused, reset, timed out, no STARTTLS
            self.close()
            return DeliveryResult(Outcome.RETRY, "smtp_unavailable", f"{type(error).__name__}: {error}")
        self._last_used = time.monotonic()
        return DeliveryResult(Outcome.SENT, provider_ref=str(email["Message-ID"]))

    def _connection(self) -> smtplib.SMTP:
        if self._smtp is not None and time.monotonic() - self._last_used > IDLE_CHECK_S:
            try:
                self._smtp.noop()
            except (smtplib.SMTPException, OSError):
                self.close()
        if self._smtp is None:
            self._smtp = self._connect()
        return self._smtp

    def _connect(self) -> smtplib.SMTP:
        config = self.config
        connection = smtplib.SMTP(config.host, config.port, timeout=self.timeout_s)
        try:
            connection.ehlo()
            if config.starttls:
                connection.starttls(context=self.tls_context)
                connection.ehlo()
            if config.username:
                _login(connection, config.username, config.password)
        except BaseException:
            connection.close()
            raise
        return connection

    def close(self) -> None:
        connection, self._smtp = self._smtp, None
        if connection is not None:
            try:
                connection.quit()
            except (smtplib.SMTPException, OSError):
                connection.close()


def _login(connection: smtplib.SMTP, username: str, password: str) -> None:
    """PLAIN when offered, once: smtplib's ``login`` would try each mechanism in turn after a refusal,
    counting against the server's failed-login limit and leaving some servers waiting mid-exchange."""
    offered = connection.esmtp_features.get("auth", "").upper().split()
    if "PLAIN" not in offered:
        connection.login(username, password)
        return
    connection.user, connection.password = username, password
    code, reply = connection.auth("PLAIN", connection.auth_plain)
    if code != 235:
        raise smtplib.SMTPAuthenticationError(code, reply)


def _text(reply: bytes | str) -> str:
    return reply.decode("utf-8", "replace") if isinstance(reply, bytes) else str(reply)


def _answer(code: int, reply: bytes | str) -> DeliveryResult:
    """A refusal by the server: 4xx later, 5xx never (a bounce)."""
    outcome = Outcome.FAILED if 500 <= code < 600 else Outcome.RETRY
    return DeliveryResult(outcome, f"smtp_{code}", _text(reply))
