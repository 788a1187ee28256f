"""Sign-up as a person does it: in Chromium, with the verification link taken from the outbox
(the embedded default) or from a real SMTP conversation with a local relay (aiosmtpd)."""

import re
import time

import requests
from aiosmtpd.controller import Controller

from conftest import SECRETS, Hearth, PASSWORD, browser, free_port

LINK = re.compile(r"(http://127\.0\.0\.1:\d+/verify-email\?token=[A-Za-z0-9_\-]+)")


def sign_up_and_verify(h, email, read_mail, shots):
    res = browser({"do": "sign-up", "base": h.base, "email": email, "name": "Bea Example", "password": PASSWORD}, shots)
    assert "message is on its way" in res["text"]
    deadline = time.time() + 10
    text = None
    while time.time() < deadline and not text:
        text = read_mail()
        time.sleep(0.1)
    assert text, "no verification mail arrived"
    link = LINK.search(text).group(1)
    SECRETS.append(link.split("token=")[1])
    res = browser({"do": "visit-and-sign-in", "url": link, "email": email, "password": PASSWORD}, shots + "-verified")
    assert res["url"].endswith("/records"), res
    assert "Bea Example" in res["text"]


def test_sign_up_with_the_outbox(hearth):
    before = set(hearth.outbox())

    def read():
        new = [p for p in hearth.outbox() if p not in before]
        return new[0].read_text() if new else None

    sign_up_and_verify(hearth, "bea@example.org", read, "sign-up-outbox")


class Sink:
    def __init__(self):
        self.messages = []

    async def handle_DATA(self, server, session, envelope):
        self.messages.append((envelope.rcpt_tos, envelope.content.decode("utf-8", "replace")))
        return "250 OK"


def test_sign_up_through_an_smtp_relay(tmp_path):
    sink = Sink()
    port = free_port()
    ctl = Controller(sink, hostname="127.0.0.1", port=port)
    ctl.start()
    h = Hearth(tmp_path, {"HEARTH_SMTP_URL": f"smtp://127.0.0.1:{port}?tls=none",
                          "HEARTH_MAIL_FROM": "Hearth <hearth@example.org>"}).start()
    try:
        def read():
            for rcpt, content in sink.messages:
                if "cy@example.org" in rcpt:
                    return content.replace("=\r\n", "").replace("=3D", "=")
            return None

        sign_up_and_verify(h, "cy@example.org", read, "sign-up-smtp")
        assert not h.outbox(), "with a relay configured nothing goes to the outbox"
    finally:
        h.stop()
        ctl.stop()


def test_pages_carry_security_headers(hearth):
    r = requests.get(f"{hearth.base}/sign-in")
    csp = r.headers["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in csp and "default-src 'self'" in csp
    assert r.headers["X-Content-Type-Options"] == "nosniff"
    assert "no-store" in r.headers["Cache-Control"]
    assert "Strict-Transport-Security" not in r.headers  # plain http here
    t = requests.post(f"{hearth.base}/oauth/token", data={"grant_type": "nope"})
    assert t.headers["Cache-Control"] == "no-store"
