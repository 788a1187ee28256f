"""SMART App Launch 2.0 / OAuth 2.1 end to end: real outside clients (authlib, the SMART
`fhirclient` library, jwcrypto for Backend Services) against a running Hearth, with Debian's
Chromium signing in and approving the consent page. Refresh, revocation and introspection are
checked against what RFC 6749/9700, 7009 and 7662 say."""

import json
import secrets
import time
import urllib.parse
import uuid

import pytest
import requests
from authlib.integrations.requests_client import OAuth2Session
from authlib.jose import JsonWebKey, jwt
from jwcrypto import jwk as jwc_jwk, jwt as jwc_jwt

from conftest import PASSWORD, SECRETS, browser

SCOPE = "openid fhirUser launch/patient offline_access patient/Observation.rs patient/Condition.rs"


def growth_chart(callback, client_id="growth-chart"):
    return {
        "client_id": client_id,
        "name": "Growth Chart",
        "description": "Charts a child's growth.",
        "redirect_uris": [callback.url],
        "kind": "public",
        "rules": [
            {"name": "measurements", "data_types": ["weight", "height"], "permissions": "rs",
             "offline": True, "required": True, "reason": "To chart growth over time."},
            {"name": "conditions", "data_types": ["condition"], "permissions": "rs",
             "offline": False, "required": False, "reason": "To show conditions beside the chart."},
        ],
    }


@pytest.fixture(scope="module")
def world(hearth, callback):
    ann = hearth.person("ann@example.org", "Ann")
    app = hearth.register(growth_chart(callback))
    SECRETS.append(PASSWORD)
    # Data in Ann's record, written with an operator token.
    op_token = hearth.cli("admin", "issue-token", "--record", ann["record"], "--scope", "patient/*.cruds")
    SECRETS.append(op_token)
    h = {"Authorization": f"Bearer {op_token}", "Content-Type": "application/fhir+json"}
    patient = requests.get(f"{hearth.base}/fhir/Patient", headers=h).json()["entry"][0]["resource"]
    weight = {
        "resourceType": "Observation", "status": "final",
        "category": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/observation-category", "code": "vital-signs"}]}],
        "code": {"coding": [{"system": "http://loinc.org", "code": "29463-7", "display": "Body weight"}]},
        "subject": {"reference": f"Patient/{patient['id']}"},
        "effectiveDateTime": "2026-11-01T08:00:00Z",
        "valueQuantity": {"value": 72.50, "unit": "kg", "system": "http://unitsofmeasure.org", "code": "kg"},
    }
    text = json.dumps(weight).replace('"value": 72.5,', '"value": 72.50,')  # as a device writes it
    assert "72.50" in text
    r = requests.post(f"{hearth.base}/fhir/Observation", headers=h, data=text)
    assert r.status_code == 201, r.text
    assert "72.50" in r.text, "decimals round-trip exactly"
    return {"ann": ann, "app": app, "patient": patient["id"], "op_token": op_token, "weight": r.json()}


def authorize(hearth, callback, world, client_id="growth-chart", scope=SCOPE, optional=("conditions",), name="authorize", secret=None):
    sess = OAuth2Session(client_id, client_secret=secret, redirect_uri=callback.url, scope=scope,
                         code_challenge_method="S256",
                         token_endpoint_auth_method="client_secret_basic" if secret else "none")
    verifier = secrets.token_urlsafe(48)
    nonce = secrets.token_urlsafe(12)
    url, state = sess.create_authorization_url(f"{hearth.base}/oauth/authorize", code_verifier=verifier,
                                               aud=f"{hearth.base}/fhir", nonce=nonce)
    res = browser({"do": "authorize", "url": url, "email": world["ann"]["email"], "password": PASSWORD,
                   "approve": True, "optional": list(optional), "record": world["ann"]["record"],
                   "callback": callback.url}, name)
    q = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(res["url"]).query))
    assert q["state"] == state and q["iss"] == hearth.base and "code" in q
    SECRETS.append(q["code"])
    token = sess.fetch_token(f"{hearth.base}/oauth/token", authorization_response=res["url"], code_verifier=verifier)
    SECRETS.extend(t for t in (token.get("access_token"), token.get("refresh_token")) if t)
    return sess, token, res, nonce, q["code"], verifier


