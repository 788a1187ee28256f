"""Error semantics of the FHIR API (https://hl7.org/fhir/R4/http.html): the status codes, and an
OperationOutcome (valid R4, checked with fhir.resources) for each error, on records of an account
of its own on the Synthea server. Also the interactions the CapabilityStatement claims for every
resource type, and the write preferences (Prefer, If-Match, If-None-Exist, conditional delete)."""

import json

import pytest
import requests

from conftest import Fhir, operator_token

EMAIL = "errors@example.org"
NO_SUCH_ID = "01a20adb-0000-7000-8000-000000000000"


def obs(pid, **extra):
    return {"resourceType": "Observation", "status": "final",
            "code": {"coding": [{"system": "http://loinc.org", "code": "8867-4", "display": "Heart rate"}]},
            "subject": {"reference": f"Patient/{pid}"}, "effectiveDateTime": "2024-02-03T04:05:06Z",
            "valueQuantity": {"value": 61, "unit": "/min", "system": "http://unitsofmeasure.org", "code": "/min"}, **extra}


@pytest.fixture(scope="module")
def two(synthea):
    """Two records of one account: a user/ token reaching both and a patient/ token for each."""
    h = synthea.h
    h.cli("admin", "create-account", "--email", EMAIL, "--name", "Errors")
    user = Fhir(h.base, operator_token(h, account=EMAIL))
    out = {"h": h, "user": user}
    for name in ("Ann", "Bob"):
        p = user.ok("POST", "Patient", {"resourceType": "Patient", "name": [{"family": "Errors", "given": [name]}]}, status=201)
        o = user.ok("POST", "Observation", obs(p["id"]), status=201)
        out[name] = {"patient": p, "obs": o}
    records = {line.split("\t")[1]: line.split("\t")[0] for line in h.cli("admin", "list-records", "--owner", EMAIL).splitlines()}
    for name in ("Ann", "Bob"):
        out[name]["api"] = Fhir(h.base, operator_token(h, record=records[f"{name} Errors"], scope="patient/*.cruds"))
    return out


def outcome(r, status, validator):
    assert r.status_code == status, f"expected {status}, got {r.status_code}: {r.text[:500]}"
    assert r.headers["Content-Type"].startswith("application/fhir+json")
    body = r.json()
    assert body["resourceType"] == "OperationOutcome" and body["issue"], body
    validator.assert_valid(body, f"{status} outcome")
    return body


def test_401_without_or_with_a_bad_token(two, validator):
    h, o = two["h"], two["Ann"]["obs"]
    url = f"{h.base}/fhir/Observation/{o['id']}"
    for headers in ({}, {"Authorization": "Bearer not-a-token"}, {"Authorization": "Basic dXNlcjpwYXNz"},
                    {"Authorization": f"Bearer {two['user'].token}x"}):
        r = requests.get(url, headers=headers)
        body = outcome(r, 401, validator)
        assert body["issue"][0]["code"] == "login"
        # RFC 6750 §3: a 401 from a resource server carries a Bearer challenge.
        assert r.headers.get("WWW-Authenticate", "").startswith("Bearer"), r.headers
    # The same for search, history, transactions and the operations.
    for method, path in (("GET", "Observation"), ("GET", "_history"), ("POST", ""), ("GET", f"Patient/{two['Ann']['patient']['id']}/$everything")):
        outcome(requests.request(method, f"{h.base}/fhir/{path}", json={"resourceType": "Bundle", "type": "batch"}), 401, validator)


def test_a_patient_token_cannot_reach_another_record(two, validator):
    ann, bob = two["Ann"], two["Bob"]
    outcome(ann["api"].get(f"Observation/{bob['obs']['id']}"), 404, validator)
    outcome(ann["api"].get(f"Patient/{bob['patient']['id']}"), 404, validator)
    outcome(ann["api"].get(f"Observation/{bob['obs']['id']}/_history/1"), 404, validator)
    outcome(ann["api"].get(f"Patient/{bob['patient']['id']}/$everything"), 404, validator)
    r = ann["api"].put(f"Observation/{bob['obs']['id']}", bob["obs"])
    assert r.status_code in (404, 405), r.status_code  # not there for this token (405: "unknown id")
    assert ann["api"].delete(f"Observation/{bob['obs']['id']}").status_code == 404
    assert ann["api"].resources("Observation", {"_id": bob["obs"]["id"]}) == []
    assert {r["id"] for r in ann["api"].resources("Observation")} == {ann["obs"]["id"]}
    # A reference to the other record's Patient does not resolve in this one.
    outcome(ann["api"].post("Observation", obs(bob["patient"]["id"])), 422, validator)
    # Bob's data is untouched.
    assert two["user"].get(f"Observation/{bob['obs']['id']}").json()["meta"]["versionId"] == "1"


