"""The whole Synthea sample (124 transaction Bundles, 36,206 resources, POST entries with urn:uuid
references) loaded through `POST /fhir` with one account's `user/*.cruds` token, then read back
through `$everything`, per-patient searches, compartment searches, history and (when the server
has it) the Bulk Data export. Every check compares with the input files, not with the server.

The `synthea` fixture (conftest.py) loads the sample once per run into a server of its own; the
tests here only read it, so the search and validation modules can share it."""

import collections
import json
import time

import pytest

from conftest import FHIR_NOTES, FHIR_STATS, SYNTHEA, json_diff, loads_exact, without_server_fields

# Resource types of the sample that are not in the Patient compartment (no `patient` parameter).
NOT_IN_COMPARTMENT = {"Organization", "Practitioner"}


def test_every_transaction_is_accepted_entry_by_entry(synthea):
    everyone = synthea.patients + [synthea.directory]
    assert len(everyone) == len(list(SYNTHEA.glob("*.json")))
    assert synthea.directory is not None, "the practitioner directory bundle was not found"
    failed = [(p.name, p.status, str(p.response)[:500]) for p in everyone if p.status != 200]
    assert not failed, f"{len(failed)} transactions failed, e.g. {failed[:3]}"
    total = 0
    for p in everyone:
        resp = p.response
        assert resp["resourceType"] == "Bundle" and resp["type"] == "transaction-response", p.name
        entries = p.bundle["entry"]
        assert len(resp["entry"]) == len(entries), f"{p.name}: {len(resp['entry'])} responses for {len(entries)} entries"
        for req, res in zip(entries, resp["entry"]):
            r = res["response"]
            assert r["status"].startswith("201"), f"{p.name} {req['fullUrl']}: {r}"
            rtype, rid, hist, version = r["location"].split("/")
            assert (rtype, hist, version) == (req["resource"]["resourceType"], "_history", "1"), r
            assert r["etag"] == 'W/"1"'
            assert res["fullUrl"].endswith(f"/fhir/{rtype}/{rid}")
        ids = list(p.ids.values())
        assert len(set(ids)) == len(entries), f"{p.name}: server ids are not distinct"
        total += len(entries)
    assert total == 36206
    # Every bundle with a Patient started a record of its own: 123 records and the directory.
    records = synthea.h.cli("admin", "list-records", "--owner", synthea.EMAIL).splitlines()
    assert len(records) == len(synthea.patients) + 1
    FHIR_NOTES.append(f"Synthea: {total} entries answered 201 in {len(everyone)} transactions "
                      f"(median {sorted(p.seconds for p in everyone)[len(everyone) // 2] * 1000:.0f} ms each)")


def test_everything_returns_exactly_each_bundle(synthea):
    pages = 0
    for p in synthea.loaded():
        bundles = synthea.everything_pages(p)
        pages += len(bundles)
        got = [r for b in bundles for r in (e["resource"] for e in b.get("entry", []))]
        assert got[0]["resourceType"] == "Patient" and got[0]["id"] == p.patient_id, "the Patient comes first"
        counts = collections.Counter(r["resourceType"] for r in got)
        assert counts == p.counts, f"{p.name}: $everything {counts} != bundle {p.counts}"
        assert sorted(f"{r['resourceType']}/{r['id']}" for r in got) == sorted(p.ids.values()), p.name
        assert all(b["type"] == "searchset" for b in bundles)
    FHIR_STATS["$everything pages followed"] += pages
    # Without _count, one page holds the whole record.
    p = max(synthea.loaded(), key=lambda p: sum(p.counts.values()))
    whole = synthea.api.get(f"Patient/{p.patient_id}/$everything").json()
    assert "next" not in [l["relation"] for l in whole["link"]]
    assert whole.get("total") == sum(p.counts.values())
    assert sorted(e["resource"]["id"] for e in whole["entry"]) == sorted(r["id"] for r in synthea.everything(p))
    # _since: everything was written before now, nothing after.
    later = synthea.api.get(f"Patient/{p.patient_id}/$everything", params={"_since": "2999-01-01T00:00:00Z"}).json()
    assert later.get("entry", []) == []


