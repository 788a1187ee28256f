"""Real outside FHIR clients, unmodified, against the FHIR API with a bearer token: the SMART
Python library `fhirclient` 4.4.0 (its models and FHIRServer; the token set through its own OAuth2
auth state) and the npm `fhir-kit-client` 2.0.3 (fhirkit.mjs). Each works on an account of its own
on the Synthea server, starting from a Synthea transaction it sends itself."""

import collections
import json
import subprocess

import pytest

from conftest import HERE, SYNTHEA, FHIR_STATS, Fhir, operator_token


def a_synthea_bundle(i):
    return sorted(SYNTHEA.glob("[A-Z]*.json"))[i]


@pytest.fixture(scope="module")
def fhirclient_server(synthea):
    from fhirclient.auth import FHIROAuth2Auth
    from fhirclient.server import FHIRServer

    h = synthea.h
    h.cli("admin", "create-account", "--email", "fhirclient@example.org", "--name", "fhirclient")
    token = operator_token(h, account="fhirclient@example.org")
    server = FHIRServer(None, base_uri=f"{h.base}/fhir")
    # fhirclient signs every request with the access token of its OAuth2 auth (what a SMART
    # launch leaves there); an operator token goes in the same place.
    server.auth = FHIROAuth2Auth(state={"access_token": token})
    return server, Fhir(h.base, token)


def test_fhirclient_transaction_read_search_create_update_history(fhirclient_server, validator):
    from fhirclient.models.bundle import Bundle
    from fhirclient.models.observation import Observation
    from fhirclient.models.patient import Patient

    server, raw = fhirclient_server
    source = json.loads(a_synthea_bundle(3).read_text())
    counts = collections.Counter(e["resource"]["resourceType"] for e in source["entry"])

    # Transaction: a Synthea bundle through the Bundle model, POSTed to the base.
    response = Bundle(source).create(server)
    assert response["type"] == "transaction-response"
    assert [e["response"]["status"][:3] for e in response["entry"]] == ["201"] * len(source["entry"])
    pid = next(e["response"]["location"].split("/")[1] for e in response["entry"] if e["response"]["location"].startswith("Patient/"))

    # Read.
    patient = Patient.read(pid, server)
    assert patient.id == pid and patient.name[0].family == source["entry"][0]["resource"]["name"][0]["family"]
    assert patient.birthDate.isostring == source["entry"][0]["resource"]["birthDate"]

    # Search, page by page through the next links.
    search = Observation.where({"patient": pid, "_count": "20"})
    pages = list(search.perform_iter(server))
    ids = [e.resource.id for b in pages for e in (b.entry or []) if e.search.mode == "match"]
    assert len(ids) == len(set(ids)) == counts["Observation"]
    assert len(pages) == -(-counts["Observation"] // 20) and len(pages) > 1
    for r in search.perform_resources_iter(server):
        assert r.resource_type == "Observation" and r.subject.reference == f"Patient/{pid}"

    # Create, with the model.
    obs = Observation({
        "resourceType": "Observation", "status": "preliminary",
        "code": {"coding": [{"system": "http://loinc.org", "code": "8310-5", "display": "Body temperature"}]},
        "subject": {"reference": f"Patient/{pid}"}, "effectiveDateTime": "2025-03-04T05:06:07Z",
        "valueQuantity": {"value": 37.25, "unit": "Cel", "system": "http://unitsofmeasure.org", "code": "Cel"},
    })
    created = obs.create(server)
    assert created["meta"]["versionId"] == "1" and created["valueQuantity"]["value"] == 37.25
    oid = created["id"]

    # Update: read, change, PUT.
    current = Observation.read(oid, server)
    current.status = "final"
    updated = current.update(server)
    assert updated["meta"]["versionId"] == "2" and updated["status"] == "final"
    assert Observation.read(oid, server).status == "final"

    # Instance history, through the Bundle model.
    history = Bundle.read_from(f"Observation/{oid}/_history", server)
    assert history.type == "history"
    assert [(e.request.method, e.resource.status) for e in history.entry] == [("PUT", "final"), ("POST", "preliminary")]
    validator.assert_valid(history.as_json(), "fhirclient history")

    # Delete, then the read is an error fhirclient raises (410 Gone).
    current.delete(server)
    from requests import HTTPError
    with pytest.raises(HTTPError) as e:
        Observation.read(oid, server)
    assert e.value.response.status_code == 410
    FHIR_STATS["fhirclient calls checked"] = 9


def run_fhirkit(job):
    r = subprocess.run(["node", str(HERE / "fhirkit.mjs"), json.dumps(job)], capture_output=True, text=True,
                       timeout=300, cwd=HERE)
    lines = [l for l in r.stdout.splitlines() if l.startswith("{")]
    assert lines, f"fhirkit.mjs printed nothing: {r.stderr[-2000:]}"
    out = json.loads(lines[-1])
    assert r.returncode == 0 and "error" not in out, f"fhir-kit-client failed: {out} {r.stderr[-2000:]}"
    return out


def test_fhir_kit_client(synthea, validator):
    h = synthea.h
    h.cli("admin", "create-account", "--email", "fhirkit@example.org", "--name", "fhir-kit-client")
    token = operator_token(h, account="fhirkit@example.org")
    path = a_synthea_bundle(8)
    source = json.loads(path.read_text())
    counts = collections.Counter(e["resource"]["resourceType"] for e in source["entry"])
    out = run_fhirkit({"base": f"{h.base}/fhir", "token": token, "bundle": str(path)})

    assert out["smart"] == {"authorizeUrl": f"{h.base}/oauth/authorize", "tokenUrl": f"{h.base}/oauth/token"}
    assert out["capability"]["resourceType"] == "CapabilityStatement" and out["capability"]["fhirVersion"] == "4.0.1"
    tx = out["transaction"]
    assert tx["type"] == "transaction-response" and tx["statuses"] == ["201"] * len(source["entry"])
    assert [l.split("/")[0] for l in tx["locations"]] == [e["resource"]["resourceType"] for e in source["entry"]]

    created, read, updated = out["created"], out["read"], out["updated"]
    for r in (created, read, updated, out["vread1"], out["vread2"]):
        validator.assert_valid(r, "fhir-kit-client")
    assert created["meta"]["versionId"] == "1" and read == created
    assert updated["meta"]["versionId"] == "2" and updated["status"] == "amended"
    assert out["vread1"]["status"] == "final" and out["vread2"] == updated

    # Search and nextPage: every Observation of the new record (and the one created), once.
    raw = Fhir(h.base, token)
    # (the created one was deleted at the end of the script; it was there when it searched)
    want = {r["id"] for r in raw.resources("Observation", {"patient": out["patientId"], "_count": 1000})} | {created["id"]}
    assert len(want) == counts["Observation"] + 1
    ids = out["search"]["ids"]
    assert len(ids) == len(set(ids)) and set(ids) == want
    assert out["search"]["pages"] == -(-len(want) // 25)
    heights = [e for e in source["entry"] if e["resource"]["resourceType"] == "Observation"
               and e["resource"]["code"]["coding"][0]["code"] == "8302-2"]
    assert len(out["postSearch"]) == len(heights)
    assert len(out["compartment"]) == counts["Condition"]

    assert out["history"] == [["PUT", 'W/"2"', "amended"], ["POST", 'W/"1"', "final"]]
    assert out["patched"] == "3"
    assert out["readAfterDelete"] == 410 and out["readAfterDeleteBody"]["resourceType"] == "OperationOutcome"
    assert out["missing"] == 404
    FHIR_STATS["fhir-kit-client calls checked"] = 14