def fhir(hearth, token, path, method="GET", body=None):
    h = {"Authorization": f"Bearer {token}", "Accept": "application/fhir+json"}
    if body is not None:
        h["Content-Type"] = "application/fhir+json"
    return requests.request(method, f"{hearth.base}/fhir/{path}", headers=h,
                            data=None if body is None else json.dumps(body))


def test_discovery_documents(hearth):
    smart = requests.get(f"{hearth.base}/fhir/.well-known/smart-configuration").json()
    assert smart["authorization_endpoint"] == f"{hearth.base}/oauth/authorize"
    assert smart["code_challenge_methods_supported"] == ["S256"]
    assert "permission-v2" in smart["capabilities"] and "launch-standalone" in smart["capabilities"]
    oidc = requests.get(f"{hearth.base}/.well-known/openid-configuration").json()
    assert oidc["issuer"] == hearth.base and oidc["jwks_uri"].endswith("/oauth/jwks")
    keys = requests.get(oidc["jwks_uri"]).json()["keys"]
    assert keys and keys[0]["kty"] == "RSA" and "d" not in keys[0]
    cap = requests.get(f"{hearth.base}/fhir/metadata").json()
    assert cap["resourceType"] == "CapabilityStatement" and cap["fhirVersion"] == "4.0.1"


def test_authlib_code_flow_with_pkce_id_token_and_fhir_access(hearth, callback, world):
    sess, token, res, nonce, code, verifier = authorize(hearth, callback, world)
    # The consent page showed the app, its reasons, and the record.
    assert "Growth Chart" in res["consent"] and "To chart growth over time." in res["consent"]
    assert token["token_type"] == "Bearer" and token["patient"] == world["patient"]
    assert token["refresh_token"] and token["expires_in"] > 0
    assert "29463-7" in token["scope"] and "patient/Condition.rs" in token["scope"]
    # The ID token is signed with a key from the JWKS and carries a pseudonymous subject.
    jwks = JsonWebKey.import_key_set(requests.get(f"{hearth.base}/oauth/jwks").json())
    claims = jwt.decode(token["id_token"], jwks)
    claims.validate()
    assert claims["iss"] == hearth.base and claims["aud"] == "growth-chart" and claims["nonce"] == nonce
    assert world["ann"]["account"] not in claims["sub"]
    assert claims["fhirUser"] == f"{hearth.base}/fhir/Patient/{world['patient']}"
    info = requests.get(f"{hearth.base}/oauth/userinfo", headers={"Authorization": f"Bearer {token['access_token']}"}).json()
    assert info["sub"] == claims["sub"]
    # The token reads what the grant allows, in the record it is confined to.
    at = token["access_token"]
    # Demographics (Patient) are not in the app's rules: to the app they do not exist.
    assert fhir(hearth, at, f"Patient/{world['patient']}").status_code == 404
    r = fhir(hearth, at, f"Observation/{world['weight']['id']}")
    assert r.status_code == 200 and r.json()["valueQuantity"]["value"] == 72.50
    bundle = fhir(hearth, at, "Observation").json()
    assert [e["resource"]["id"] for e in bundle["entry"]] == [world["weight"]["id"]]
    # Writing is not in the rules.
    denied = fhir(hearth, at, "Observation", "POST", world["weight"] | {"id": None})
    assert denied.status_code == 403 and denied.json()["resourceType"] == "OperationOutcome"
    # A code is single-use: replaying it fails and revokes what it produced.
    replay = requests.post(f"{hearth.base}/oauth/token", data={
        "grant_type": "authorization_code", "code": code, "redirect_uri": callback.url,
        "code_verifier": verifier, "client_id": "growth-chart"})
    assert replay.status_code == 400 and replay.json()["error"] == "invalid_grant"
    assert fhir(hearth, at, f"Observation/{world['weight']['id']}").status_code == 401
    assert replay.headers["Cache-Control"] == "no-store"