def test_everything_pages_keep_count_and_type(synthea):
    """Every page of `$everything?_count=N` holds at most N resources, and `_type` holds on every
    page: the `next` link must carry the operation's parameters."""
    p = max(synthea.loaded(), key=lambda p: sum(p.counts.values()))
    sizes = [len(b.get("entry", [])) for b in synthea.everything_pages(p)]
    assert max(sizes) <= 100, f"$everything?_count=100 pages hold {sizes} resources"
    bundles = list(synthea.api.bundles(f"Patient/{p.patient_id}/$everything", {"_type": "Condition,Immunization", "_count": 7}))
    got = collections.Counter(e["resource"]["resourceType"] for b in bundles for e in b.get("entry", []))
    want = {t: p.counts[t] for t in ("Condition", "Immunization") if p.counts[t]}
    nexts = [l["url"] for b in bundles for l in b["link"] if l["relation"] == "next"]
    assert got == want, f"_type=Condition,Immunization&_count=7 gave {dict(got)} in pages of {[len(b.get('entry', [])) for b in bundles]}; next links: {nexts[:2]}"


def test_served_resources_equal_the_input_apart_from_ids(synthea):
    """Each resource as served equals the one in the bundle, its references rewritten from
    urn:uuid to the server's ids, decimals compared as text."""

    def rewrite(value, ids):
        if isinstance(value, dict):
            return {k: (ids.get(v, v) if k == "reference" and isinstance(v, str) else rewrite(v, ids))
                    for k, v in value.items()}
        if isinstance(value, list):
            return [rewrite(v, ids) for v in value]
        return value

    compared = 0
    for p in synthea.loaded():
        source = loads_exact(p.path.read_text())
        r = synthea.api.get(f"Patient/{p.patient_id}/$everything")
        served = {f"{e['resource']['resourceType']}/{e['resource']['id']}": e["resource"]
                  for e in loads_exact(r.text)["entry"]}
        for e in source["entry"]:
            got = served[p.ids[e["fullUrl"]]]
            assert got["meta"]["versionId"] == "1"
            want = without_server_fields(rewrite(e["resource"], p.ids))
            diff = json_diff(want, without_server_fields(got))
            assert not diff, f"{p.name} {e['fullUrl']}: {diff[:5]}"
            compared += 1
    assert compared == sum(sum(p.counts.values()) for p in synthea.loaded())
    FHIR_STATS["Synthea resources compared with their input"] = compared


def test_patient_searches_find_what_each_bundle_holds(synthea):
    searches = 0
    for p in synthea.loaded():
        by_type = collections.defaultdict(set)
        for fu, ref in p.ids.items():
            t, i = ref.split("/")
            by_type[t].add(i)
        for t, want in by_type.items():
            if t in NOT_IN_COMPARTMENT:
                continue
            params = {"_id": p.patient_id} if t == "Patient" else {"patient": p.patient_id, "_count": 500}
            got = [r["id"] for r in synthea.api.resources(t, params)]
            searches += 1
            assert len(got) == len(want) == p.counts[t], f"{p.name}: {t}?patient= gave {len(got)}, the bundle has {p.counts[t]}"
            assert set(got) == want
    # The compartment form (Patient/[id]/[type]) agrees, for a sample.
    for p in synthea.loaded()[:10]:
        for t in ("Observation", "Encounter", "Claim"):
            got = {r["id"] for r in synthea.api.resources(f"Patient/{p.patient_id}/{t}", {"_count": 200})}
            assert got == {ref.split("/")[1] for ref in p.ids.values() if ref.startswith(t + "/")}
            searches += 1
    FHIR_STATS["per-patient searches compared with the bundles"] = searches


def test_history_holds_one_creation_per_resource(synthea):
    p = synthea.loaded()[0]
    # Instance history of a sample of resources: one version, a POST.
    for ref in list(p.ids.values())[:40]:
        h = synthea.api.get(f"{ref}/_history").json()
        assert h["type"] == "history" and len(h["entry"]) == 1, h
        e = h["entry"][0]
        assert e["request"]["method"] == "POST" and e["response"]["etag"] == 'W/"1"'
        assert e["resource"]["id"] == ref.split("/")[1]
        v = synthea.api.get(f"{ref}/_history/1")
        assert v.status_code == 200 and v.json() == e["resource"] and v.headers["ETag"] == 'W/"1"'
    # Type history: every Condition of every record, once.
    want = sum(p.counts["Condition"] for p in synthea.loaded())
    entries = synthea.api.entries("Condition/_history", {"_count": 250})
    assert len(entries) == want
    assert len({e["resource"]["id"] for e in entries}) == want
    # System history: everything the account wrote (the directory record's own Patient too).
    # The next links lose _count (test_history_pages_keep_count_and_since); it is repeated here so
    # that this check takes 37 pages rather than 700.
    entries, url = [], "_history?_count=1000"
    while url:
        b = synthea.api.ok("GET", url)
        entries += b.get("entry", [])
        url = next((l["url"] for l in b["link"] if l["relation"] == "next"), None)
        if url and "_count=" not in url:
            url += "&_count=1000"
    assert len(entries) == 36206 + 1
    assert len({e["fullUrl"] for e in entries}) == 36207
    assert collections.Counter(e["request"]["method"] for e in entries) == {"POST": 36207}