def test_if_match_preconditions(two, validator):
    api, o = two["Ann"]["api"], two["Ann"]["obs"]
    r = api.get(f"Observation/{o['id']}")
    v = r.headers["ETag"]
    assert v == f'W/"{r.json()["meta"]["versionId"]}"'
    body = r.json() | {"status": "amended"}
    outcome(api.put(f"Observation/{o['id']}", body, headers={"If-Match": 'W/"999"'}), 412, validator)
    patch = json.dumps([{"op": "replace", "path": "/status", "value": "corrected"}])
    outcome(api.request("PATCH", f"Observation/{o['id']}", patch,
                        headers={"Content-Type": "application/json-patch+json", "If-Match": 'W/"999"'}), 412, validator)
    ok = api.put(f"Observation/{o['id']}", body, headers={"If-Match": v})
    assert ok.status_code == 200 and ok.headers["ETag"] != v and ok.json()["status"] == "amended"
    # The version just replaced is now stale.
    outcome(api.put(f"Observation/{o['id']}", body, headers={"If-Match": v}), 412, validator)
    outcome(api.put(f"Observation/{o['id']}", body, headers={"If-Match": "yesterday"}), 400, validator)


def test_put_to_an_unknown_id_is_405(two, validator):
    api = two["Ann"]["api"]
    body = obs(two["Ann"]["patient"]["id"], id=NO_SUCH_ID)
    outcome(api.put(f"Observation/{NO_SUCH_ID}", body), 405, validator)
    outcome(api.put("Observation/my-own-id", body | {"id": "my-own-id"}), 405, validator)
    assert api.get(f"Observation/{NO_SUCH_ID}").status_code == 404


@pytest.mark.parametrize("change,path", [
    ({"statuss": "final"}, "Observation.statuss"),
    ({"status": "bogus"}, "Observation.status"),
    ({"effectiveDateTime": "2020-13-45"}, "Observation.effectiveDateTime"),
    ({"valueQuantity": {"value": "lots"}}, "Observation.valueQuantity.value"),
    ({"code": None}, "Observation.code"),
])
def test_an_invalid_resource_is_refused_naming_the_path(two, validator, change, path):
    """400/422 with an OperationOutcome whose issue.expression is the FHIRPath of the element at
    fault (https://hl7.org/fhir/R4/operationoutcome-definitions.html#OperationOutcome.issue.expression):
    relative to the resource submitted, so `Observation.status`, not an internal path."""
    api, pid = two["Ann"]["api"], two["Ann"]["patient"]["id"]
    body = {k: v for k, v in (obs(pid) | change).items() if v is not None}
    before = len(api.resources("Observation"))
    r = api.post("Observation", body)
    o = outcome(r, r.status_code if r.status_code in (400, 422) else 400, validator)
    expressions = [e for i in o["issue"] for e in i.get("expression", [])]
    assert any(e == path or (path == "Observation.code" and e == "Observation") for e in expressions), (
        f"issue.expression {expressions} does not name {path}")
    assert len(api.resources("Observation")) == before


def test_not_a_resource_is_400(two, validator):
    api = two["Ann"]["api"]
    outcome(api.post("Observation", "{not json"), 400, validator)
    outcome(api.post("Observation", {"resourceType": "Condition"}), 400, validator)
    outcome(api.post("Observation", ""), 400, validator)
    outcome(api.post("", {"resourceType": "Bundle", "type": "collection"}), 400, validator)
    outcome(api.get("NotAType"), 404, validator)