def test_refresh_rotates_and_reuse_revokes_the_family(hearth, callback, world):
    sess, token, *_ = authorize(hearth, callback, world, name="refresh")
    first_refresh = token["refresh_token"]
    new = sess.refresh_token(f"{hearth.base}/oauth/token", refresh_token=first_refresh)
    SECRETS.extend([new["access_token"], new["refresh_token"]])
    assert new["refresh_token"] != first_refresh and new["access_token"] != token["access_token"]
    assert fhir(hearth, new["access_token"], f"Observation/{world['weight']['id']}").status_code == 200
    reuse = requests.post(f"{hearth.base}/oauth/token", data={
        "grant_type": "refresh_token", "refresh_token": first_refresh, "client_id": "growth-chart"})
    assert reuse.status_code == 400 and reuse.json()["error"] == "invalid_grant"
    # The whole family is gone: the rotated refresh token and the access tokens.
    again = requests.post(f"{hearth.base}/oauth/token", data={
        "grant_type": "refresh_token", "refresh_token": new["refresh_token"], "client_id": "growth-chart"})
    assert again.status_code == 400
    assert fhir(hearth, new["access_token"], f"Observation/{world['weight']['id']}").status_code == 401


def test_introspection_and_revocation_follow_rfc_7662_and_7009(hearth, callback, world):
    sess, token, *_ = authorize(hearth, callback, world, name="introspect")
    at = token["access_token"]
    r = requests.post(f"{hearth.base}/oauth/introspect", data={"token": at, "client_id": "growth-chart"}).json()
    assert r["active"] is True and r["client_id"] == "growth-chart" and r["patient"] == world["patient"]
    assert r["exp"] > time.time()
    bogus = requests.post(f"{hearth.base}/oauth/introspect", data={"token": "nope", "client_id": "growth-chart"}).json()
    assert bogus == {"active": False}
    rv = requests.post(f"{hearth.base}/oauth/revoke", data={"token": at, "client_id": "growth-chart"})
    assert rv.status_code == 200
    assert requests.post(f"{hearth.base}/oauth/revoke", data={"token": "unknown", "client_id": "growth-chart"}).status_code == 200
    assert fhir(hearth, at, f"Observation/{world['weight']['id']}").status_code == 401
    r = requests.post(f"{hearth.base}/oauth/introspect", data={"token": at, "client_id": "growth-chart"}).json()
    assert r == {"active": False}
    # Revoking the refresh token takes its family along.
    requests.post(f"{hearth.base}/oauth/revoke", data={"token": token["refresh_token"], "client_id": "growth-chart"})
    r = requests.post(f"{hearth.base}/oauth/token", data={
        "grant_type": "refresh_token", "refresh_token": token["refresh_token"], "client_id": "growth-chart"})
    assert r.status_code == 400


def test_fhirclient_library_completes_the_launch(hearth, callback, world):
    from fhirclient import client

    smart = client.FHIRClient(settings={
        "app_id": "growth-chart", "api_base": f"{hearth.base}/fhir", "redirect_uri": callback.url,
        "scope": "launch/patient openid fhirUser patient/*.rs",
    })
    url = smart.authorize_url
    assert "code_challenge_method=S256" in url
    res = browser({"do": "authorize", "url": url, "email": world["ann"]["email"], "password": PASSWORD,
                   "approve": True, "optional": [], "record": world["ann"]["record"], "callback": callback.url},
                  "fhirclient")
    smart.handle_callback(res["url"])
    assert smart.ready and smart.patient_id == world["patient"]
    SECRETS.append(smart.server.auth.access_token)
    from fhirclient.models.observation import Observation
    obs = Observation.read(world["weight"]["id"], smart.server)
    assert obs.valueQuantity.value == 72.5 and obs.code.coding[0].code == "29463-7"


