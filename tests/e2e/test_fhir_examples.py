"""The official FHIR R4 examples (npm hl7.fhir.r4.examples@4.0.1, fetched by scripts/test into
target/fhir-r4-examples and named by HEARTH_R4_EXAMPLES) created and read back.

Which files: every `*.json` of the package that is a resource (a JSON object with a
resourceType; package.json and .index.json are not). Of those, the ones describing the standard
rather than a person's health are left out: the types of FHIR's Conformance module
(CapabilityStatement, StructureDefinition, ImplementationGuide, SearchParameter,
MessageDefinition, OperationDefinition, CompartmentDefinition, StructureMap, GraphDefinition,
ExampleScenario) and Terminology module (CodeSystem, ValueSet, ConceptMap, NamingSystem,
TerminologyCapabilities); Bundles (containers of other examples, or instructions when they are
transactions); and the types the server keeps itself, which its CapabilityStatement lists without
`create` (AuditEvent, Provenance: a create must answer 405).

Of the rest, an example whose references are all absolute URLs, contained (`#…`) or absent is
created (a Patient with a `user/` token, which starts a record; anything else with a `patient/`
token into one examples record) and read back: it must equal the input apart from `id`,
`meta.versionId` and `meta.lastUpdated`, decimals compared as text. An example with a reference
the server cannot resolve (`Patient/example`, `urn:uuid:…`) must be refused with 422. A refusal of
an example the independent validator (fhir.resources) also refuses is a defect of the example
and is reported as such; any other refusal fails the test."""

import collections
import os
from pathlib import Path

import pytest

from conftest import (FHIR_NOTES, FHIR_STATS, ROOT, Fhir, Validator, dumps_exact, json_diff, loads_exact,
                      operator_token, without_server_fields)

DEFINITIONS = {
    "CapabilityStatement", "StructureDefinition", "ImplementationGuide", "SearchParameter", "MessageDefinition",
    "OperationDefinition", "CompartmentDefinition", "StructureMap", "GraphDefinition", "ExampleScenario",
    "CodeSystem", "ValueSet", "ConceptMap", "NamingSystem", "TerminologyCapabilities",
}
EMAIL = "examples@example.org"


def examples_dir():
    d = os.environ.get("HEARTH_R4_EXAMPLES")
    path = Path(d) if d else ROOT / "target" / "fhir-r4-examples" / "package"
    assert (path / "package.json").is_file(), (
        f"the official FHIR R4 examples are missing ({path}): scripts/test fetches them with "
        "`npm pack hl7.fhir.r4.examples@4.0.1` into target/fhir-r4-examples and exports HEARTH_R4_EXAMPLES")
    return path


def references(value, out):
    if isinstance(value, dict):
        for k, v in value.items():
            if k == "reference" and isinstance(v, str):
                out.append(v)
            else:
                references(v, out)
    elif isinstance(value, list):
        for v in value:
            references(v, out)
    return out


def resolvable_here(ref):
    return ref.startswith("#") or ref.startswith("http://") or ref.startswith("https://")


@pytest.fixture(scope="module")
def corpus(synthea):
    files = sorted(examples_dir().glob("*.json"))
    cap = synthea.api.ok("GET", "metadata")
    creatable = {r["type"] for r in cap["rest"][0]["resource"] if any(i["code"] == "create" for i in r["interaction"])}
    kinds = collections.defaultdict(list)
    for f in files:
        text = f.read_text()
        value = loads_exact(text)
        if not isinstance(value, dict) or "resourceType" not in value:
            kinds["not a resource"].append((f, value))
        elif value["resourceType"] in DEFINITIONS:
            kinds["definition"].append((f, value))
        elif value["resourceType"] == "Bundle":
            kinds["bundle"].append((f, value))
        elif value["resourceType"] not in creatable:
            kinds["kept by the server"].append((f, value))
        elif all(resolvable_here(r) for r in references(value, [])):
            kinds["round trip"].append((f, value))
        else:
            kinds["unresolvable reference"].append((f, value))
    FHIR_NOTES.append("R4 examples: " + ", ".join(f"{k} {len(v)}" for k, v in sorted(kinds.items())))
    assert len(kinds["round trip"]) > 150 and len(kinds["unresolvable reference"]) > 300, {k: len(v) for k, v in kinds.items()}
    h = synthea.h
    h.cli("admin", "create-account", "--email", EMAIL, "--name", "Examples")
    record = h.cli("admin", "create-record", "--owner", EMAIL, "--name", "Examples", "--relationship", "other")
    user = Fhir(h.base, operator_token(h, account=EMAIL))
    patient = Fhir(h.base, operator_token(h, record=record, scope="patient/*.cruds"))
    return kinds, user, patient


