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


# --- The FHIR R4 API (test_fhir_*.py) -----------------------------------------------------------
# A bearer-token client for /fhir, the independent validator every served resource goes through
# (PyPI fhir.resources 6.4.0: its R4 pydantic models), and a second server loaded with the whole
# Synthea sample through transactions, shared by the modules that read it.

import collections
import hashlib

SYNTHEA = Path(os.environ.get("HEARTH_SYNTHEA_DIR") or ROOT.parent / "shared" / "data" / "synthea-r4")
FHIR_JSON = "application/fhir+json"
# What the suite counted, printed at the end of the run (pytest_terminal_summary below).
FHIR_STATS = collections.Counter()
FHIR_NOTES = []


class Fhir:
    """Plain HTTP against `/fhir` with a bearer token (requests; no FHIR library in between)."""

    def __init__(self, base, token=None):
        self.root = f"{base}/fhir"
        self.token = token
        self.http = requests.Session()
        self.http.headers["Accept"] = FHIR_JSON
        if token:
            self.http.headers["Authorization"] = f"Bearer {token}"

    def url(self, path):
        return path if path.startswith("http") else f"{self.root}/{path.lstrip('/')}"

    def request(self, method, path, body=None, headers=None, **kw):
        h = dict(headers or {})
        if body is not None and not isinstance(body, (str, bytes)):
            body = json.dumps(body)
        if body is not None:
            h.setdefault("Content-Type", FHIR_JSON)
        FHIR_STATS["http requests"] += 1
        return self.http.request(method, self.url(path), data=body, headers=h, timeout=600, **kw)

    def get(self, path, **kw):
        return self.request("GET", path, **kw)

    def post(self, path, body=None, **kw):
        return self.request("POST", path, body, **kw)

    def put(self, path, body=None, **kw):
        return self.request("PUT", path, body, **kw)

    def delete(self, path, **kw):
        return self.request("DELETE", path, **kw)

    def ok(self, method, path, body=None, status=200, **kw):
        r = self.request(method, path, body, **kw)
        assert r.status_code == status, f"{method} {path}: {r.status_code} {r.text[:2000]}"
        return r.json() if r.content else None

    def bundles(self, path, params=None, limit=10_000):
        """A search (or history, or $everything) and each page after it, following `next`."""
        r = self.get(path, params=params)
        assert r.status_code == 200, f"GET {path} {params}: {r.status_code} {r.text[:2000]}"
        seen = set()
        for _ in range(limit):
            b = r.json()
            assert b["resourceType"] == "Bundle", b
            yield b
            nxt = [l["url"] for l in b.get("link", []) if l["relation"] == "next"]
            if not nxt:
                return
            assert nxt[0] not in seen, f"the next link repeats: {nxt[0]}"
            seen.add(nxt[0])
            r = self.get(nxt[0])
            assert r.status_code == 200, f"GET {nxt[0]}: {r.status_code} {r.text[:2000]}"
        raise AssertionError(f"{path}: more than {limit} pages")

    def entries(self, path, params=None, mode=None):
        """Every entry of every page (only `search.mode == mode` when given)."""
        out = []
        for b in self.bundles(path, params):
            for e in b.get("entry", []):
                if mode is None or e.get("search", {}).get("mode") == mode:
                    out.append(e)
        return out

    def resources(self, path, params=None, mode="match"):
        return [e["resource"] for e in self.entries(path, params, mode)]


class Num:
    """A JSON number kept as the text it was written as, so decimals compare with their precision
    (`1.50` is not `1.5`; https://hl7.org/fhir/R4/datatypes.html#decimal). Only the spelling of an
    exponent is normalised (`1E-22` and `1e-22`, `3e2` and `3e+2` are the same text)."""

    __slots__ = ("text",)

    def __init__(self, text):
        self.text = text

    def key(self):
        return self.text.lower().replace("e+", "e")

    def __eq__(self, other):
        return isinstance(other, Num) and self.key() == other.key()

    def __hash__(self):
        return hash(self.key())

    def __repr__(self):
        return self.text


def loads_exact(text):
    """JSON with every number (integers too) kept as its text."""
    return json.loads(text, parse_float=Num, parse_int=Num)