def test_declining_and_bad_requests(hearth, callback, world):
    sess = OAuth2Session("growth-chart", redirect_uri=callback.url, scope=SCOPE, code_challenge_method="S256")
    verifier = secrets.token_urlsafe(48)
    url, state = sess.create_authorization_url(f"{hearth.base}/oauth/authorize", code_verifier=verifier)
    res = browser({"do": "authorize", "url": url, "email": world["ann"]["email"], "password": PASSWORD,
                   "approve": False, "callback": callback.url}, "deny")
    q = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(res["url"]).query))
    assert q["error"] == "access_denied" and q["state"] == state
    # PKCE is required, and only S256.
    base = {"response_type": "code", "client_id": "growth-chart", "redirect_uri": callback.url,
            "scope": SCOPE, "state": "s1"}
    plain = requests.get(f"{hearth.base}/oauth/authorize", params=base | {
        "code_challenge": "a" * 43, "code_challenge_method": "plain"}, allow_redirects=False)
    assert plain.status_code in (302, 303)
    loc = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(plain.headers["Location"]).query))
    assert loc["error"] == "invalid_request" and loc["state"] == "s1"
    missing = requests.get(f"{hearth.base}/oauth/authorize", params=base, allow_redirects=False)
    assert "error=invalid_request" in missing.headers["Location"]
    # An unregistered redirect URI is never redirected to.
    evil = requests.get(f"{hearth.base}/oauth/authorize", params=base | {
        "redirect_uri": "https://evil.example/cb", "code_challenge": "a" * 43, "code_challenge_method": "S256"},
        allow_redirects=False)
    assert evil.status_code == 400 and "Location" not in evil.headers
    # A wrong verifier fails the exchange.
    sess = OAuth2Session("growth-chart", redirect_uri=callback.url, scope=SCOPE, code_challenge_method="S256")
    url, state = sess.create_authorization_url(f"{hearth.base}/oauth/authorize", code_verifier=secrets.token_urlsafe(48))
    res = browser({"do": "authorize", "url": url, "email": world["ann"]["email"], "password": PASSWORD,
                   "approve": True, "callback": callback.url}, "verifier")
    code = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(res["url"]).query))["code"]
    SECRETS.append(code)
    r = requests.post(f"{hearth.base}/oauth/token", data={
        "grant_type": "authorization_code", "code": code, "redirect_uri": callback.url,
        "code_verifier": secrets.token_urlsafe(48), "client_id": "growth-chart"})
    assert r.status_code == 400 and r.json()["error"] == "invalid_grant"


def test_revoking_the_app_on_the_apps_page_stops_it_at_once(hearth, callback, world):
    _, token, *_ = authorize(hearth, callback, world, name="revoke-page")
    at = token["access_token"]
    assert fhir(hearth, at, f"Observation/{world['weight']['id']}").status_code == 200
    browser({"do": "revoke-app", "base": hearth.base, "email": world["ann"]["email"], "password": PASSWORD,
                   "record": world["ann"]["record"], "client_id": "growth-chart"}, "apps-page")
    assert fhir(hearth, at, f"Observation/{world['weight']['id']}").status_code == 403
    r = requests.post(f"{hearth.base}/oauth/introspect", data={"token": at, "client_id": "growth-chart"}).json()
    assert r == {"active": False}


def test_confidential_client_with_a_secret(hearth, callback, world):
    reg = growth_chart(callback, "family-portal") | {"kind": "confidential-web", "name": "Family Portal"}
    app = hearth.register(reg)
    secret = app["client_secret"]
    SECRETS.append(secret)
    _, token, *_ = authorize(hearth, callback, world, client_id="family-portal", name="confidential", secret=secret)
    assert fhir(hearth, token["access_token"], f"Observation/{world['weight']['id']}").status_code == 200
    bad = requests.post(f"{hearth.base}/oauth/introspect", data={"token": token["access_token"]},
                        auth=("family-portal", "wrong"))
    assert bad.status_code == 401 and bad.json()["error"] == "invalid_client"
    good = requests.post(f"{hearth.base}/oauth/introspect", data={"token": token["access_token"]},
                         auth=("family-portal", secret)).json()
    assert good["active"] is True
    # Another client cannot see this client's token.
    other = requests.post(f"{hearth.base}/oauth/introspect", data={"token": token["access_token"], "client_id": "growth-chart"}).json()
    assert other == {"active": False}


