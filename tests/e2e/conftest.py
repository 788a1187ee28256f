"""Fixtures for Hearth's end-to-end tests: a real `hearth serve` on a free loopback port over a
fresh data directory (SQLite by default, PostgreSQL when HEARTH_E2E_DATABASE_URL is set), the
operator's command line, a callback server standing in for an app's redirect URI, and the
Chromium driver (browser.mjs)."""

import json
import os
import socket
import subprocess
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import pytest
import requests

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
PASSWORD = "plum-kettle-orbit-7-sandal"
# Every secret the tests see (passwords, links, codes, tokens); none may appear in the server log.
SECRETS = []


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def hearth_bin():
    b = os.environ.get("HEARTH_BIN") or str(ROOT / "target" / "debug" / "hearth")
    assert Path(b).exists(), f"build hearth first: {b} is missing"
    return b


class Hearth:
    """A running server and the operator's command line for its data directory."""

    def __init__(self, tmp: Path, extra_env=None):
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.data = tmp / "data"
        self.log_path = tmp / "hearth.log"
        self.env = dict(os.environ)
        self.env.update({
            "HEARTH_DATA_DIR": str(self.data),
            "HEARTH_PUBLIC_URL": self.base,
            "HEARTH_LOG": "info,hearth=debug",
        })
        db = os.environ.get("HEARTH_E2E_DATABASE_URL")
        if db:
            self.env["HEARTH_DATABASE_URL"] = db
        self.env.update(extra_env or {})
        self.proc = None

    def start(self):
        log = open(self.log_path, "w")
        self.proc = subprocess.Popen(
            [hearth_bin(), "serve", "--listen", f"127.0.0.1:{self.port}"],
            env=self.env, stdout=log, stderr=subprocess.STDOUT,
        )
        deadline = time.time() + 60
        while time.time() < deadline:
            try:
                if requests.get(self.base + "/readyz", timeout=1).status_code == 200:
                    return self
            except requests.ConnectionError:
                pass
            if self.proc.poll() is not None:
                raise RuntimeError("hearth exited:\n" + self.log_path.read_text())
            time.sleep(0.1)
        raise RuntimeError("hearth did not become ready:\n" + self.log_path.read_text())

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=20)

    def cli(self, *args, stdin=None):
        r = subprocess.run([hearth_bin(), *args], env=self.env, input=stdin,
                           capture_output=True, text=True, timeout=120)
        assert r.returncode == 0, f"hearth {' '.join(args)} failed: {r.stderr}"
        return r.stdout.strip()

    def person(self, email, name):
        """An account with a confirmed email and a password, and its own record."""
        account = self.cli("admin", "create-account", "--email", email, "--name", name)
        self.cli("admin", "set-password", "--email", email, "--verified", stdin=PASSWORD + "\n")
        record = self.cli("admin", "create-record", "--owner", email, "--name", name)
        return {"account": account, "record": record, "email": email, "password": PASSWORD}

    def register(self, registration):
        path = self.data.parent / f"app-{uuid.uuid4().hex}.json"
        path.write_text(json.dumps(registration))
        return json.loads(self.cli("admin", "register-app", "--file", str(path)))

    def outbox(self):
        box = self.data / "outbox"
        return sorted(box.glob("*.eml")) if box.exists() else []


@pytest.fixture(scope="session")
def hearth(tmp_path_factory):
    h = Hearth(tmp_path_factory.mktemp("hearth")).start()
    yield h
    h.stop()


class Callback:
    """An app's redirect URI: answers every GET with a small page and remembers the URLs."""

    def __init__(self):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/callback"
        self.seen = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                outer.seen.append(self.path)
                body = b"<!doctype html><title>app</title><main>back at the app</main>"
                self.send_response(200)
                self.send_header("Content-Type", "text/html")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.server = HTTPServer(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


@pytest.fixture(scope="session")
def callback():
    cb = Callback()
    yield cb
    cb.server.shutdown()


SHOTS = ROOT / "target" / "e2e-screenshots"


def browser(job, name):
    """Runs one browser job; returns its JSON result (fails the test on a browser error)."""
    job = dict(job, shots=str(SHOTS / name))
    r = subprocess.run(["node", str(HERE / "browser.mjs"), json.dumps(job)],
                       capture_output=True, text=True, timeout=120, cwd=HERE)
    lines = [l for l in r.stdout.splitlines() if l.startswith("{")]
    assert lines, f"browser printed nothing: {r.stderr}"
    result = json.loads(lines[-1])
    assert r.returncode == 0 and "error" not in result, f"browser job failed: {result} {r.stderr}"
    return result
