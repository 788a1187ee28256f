"""What the server returns, checked by an independent validator: PyPI `fhir.resources` 6.4.0, the
R4 (4.0.1) pydantic models (pydantic 1), which refuse unknown elements, wrong datatypes, missing
mandatory elements and malformed primitives (dates, instants, ids, URIs, decimals).

Checked: every resource of every Synthea record as `$everything` serves it, reads and version
reads, search, include and history Bundles, the transaction responses, the CapabilityStatement,
and the OperationOutcomes of error responses. A served resource the validator refuses counts as a
server defect unless its input in the Synthea file is refused the same way (then it is reported as
a defect of the source data)."""

from conftest import FHIR_NOTES, FHIR_STATS, Fhir, Validator, operator_token


def source_of(synthea):
    """Server "Type/id" -> the resource in the Synthea input that became it."""
    out = {}
    for p in synthea.patients + [synthea.directory]:
        by_url = {e["fullUrl"]: e["resource"] for e in p.bundle["entry"]}
        for full_url, ref in p.ids.items():
            out[ref] = by_url[full_url]
    return out


def triage(synthea, failures):
    """Splits failures into server defects and defects of the Synthea input (the input resource
    is refused with the same messages)."""
    sources = source_of(synthea)
    server, source = [], []
    for where, ref, problems in failures:
        src = sources.get(ref)
        if src is not None and Validator.problems(src) == problems:
            source.append((where, ref, problems))
        else:
            server.append((where, ref, problems))
    for where, ref, problems in source:
        FHIR_NOTES.append(f"Synthea source defect (input refused the same way): {ref} {problems}")
    return server, source


def test_the_validator_refuses_what_r4_refuses():
    """The validator is R4 and strict: otherwise the other checks here would prove nothing."""
    ok = {"resourceType": "Observation", "status": "final", "code": {"text": "x"}, "valueQuantity": {"value": 1.5}}
    assert Validator.problems(ok) == []
    assert Validator.problems({**ok, "code": None}), "a missing mandatory element passes"
    assert Validator.problems({**ok, "statuss": "final"}), "an unknown element passes"
    assert Validator.problems({**ok, "effectiveDateTime": "2020-13-01"}), "a bad dateTime passes"
    assert Validator.problems({**ok, "valueQuantity": {"value": "many"}}), "a bad decimal passes"
    # R5-only elements are refused (this is the R4 model set).
    assert Validator.problems({**ok, "instantiatesCanonical": "http://example.org/x"})


def test_every_synthea_resource_served_validates(synthea, validator):
    failures = []
    resources = 0
    ids = {ref.split("/")[1] for ref in synthea.directory.ids.values()}
    directory = [r for r in synthea.served().values() if r["id"] in ids or
                 r.get("name") == [{"text": "Practitioner directory"}]]
    for r in directory:
        failures += validator.check(r, "directory $everything")
    resources += len(directory)
    for p in synthea.loaded():
        for b in synthea.everything_pages(p):
            failures += validator.check(b, f"{p.name} $everything")
            resources += len(b.get("entry", []))
    for p in synthea.patients + [synthea.directory]:
        failures += validator.check(p.response, f"{p.name} transaction-response")
    server, source = triage(synthea, failures)
    FHIR_STATS["Synthea resources validated as $everything served them"] = resources
    FHIR_STATS["Synthea validator failures traced to the source data"] = len(source)
    assert resources == 36206 + 1
    assert not server, f"{len(server)} served resources are refused by fhir.resources: {server[:5]}"