def create(api, value):
    body = dict(value)
    body.pop("id", None)
    return api.post(value["resourceType"], dumps_exact(body))


def test_examples_round_trip(corpus, validator):
    kinds, user, patient = corpus
    ok, example_defects, failed = [], [], []
    for f, value in kinds["round trip"]:
        api = user if value["resourceType"] == "Patient" else patient
        r = create(api, value)
        if r.status_code != 201:
            problems = Validator.problems(loads_exact_to_plain(value))
            if r.status_code in (400, 422) and problems:
                example_defects.append(f"{f.name}: {r.status_code}, the validator agrees: {problems[:2]}")
            else:
                failed.append(f"{f.name}: create answered {r.status_code} {r.text[:300]}")
            continue
        rid = r.headers["Location"].split("/")[-3]
        got = api.get(f"{value['resourceType']}/{rid}")
        assert got.status_code == 200, (f.name, got.status_code)
        served = loads_exact(got.text)
        assert served["id"] == rid and served["meta"]["versionId"] == "1"
        validator.check(got.json(), f"example {f.name}")
        diff = json_diff(without_server_fields(value), without_server_fields(served))
        if diff:
            failed.append(f"{f.name}: read back differs at {diff[:3]}")
        else:
            ok.append(f.name)
    FHIR_STATS["R4 examples round-tripped"] = len(ok)
    FHIR_STATS["R4 examples refused as invalid (the validator agrees)"] = len(example_defects)
    for d in example_defects:
        FHIR_NOTES.append(f"R4 example defect: {d}")
    assert not failed, f"{len(failed)} examples did not round-trip:\n" + "\n".join(failed)
    assert len(ok) > 150


def test_examples_with_unresolvable_references_are_refused(corpus):
    kinds, user, patient = corpus
    reasons, wrong = collections.Counter(), []
    before = patient.ok("GET", "_history", params={"_count": 1})
    for f, value in kinds["unresolvable reference"]:
        api = user if value["resourceType"] == "Patient" else patient
        r = create(api, value)
        if r.status_code == 422:
            issue = r.json()["issue"][0]
            reasons[issue["code"]] += 1
        elif r.status_code == 400 and Validator.problems(loads_exact_to_plain(value)):
            reasons["400: invalid example (the validator agrees)"] += 1
        else:
            wrong.append(f"{f.name}: {r.status_code} {r.text[:200]}")
    FHIR_STATS["R4 examples refused for unresolvable references (422)"] = sum(v for k, v in reasons.items() if not k.startswith("400"))
    FHIR_NOTES.append(f"R4 examples with unresolvable references: {dict(reasons)}")
    assert not wrong, f"{len(wrong)} examples with references the server cannot resolve were not refused with 422:\n" + "\n".join(wrong[:20])
    after = patient.ok("GET", "_history", params={"_count": 1})
    assert after.get("entry", [None])[0] == before.get("entry", [None])[0], "a refused create wrote something"


def test_server_kept_types_cannot_be_created(corpus):
    kinds, user, patient = corpus
    for f, value in kinds["kept by the server"]:
        r = create(patient, value)
        assert r.status_code == 405, (f.name, r.status_code, r.text[:200])
    assert len(kinds["kept by the server"]) == 14  # 9 AuditEvent, 5 Provenance examples


def loads_exact_to_plain(value):
    """A loads_exact value as plain JSON (numbers as numbers) for the validator."""
    import json
    return json.loads(dumps_exact(value))