def test_a_transaction_with_one_bad_entry_writes_nothing(two, validator):
    h, user = two["h"], two["user"]
    pid = two["Ann"]["patient"]["id"]

    def counts():
        return ({t: user.ok("GET", t, params={"_summary": "count"})["total"] for t in ("Patient", "Observation", "Condition")},
                len(h.cli("admin", "list-records", "--owner", EMAIL).splitlines()),
                len(user.entries("_history", {"_count": 1000})))

    before = counts()
    new_patient = "urn:uuid:8f1f4c5e-0e7e-4a8e-9d53-1c1f2f7a0001"
    bundle = {"resourceType": "Bundle", "type": "transaction", "entry": [
        {"fullUrl": new_patient, "resource": {"resourceType": "Patient", "name": [{"family": "Never"}]},
         "request": {"method": "POST", "url": "Patient"}},
        {"fullUrl": "urn:uuid:8f1f4c5e-0e7e-4a8e-9d53-1c1f2f7a0002", "resource": obs("x") | {"subject": {"reference": new_patient}},
         "request": {"method": "POST", "url": "Observation"}},
        {"resource": obs(pid), "request": {"method": "POST", "url": "Observation"}},
        {"resource": {"resourceType": "Condition", "subject": {"reference": f"Patient/{pid}"}, "code": {"text": "c"},
                      "clinicalStatus": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/condition-clinical", "code": "active"}]}},
         "request": {"method": "POST", "url": "Condition"}},
        {"resource": obs(pid) | {"status": "bogus"}, "request": {"method": "POST", "url": "Observation"}},
    ]}
    r = user.post("", bundle)
    assert r.status_code in (400, 422), r.text[:500]
    body = outcome(r, r.status_code, validator)
    assert any("entry[4]" in e for i in body["issue"] for e in i.get("expression", [])), body
    assert counts() == before, "a failed transaction wrote something"
    # The same bundle with the entry fixed goes through whole.
    bundle["entry"][4]["resource"]["status"] = "final"
    ok = user.ok("POST", "", bundle)
    validator.assert_valid(ok, "transaction-response")
    assert [e["response"]["status"][:3] for e in ok["entry"]] == ["201"] * 5
    after = counts()
    assert after[0] == {"Patient": before[0]["Patient"] + 1, "Observation": before[0]["Observation"] + 3,
                        "Condition": before[0]["Condition"] + 1} and after[1] == before[1] + 1


def test_a_batch_runs_each_entry_on_its_own(two, validator):
    user, pid = two["user"], two["Ann"]["patient"]["id"]
    bundle = {"resourceType": "Bundle", "type": "batch", "entry": [
        {"resource": obs(pid), "request": {"method": "POST", "url": "Observation"}},
        {"resource": obs(pid) | {"status": "bogus"}, "request": {"method": "POST", "url": "Observation"}},
        {"request": {"method": "GET", "url": f"Observation/{two['Ann']['obs']['id']}"}},
        {"request": {"method": "GET", "url": f"Observation/{NO_SUCH_ID}"}},
        {"request": {"method": "GET", "url": f"Observation?patient={pid}&_count=1"}},
    ]}
    r = user.ok("POST", "", bundle)
    validator.assert_valid(r, "batch-response")
    assert r["type"] == "batch-response"
    assert [e["response"]["status"][:3] for e in r["entry"]] == ["201", "400", "200", "404", "200"]
    assert r["entry"][1]["response"]["outcome"]["resourceType"] == "OperationOutcome"
    assert r["entry"][4]["resource"]["type"] == "searchset"
    made = r["entry"][0]["response"]["location"].split("/")[1]
    assert user.get(f"Observation/{made}").status_code == 200


def test_a_transaction_error_names_the_element_in_the_bundle(two, validator):
    """The expression of a transaction entry's error is a FHIRPath into the Bundle submitted:
    `Bundle.entry[1].resource.status`."""
    pid = two["Ann"]["patient"]["id"]
    bundle = {"resourceType": "Bundle", "type": "transaction", "entry": [
        {"resource": obs(pid), "request": {"method": "POST", "url": "Observation"}},
        {"resource": obs(pid) | {"status": "bogus"}, "request": {"method": "POST", "url": "Observation"}}]}
    body = outcome(two["user"].post("", bundle), 400, validator)
    expressions = [e for i in body["issue"] for e in i.get("expression", [])]
    assert "Bundle.entry[1].resource.status" in expressions, expressions


def test_strict_handling_refuses_unknown_parameters(two, validator):
    api = two["Ann"]["api"]
    outcome(api.get("Observation", params={"colour": "blue"}, headers={"Prefer": "handling=strict"}), 400, validator)
    outcome(api.get("Observation", params={"date": "tuesday"}, headers={"Prefer": "handling=strict"}), 400, validator)
    outcome(api.get("Observation", params={"code:fuzzy": "x"}, headers={"Prefer": "handling=strict"}), 400, validator)
    lenient = api.ok("GET", "Observation", params={"colour": "blue"})
    assert [e["resource"]["id"] for e in lenient["entry"] if e["search"]["mode"] == "match"] == [r["id"] for r in api.resources("Observation")]
    assert lenient["entry"][-1]["search"]["mode"] == "outcome" and "colour" in json.dumps(lenient["entry"][-1])
    assert "colour" not in json.dumps(lenient["link"])
    validator.assert_valid(lenient, "lenient search")


def test_a_deleted_resource_is_410(two, validator):
    api, pid = two["Ann"]["api"], two["Ann"]["patient"]["id"]
    o = api.ok("POST", "Observation", obs(pid), status=201)
    d = api.delete(f"Observation/{o['id']}")
    assert d.status_code == 204
    outcome(api.get(f"Observation/{o['id']}"), 410, validator)
    outcome(api.get(f"Observation/{o['id']}/_history/2"), 410, validator)
    assert api.get(f"Observation/{o['id']}/_history/1").json()["id"] == o["id"]
    assert api.delete(f"Observation/{o['id']}").status_code == 204  # deleting again changes nothing
    h = api.ok("GET", f"Observation/{o['id']}/_history")
    validator.assert_valid(h, "history with a deletion")
    assert [(e["request"]["method"], e["response"]["etag"]) for e in h["entry"]] == [("DELETE", 'W/"2"'), ("POST", 'W/"1"')]
    assert o["id"] not in {r["id"] for r in api.resources("Observation")}
    # An update brings it back as one new version (version 3), the one the client sent.
    back = api.put(f"Observation/{o['id']}", o | {"status": "amended"})
    assert back.status_code in (200, 201) and back.json()["status"] == "amended"
    versions = [(e["request"]["method"], e["response"]["etag"]) for e in api.ok("GET", f"Observation/{o['id']}/_history")["entry"]]
    assert back.json()["meta"]["versionId"] == "3" and len(versions) == 3, (
        f"one PUT after a DELETE made versions {versions}")


def test_creating_a_patient_with_a_patient_token_is_403(two, validator):
    outcome(two["Ann"]["api"].post("Patient", {"resourceType": "Patient", "name": [{"family": "Second"}]}), 403, validator)
    # With the user/ token it starts a record.
    n = len(two["h"].cli("admin", "list-records", "--owner", EMAIL).splitlines())
    r = two["user"].post("Patient", {"resourceType": "Patient", "name": [{"family": "Third"}]})
    assert r.status_code == 201
    assert len(two["h"].cli("admin", "list-records", "--owner", EMAIL).splitlines()) == n + 1


def test_prefer_return_and_conditional_writes(two, validator):
    api, pid = two["Ann"]["api"], two["Ann"]["patient"]["id"]
    m = api.post("Observation", obs(pid), headers={"Prefer": "return=minimal"})
    assert m.status_code == 201 and m.content == b"" and "/_history/1" in m.headers["Location"]
    o = api.post("Observation", obs(pid), headers={"Prefer": "return=OperationOutcome"})
    assert o.status_code == 201 and validator.assert_valid(o.json())["resourceType"] == "OperationOutcome"
    rep = api.post("Observation", obs(pid), headers={"Prefer": "return=representation"})
    assert rep.status_code == 201 and rep.json()["resourceType"] == "Observation"
    assert rep.headers["Location"].endswith(f"/Observation/{rep.json()['id']}/_history/1")
    ident = {"identifier": [{"system": "urn:example:errors", "value": "once"}]}
    first = api.post("Observation", obs(pid, **ident), headers={"If-None-Exist": "identifier=urn:example:errors|once"})
    again = api.post("Observation", obs(pid, **ident), headers={"If-None-Exist": "identifier=urn:example:errors|once"})
    assert (first.status_code, again.status_code) == (201, 200) and again.json()["id"] == first.json()["id"]
    # Conditional update: no match creates, one match updates it, several are refused.
    cond = obs(pid, identifier=[{"system": "urn:example:errors", "value": "cond"}])
    made = api.put("Observation?identifier=urn:example:errors|cond", cond)
    assert made.status_code == 201, made.text[:300]
    changed = api.put("Observation?identifier=urn:example:errors|cond", cond | {"status": "amended"})
    assert changed.status_code == 200 and changed.json()["id"] == made.json()["id"] and changed.json()["meta"]["versionId"] == "2"
    outcome(api.put("Observation?code=http://loinc.org|8867-4", obs(pid)), 412, validator)
    outcome(api.delete("Observation", params={"code": "http://loinc.org|8867-4"}), 412, validator)  # several match
    assert api.delete("Observation", params={"identifier": "urn:example:errors|once"}).status_code == 204
    outcome(api.get(f"Observation/{first.json()['id']}"), 410, validator)


def test_every_interaction_the_capability_statement_claims_is_answered(two, validator):
    """For each resource type, search-type and history-type answer 200 when the
    CapabilityStatement lists them (a 405 or 404 there contradicts the statement). AuditEvent and
    Provenance are views that need their one parameter."""
    api = two["Ann"]["api"]
    needs = {"AuditEvent": {"patient": two["Ann"]["patient"]["id"]}, "Provenance": {"target": f"Observation/{two['Ann']['obs']['id']}"}}
    cap = validator.assert_valid(api.ok("GET", "metadata"))
    wrong = []
    for res in cap["rest"][0]["resource"]:
        codes = {i["code"] for i in res["interaction"]}
        if "search-type" in codes:
            r = api.get(res["type"], params={"_count": "1", **needs.get(res["type"], {})})
            if r.status_code != 200:
                wrong.append(f"GET /fhir/{res['type']}?_count=1 -> {r.status_code} {r.text[:120]}")
        if "history-type" in codes:
            r = api.get(f"{res['type']}/_history", params={"_count": "1"})
            if r.status_code != 200:
                wrong.append(f"GET /fhir/{res['type']}/_history -> {r.status_code} {r.text[:120]}")
    assert not wrong, "\n".join(wrong)