def test_history_pages_keep_count_and_since(synthea):
    """`_history?_count=N` pages hold N entries until the last, and `_since` holds on every page
    (https://hl7.org/fhir/R4/http.html#history): the `next` link must carry both."""
    bundles = list(synthea.api.bundles("Condition/_history", {"_count": 250}))
    sizes = [len(b.get("entry", [])) for b in bundles]
    assert all(n == 250 for n in sizes[:-1]), f"Condition/_history?_count=250 pages hold {sizes}; next link: {bundles[0]['link']}"
    # _since at the start of the 100th transaction: later pages must not reach back before it.
    p = synthea.loaded()[100]
    since = synthea.everything(p)[0]["meta"]["lastUpdated"]
    got = [e["resource"]["meta"]["lastUpdated"] for e in synthea.api.entries("Condition/_history", {"_count": 5, "_since": since})]
    older = [t for t in got if t < since]
    assert not older, f"Condition/_history?_since={since}&_count=5 returned {len(older)} of {len(got)} entries from before {since}"


def test_bulk_export_ndjson_matches_the_bundles(synthea, validator):
    api = synthea.api
    r = api.get("Patient/$export", headers={"Prefer": "respond-async", "Accept": "application/fhir+json"})
    if r.status_code == 404:
        FHIR_NOTES.append("Bulk export: GET /fhir/Patient/$export answered 404 (not implemented yet); its check was skipped")
        pytest.skip("GET /fhir/Patient/$export answers 404: the Bulk Data export is not there yet")
    assert r.status_code == 202, f"{r.status_code} {r.text[:500]}"
    status_url = r.headers["Content-Location"]
    deadline = time.time() + 240
    while True:
        s = api.get(status_url)
        if s.status_code == 200:
            break
        assert s.status_code == 202, f"{s.status_code} {s.text[:500]}"
        assert time.time() < deadline, "the export did not finish in 4 minutes"
        time.sleep(float(s.headers.get("Retry-After", "1")))
    manifest = s.json()
    assert manifest["requiresAccessToken"] is True and manifest.get("error", []) == []
    got, ids = collections.Counter(), collections.defaultdict(set)
    for out in manifest["output"]:
        f = api.get(out["url"], headers={"Accept": "application/fhir+ndjson"})
        assert f.status_code == 200, out
        lines = [l for l in f.text.splitlines() if l.strip()]
        for line in lines:
            res = json.loads(line)
            assert res["resourceType"] == out["type"]
            ids[out["type"]].add(res["id"])
            assert not validator.check(res, "export NDJSON"), validator.failures[-1]
        got[out["type"]] += len(lines)
    served = collections.defaultdict(set)
    for r in synthea.served().values():
        served[r["resourceType"]].add(r["id"])
    for t in ids:
        assert len(ids[t]) == got[t] and ids[t] <= served[t], f"{t}: exported ids are repeated or unknown"
    want = collections.Counter()
    for p in synthea.loaded():
        want.update(p.counts)
    want["Patient"] += 1  # the directory record's Patient
    for t, n in want.items():
        if t in NOT_IN_COMPARTMENT:
            # Not in the Patient compartment: a server may add referenced ones, never more.
            assert got[t] <= n + synthea.directory.counts.get(t, 0), (t, got[t], n)
        else:
            assert got[t] == n and ids[t] == served[t], f"{t}: export has {got[t]}, the bundles {n}"
    FHIR_NOTES.append(f"Bulk export: {sum(got.values())} NDJSON lines matched the bundles")