def dumps_exact(value):
    """The inverse of loads_exact: numbers written back exactly as they were read."""
    if isinstance(value, Num):
        return value.text
    if isinstance(value, dict):
        return "{" + ",".join(json.dumps(k) + ":" + dumps_exact(v) for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ",".join(dumps_exact(v) for v in value) + "]"
    return json.dumps(value)


def json_diff(a, b, path="", out=None):
    """Where two JSON values differ: [(path, a's value, b's value)]."""
    out = [] if out is None else out
    if type(a) is not type(b):
        out.append((path, a, b))
    elif isinstance(a, dict):
        for k in sorted(set(a) | set(b)):
            if k not in a or k not in b:
                out.append((f"{path}.{k}", a.get(k, "<absent>"), b.get(k, "<absent>")))
            else:
                json_diff(a[k], b[k], f"{path}.{k}", out)
    elif isinstance(a, list):
        if len(a) != len(b):
            out.append((f"{path}.length", len(a), len(b)))
        for i, (x, y) in enumerate(zip(a, b)):
            json_diff(x, y, f"{path}[{i}]", out)
    elif a != b:
        out.append((path, a, b))
    return out


def without_server_fields(resource):
    """A resource less what the server assigns: `id`, `meta.versionId` and `meta.lastUpdated`
    (`meta.tag`, `meta.profile` and the rest of meta stay)."""
    r = dict(resource)
    r.pop("id", None)
    meta = dict(r.pop("meta", None) or {})
    meta.pop("versionId", None)
    meta.pop("lastUpdated", None)
    if meta:
        r["meta"] = meta
    return r


def operator_token(h, *, account=None, record=None, scope="user/*.cruds"):
    args = ["admin", "issue-token", "--scope", scope]
    args += ["--account", account] if account else ["--record", record]
    return h.cli(*args)


# fhir.resources 6.4.0 (pydantic 1) holds the R4 models; 7.x and later are R5.
class Validator:
    """Validates what the server returns with the R4 models of fhir.resources 6.4.0. Each distinct
    resource (by content) is validated once; Bundles are validated as envelopes (every element
    but the entries' resources, which are validated on their own)."""

    def __init__(self):
        self.seen = set()
        self.failures = []  # (where, resourceType/id, message)

    @staticmethod
    def problems(resource):
        """The validator's complaints about one resource (empty when it is valid)."""
        from fhir.resources import get_fhir_model_class
        from pydantic import ValidationError

        try:
            get_fhir_model_class(resource["resourceType"]).parse_obj(resource)
            return []
        except ValidationError as e:
            errors = e.errors()
        except Exception as e:  # an unknown resourceType, or not an object at all
            return [str(e)]
        # _elements/_summary results marked SUBSETTED may lack mandatory elements
        # (https://hl7.org/fhir/R4/search.html#elements).
        tags = (resource.get("meta") or {}).get("tag") or []
        if any(t.get("code") == "SUBSETTED" for t in tags):
            errors = [x for x in errors if x.get("type") != "value_error.missing"]
        return [f"{'.'.join(map(str, x['loc']))}: {x['msg']}" for x in errors]

    def check(self, resource, where=""):
        """Validates one resource (and, for a Bundle, its envelope and each entry's resource and
        outcome). Returns the failures found now: [(where, "Type/id", [problems])]."""
        found = []
        if resource.get("resourceType") == "Bundle":
            envelope = dict(resource)
            envelope["entry"] = []
            for e in resource.get("entry", []):
                envelope["entry"].append({k: v for k, v in e.items() if k != "resource"})
                if "resource" in e:
                    found += self.check(e["resource"], where)
                if "outcome" in e.get("response", {}):
                    found += self.check(e["response"]["outcome"], where)
            if not envelope["entry"]:
                del envelope["entry"]
            FHIR_STATS["Bundles validated (envelopes)"] += 1
            resource = envelope
        else:
            FHIR_STATS["served resources checked (repeats included)"] += 1
        key = hashlib.sha1(json.dumps(resource, sort_keys=True).encode()).digest()
        if key in self.seen:
            return found
        self.seen.add(key)
        if resource.get("resourceType") != "Bundle":
            FHIR_STATS["distinct served resources validated"] += 1
        problems = self.problems(resource)
        if problems:
            f = (where, f"{resource.get('resourceType')}/{resource.get('id')}", problems)
            self.failures.append(f)
            found.append(f)
        return found

    def assert_valid(self, resource, where=""):
        found = self.check(resource, where)
        assert not found, f"fhir.resources 6.4.0 (R4) rejects what the server returned: {found[:5]}"
        return resource


VALIDATOR = Validator()


@pytest.fixture(scope="session")
def validator():
    return VALIDATOR


def scratch_database(suffix):
    """With PostgreSQL: a new empty database beside HEARTH_E2E_DATABASE_URL's, for a second
    server (two servers never share a database). Returns (url, drop) or (None, no-op)."""
    url = os.environ.get("HEARTH_E2E_DATABASE_URL")
    if not url:
        return None, lambda: None
    base, name = url.rsplit("/", 1)
    name = f"{name.split('?')[0]}_{suffix}"
    admin = f"{base}/postgres"
    run = lambda sql: subprocess.run(["psql", "-q", admin, "-c", sql], check=True, capture_output=True)
    run(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
    run(f"CREATE DATABASE {name}")
    return f"{base}/{name}", lambda: run(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


class SyntheaPatient:
    """One Synthea bundle as loaded: its entries, the transaction response, and the server ids."""

    def __init__(self, path, bundle):
        self.path = path
        self.name = path.stem
        self.bundle = bundle
        self.response = None
        self.seconds = None
        # fullUrl in the bundle -> "Type/server-id"
        self.ids = {}
        self.patient_id = None
        self.counts = collections.Counter(e["resource"]["resourceType"] for e in bundle["entry"])
        self._everything = None


class Synthea:
    """A server holding the whole Synthea sample, loaded through transactions by one account."""

    EMAIL = "synthea@example.org"

    def __init__(self, h):
        self.h = h
        self.patients = []
        self.directory = None  # the practitioner directory bundle (no Patient)
        self.load_seconds = None
        self._served = None

    def load(self):
        h = self.h
        h.cli("admin", "create-account", "--email", self.EMAIL, "--name", "Synthea Loader")
        # The one bundle without a Patient (practitionerInformation…) goes into a record made
        # first, while it is the only record the account's token reaches; every other bundle
        # POSTs its Patient and so starts a record of its own.
        self.directory_record = h.cli("admin", "create-record", "--owner", self.EMAIL,
                                      "--name", "Practitioner directory", "--relationship", "other")
        self.token = operator_token(h, account=self.EMAIL)
        self.api = Fhir(h.base, self.token)
        files = sorted(SYNTHEA.glob("*.json"))
        assert len(files) >= 100, f"the Synthea sample is missing: {SYNTHEA}"
        loaded = [SyntheaPatient(f, json.loads(f.read_text())) for f in files]
        loaded.sort(key=lambda p: "Patient" in p.counts)  # the directory first
        started = time.time()
        for p in loaded:
            t = time.time()
            r = self.api.post("", p.path.read_bytes())
            p.seconds = time.time() - t
            p.status = r.status_code
            p.response = r.json() if r.headers.get("Content-Type", "").startswith(FHIR_JSON) else r.text
            if r.status_code == 200 and isinstance(p.response, dict):
                for req, res in zip(p.bundle["entry"], p.response.get("entry", [])):
                    loc = res.get("response", {}).get("location", "")
                    parts = loc.split("/")
                    if len(parts) >= 2:
                        p.ids[req["fullUrl"]] = f"{parts[0]}/{parts[1]}"
                        if parts[0] == "Patient":
                            p.patient_id = parts[1]
            if "Patient" in p.counts:
                self.patients.append(p)
            else:
                self.directory = p
        self.load_seconds = time.time() - started
        FHIR_STATS["Synthea bundles posted"] = len(loaded)
        FHIR_STATS["Synthea resources posted"] = sum(len(p.bundle["entry"]) for p in loaded)
        FHIR_NOTES.append(f"Synthea load: {len(loaded)} transactions in {self.load_seconds:.1f}s")
        return self

    def loaded(self):
        """The patients whose transaction went through (the load test checks that all did)."""
        return [p for p in self.patients if p.patient_id]

    def everything_pages(self, p, count=100):
        """`Patient/[id]/$everything` followed page by page (fetched once; the Bundles kept)."""
        if p._everything is None:
            p._everything = list(self.api.bundles(f"Patient/{p.patient_id}/$everything", {"_count": count}))
        return p._everything

    def everything(self, p):
        """Every resource of a patient's record, as `$everything` served it."""
        return [e["resource"] for b in self.everything_pages(p) for e in b.get("entry", [])]

    def served(self):
        """Every resource the account reaches, by id: each record's `$everything` (the directory's
        too), fetched once. The base of the independent search computation."""
        if self._served is None:
            out = {}
            for p in self.loaded():
                for r in self.everything(p):
                    out[r["id"]] = r
            directory = Fhir(self.h.base, operator_token(self.h, record=self.directory_record, scope="patient/*.rs"))
            [me] = directory.resources("Patient")
            for r in directory.resources(f"Patient/{me['id']}/$everything", {"_count": 1000}, mode=None):
                out[r["id"]] = r
            self._served = out
        return self._served


@pytest.fixture(scope="session")
def synthea(tmp_path_factory):
    url, drop = scratch_database("synthea")
    h = Hearth(tmp_path_factory.mktemp("synthea"), {"HEARTH_DATABASE_URL": url} if url else None).start()
    try:
        yield Synthea(h).load()
    finally:
        h.stop()
        drop()


def pytest_terminal_summary(terminalreporter):
    if FHIR_STATS or FHIR_NOTES:
        terminalreporter.write_sep("-", "FHIR end-to-end counts")
        for k, v in sorted(FHIR_STATS.items()):
            terminalreporter.write_line(f"{k}: {v}")
        for n in FHIR_NOTES:
            terminalreporter.write_line(n)