def test_reads_searches_and_history_validate(synthea, validator):
    api = synthea.api
    failures = []
    check = lambda r, where: failures.extend(validator.check(r, where))
    cap = api.ok("GET", "metadata")
    check(cap, "metadata")
    assert cap["resourceType"] == "CapabilityStatement" and cap["fhirVersion"] == "4.0.1"
    reads = 0
    for p in synthea.loaded()[:12]:
        for ref in p.ids.values():
            r = api.get(ref)
            assert r.status_code == 200 and r.headers["ETag"] == 'W/"1"', (ref, r.status_code)
            check(r.json(), f"read {ref}")
            reads += 1
        for ref in list(p.ids.values())[::25]:
            check(api.ok("GET", f"{ref}/_history/1"), f"vread {ref}")
            check(api.ok("GET", f"{ref}/_history"), f"history {ref}")
        for t in sorted(set(p.counts) - {"Organization", "Practitioner", "Patient"}):
            for b in api.bundles(t, {"patient": p.patient_id, "_count": 60}):
                check(b, f"search {t}")
        for b in api.bundles("Observation", {"patient": p.patient_id, "_include": "Observation:encounter", "_count": 40}):
            check(b, "search with _include")
        check(api.ok("GET", "Patient", params={"_id": p.patient_id, "_revinclude": "Observation:patient"}), "_revinclude")
        check(api.ok("GET", f"Patient/{p.patient_id}/Condition"), "compartment search")
    for params in ({"_summary": "count"}, {"_elements": "id,status", "_count": 20}, {"_summary": "true", "_count": 20},
                   {"_sort": "-date", "_count": 20, "code": "http://loinc.org|8302-2"}):
        check(api.ok("GET", "Observation", params=params), f"Observation?{params}")
    # The custodian views: the audit trail of a record and the provenance of a resource.
    p = synthea.loaded()[0]
    events = list(api.bundles("AuditEvent", {"patient": p.patient_id, "_count": 100}))
    assert sum(len(b.get("entry", [])) for b in events) > 0, "reading a record left no AuditEvent"
    for b in events[:5]:
        check(b, "AuditEvent view")
    check(api.ok("GET", "Provenance", params={"target": next(r for r in p.ids.values() if r.startswith("Observation/"))}), "Provenance view")
    check(api.ok("GET", "Observation/_history", params={"_count": 200}), "type history")
    check(api.ok("GET", "_history", params={"_count": 300}), "system history")
    FHIR_STATS["reads validated"] = reads
    server, _ = triage(synthea, failures)
    assert not server, f"{len(server)} served resources are refused by fhir.resources: {server[:5]}"


def test_operation_outcomes_of_errors_validate(synthea, validator):
    h, api = synthea.h, synthea.api
    p = synthea.loaded()[0]
    obs = next(r for r in p.ids.values() if r.startswith("Observation/"))
    h.cli("admin", "create-account", "--email", "validation@example.org", "--name", "Validation")
    mine = Fhir(h.base, operator_token(h, account="validation@example.org"))
    patient = mine.ok("POST", "Patient", {"resourceType": "Patient", "name": [{"family": "Valid"}]}, status=201)
    made = mine.ok("POST", "Observation", {"resourceType": "Observation", "status": "final", "code": {"text": "x"},
                                           "subject": {"reference": f"Patient/{patient['id']}"}}, status=201)
    assert mine.delete(f"Observation/{made['id']}").status_code == 204
    errors = {
        401: Fhir(h.base).get(obs),
        404: mine.get(obs),  # another account's record: not there for this token
        405: mine.put(f"Observation/{'0' * 8}-0000-7000-8000-{'0' * 12}",
                      {"resourceType": "Observation", "id": f"{'0' * 8}-0000-7000-8000-{'0' * 12}", "status": "final", "code": {"text": "x"}}),
        400: mine.post("Observation", {"resourceType": "Observation", "status": "final"}),
        412: mine.put(f"Patient/{patient['id']}", patient, headers={"If-Match": 'W/"7"'}),
        410: mine.get(f"Observation/{made['id']}"),
        422: mine.post("Observation", {"resourceType": "Observation", "status": "final", "code": {"text": "x"},
                                       "subject": {"reference": "Patient/example"}}),
    }
    strict = api.get("Observation", params={"nonsense": "1"}, headers={"Prefer": "handling=strict"})
    for status, r in list(errors.items()) + [(400, strict)]:
        assert r.status_code == status, (status, r.status_code, r.text[:300])
        body = r.json()
        assert body["resourceType"] == "OperationOutcome"
        validator.assert_valid(body, f"{status} OperationOutcome")
    # A lenient search's warning outcome, inside the Bundle.
    b = api.ok("GET", "Observation", params={"nonsense": "1", "_count": 1})
    outcomes = [e for e in b["entry"] if e["search"]["mode"] == "outcome"]
    assert outcomes and outcomes[0]["resource"]["issue"][0]["severity"] == "warning"
    validator.assert_valid(b, "lenient search")
    FHIR_STATS["error OperationOutcomes validated"] = len(errors) + 1