def test_backend_service_client_credentials_with_private_key_jwt(hearth, world):
    key = jwc_jwk.JWK.generate(kty="RSA", size=2048, kid="k1", alg="RS384", use="sig")
    public = json.loads(key.export_public())
    hearth.register({
        "client_id": "clinic-sync", "name": "Clinic Sync", "kind": "backend-service",
        "jwks": {"keys": [public]},
        "rules": [{"name": "results", "data_types": ["weight"], "permissions": "crs", "offline": True,
                   "required": True, "reason": "To send results from the clinic."}],
    })

    def assertion():
        now = int(time.time())
        t = jwc_jwt.JWT(header={"alg": "RS384", "kid": "k1", "typ": "JWT"}, claims={
            "iss": "clinic-sync", "sub": "clinic-sync", "aud": f"{hearth.base}/oauth/token",
            "exp": now + 240, "jti": str(uuid.uuid4())})
        t.make_signed_token(key)
        return t.serialize()

    a = assertion()
    form = {"grant_type": "client_credentials", "scope": "system/Observation.rs",
            "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer", "client_assertion": a}
    r = requests.post(f"{hearth.base}/oauth/token", data=form)
    assert r.status_code == 200, r.text
    tok = r.json()
    SECRETS.append(tok["access_token"])
    assert "refresh_token" not in tok and "system/Observation.rs" in tok["scope"]
    # No person has granted it a record yet: it reaches nothing.
    bundle = fhir(hearth, tok["access_token"], "Observation").json()
    assert bundle.get("entry", []) == []
    # A replayed assertion is refused.
    again = requests.post(f"{hearth.base}/oauth/token", data=form)
    assert again.status_code == 401 and again.json()["error"] == "invalid_client"


def test_operator_tokens_for_scripts(hearth, world):
    t = hearth.cli("admin", "issue-token", "--account", world["ann"]["email"], "--scope", "user/*.rs")
    SECRETS.append(t)
    r = fhir(hearth, t, f"Observation/{world['weight']['id']}")
    assert r.status_code == 200
    assert fhir(hearth, t, "Observation", "POST", world["weight"]).status_code == 403
    hearth.cli("admin", "revoke-token", stdin=t + "\n")
    assert fhir(hearth, t, f"Observation/{world['weight']['id']}").status_code == 401


def test_an_app_removes_its_own_authorisation(hearth, callback, world):
    _, token, *_ = authorize(hearth, callback, world, name="self-removal")
    at = token["access_token"]
    r = requests.delete(f"{hearth.base}/oauth/authorization", headers={"Authorization": f"Bearer {at}"})
    assert r.status_code == 204
    assert fhir(hearth, at, f"Observation/{world['weight']['id']}").status_code == 401
    r = requests.post(f"{hearth.base}/oauth/token", data={
        "grant_type": "refresh_token", "refresh_token": token["refresh_token"], "client_id": "growth-chart"})
    assert r.status_code == 400


def test_admin_api_registers_apps(hearth, callback):
    key = hearth.cli("admin", "issue-admin-key")
    SECRETS.append(key)
    h = {"Authorization": f"Bearer {key}"}
    assert requests.get(f"{hearth.base}/admin/apps").status_code == 401
    assert requests.get(f"{hearth.base}/admin/apps", headers={"Authorization": "Bearer nope"}).status_code == 401
    reg = growth_chart(callback, "api-app") | {"kind": "confidential-web", "name": "API App"}
    r = requests.post(f"{hearth.base}/admin/apps", headers=h, json=reg)
    assert r.status_code == 201, r.text
    created = r.json()
    assert created["client_id"] == "api-app" and created["client_secret"] and "secret_hash" not in created
    SECRETS.append(created["client_secret"])
    dup = requests.post(f"{hearth.base}/admin/apps", headers=h, json=reg)
    assert dup.status_code == 409 and dup.json()["resourceType"] == "OperationOutcome"
    bad = requests.post(f"{hearth.base}/admin/apps", headers=h, json=reg | {"client_id": "x", "redirect_uris": ["http://evil.example/cb"]})
    assert bad.status_code == 400 and "redirect URI" in bad.text
    listed = requests.get(f"{hearth.base}/admin/apps", headers=h).json()["apps"]
    assert "api-app" in [a["client_id"] for a in listed]
    r = requests.post(f"{hearth.base}/admin/apps/api-app/disable", headers=h)
    assert r.status_code == 200 and r.json()["disabled"] is True
    # A disabled app cannot start an authorisation.
    q = {"response_type": "code", "client_id": "api-app", "redirect_uri": callback.url, "scope": SCOPE,
         "code_challenge": "a" * 43, "code_challenge_method": "S256"}
    assert requests.get(f"{hearth.base}/oauth/authorize", params=q, allow_redirects=False).status_code == 400


def test_no_secret_reaches_the_log(hearth, world):
    log = hearth.log_path.read_text()
    assert "hearth is serving" in log
    leaked = [s for s in SECRETS if s and s in log]
    assert not leaked, f"{len(leaked)} secrets appear in the server log"
