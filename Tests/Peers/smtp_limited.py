"""An aiosmtpd handler for mwid's tests: a maildir like aiosmtpd.handlers.Mailbox that
takes at most SMTP_MESSAGES_PER_SESSION messages (default 2) per connection and answers
MAIL FROM after that with 452 4.5.3, as mail servers that limit a session do.

    PYTHONPATH=Tests/Peers python -m aiosmtpd -n -l 127.0.0.1:PORT -c smtp_limited.SessionLimited MAILDIR
"""
import os

from aiosmtpd.handlers import Mailbox


class SessionLimited(Mailbox):
    limit = int(os.environ.get("SMTP_MESSAGES_PER_SESSION", "2"))

    async def handle_MAIL(self, server, session, envelope, address, mail_options):
        if getattr(session, "messages", 0) >= self.limit:
            return "452 4.5.3 Too many messages in this session"
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        answer = await super().handle_DATA(server, session, envelope)
        session.messages = getattr(session, "messages", 0) + 1
        return answer
