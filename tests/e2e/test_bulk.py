"""FHIR Bulk Data Access export (IG STU2, https://hl7.org/fhir/uv/bulkdata/STU2/export.html) end to
end: Synthea bundles imported with `hearth import`, a token from `hearth admin issue-token`, then
`Patient/$export` driven as a bulk data client does it — kick-off, polling the status URL as
Retry-After says, the manifest, every NDJSON file — checking that each type's line count equals
the number of resources of that type in the source bundles and that every line is JSON of the
right resourceType."""

import json
import os
import time
from collections import Counter
from pathlib import Path

import requests

from conftest import ROOT, SECRETS

SYNTHEA = Path(os.environ.get("HEARTH_SYNTHEA_DIR") or ROOT.parent / "shared" / "data" / "synthea-r4")
KICK_OFF = {"Accept": "application/fhir+json", "Prefer": "respond-async"}


def patient_bundles(n):
    """The n smallest patient bundles of the Synthea sample (not the practitioner directory)."""
    assert SYNTHEA.is_dir(), f"the Synthea sample is missing: {SYNTHEA} (set HEARTH_SYNTHEA_DIR)"
    files = [p for p in SYNTHEA.glob("*.json")
             if not p.name.startswith(("practitionerInformation", "hospitalInformation"))]
    files.sort(key=lambda p: (p.stat().st_size, p.name))
    assert len(files) >= n
    return files[:n]


def poll(url, token, deadline_secs=120):
    """Polls a status URL until the job is done, waiting as Retry-After says (at most a second)."""
    deadline = time.time() + deadline_secs
    while True:
        r = requests.get(url, headers={"Authorization": f"Bearer {token}"})
        if r.status_code != 202:
            return r
        assert r.headers.get("X-Progress"), "an in-progress status carries X-Progress"
        retry = int(r.headers["Retry-After"])
        assert retry > 0
        assert time.time() < deadline, "the export did not finish in time"
        time.sleep(min(retry, 1))


def test_patient_export_of_imported_synthea_bundles(hearth):
    bundles = patient_bundles(3)
    expected = Counter()
    for b in bundles:
        expected.update(e["resource"]["resourceType"] for e in json.loads(b.read_text())["entry"])
    assert expected["Patient"] == 3

    email = "bulk-export@example.org"
    hearth.cli("admin", "create-account", "--email", email, "--name", "Bulk Export")
    hearth.cli("import", "--quiet", "--owner", email, *[str(b) for b in bundles])
    token = hearth.cli("admin", "issue-token", "--account", email, "--scope", "user/*.rs")
    SECRETS.append(token)
    auth = {"Authorization": f"Bearer {token}"}

    # Kick-off: both headers are required.
    r = requests.get(f"{hearth.base}/fhir/Patient/$export", headers=auth)
    assert r.status_code == 400 and r.json()["resourceType"] == "OperationOutcome"
    r = requests.get(f"{hearth.base}/fhir/Patient/$export", headers={**auth, **KICK_OFF},
                     params={"_outputFormat": "application/fhir+ndjson"})
    assert r.status_code == 202, r.text
    status_url = r.headers["Content-Location"]
    assert status_url.startswith(f"{hearth.base}/fhir/bulk/")

    done = poll(status_url, token)
    assert done.status_code == 200, done.text
    assert done.headers["Content-Type"].startswith("application/json")
    manifest = done.json()
    assert manifest["requiresAccessToken"] is True
    assert manifest["request"] == f"{hearth.base}/fhir/Patient/$export?_outputFormat=application%2Ffhir%2Bndjson"
    assert manifest["transactionTime"].endswith("Z")
    assert manifest["error"] == []

    # Every file: NDJSON of its type, as many lines as the manifest says.
    lines = Counter()
    ids = {}
    for f in manifest["output"]:
        with requests.get(f["url"], headers=auth, stream=True) as fr:
            assert fr.status_code == 200
            assert fr.headers["Content-Type"] == "application/fhir+ndjson"
            count = 0
            for raw in fr.iter_lines():
                resource = json.loads(raw)
                assert resource["resourceType"] == f["type"]
                assert resource["meta"]["versionId"]
                ids.setdefault(f["type"], set()).add(resource["id"])
                count += 1
        assert count == f["count"], f
        lines[f["type"]] += count
    assert lines == expected
    assert {t: len(v) for t, v in ids.items()} == dict(expected), "every resource exported once"

    # Another person's token sees neither the job nor its files; cancelling ends the job.
    other = "bulk-other@example.org"
    hearth.cli("admin", "create-account", "--email", other, "--name", "Other")
    other_token = hearth.cli("admin", "issue-token", "--account", other, "--scope", "user/*.rs")
    SECRETS.append(other_token)
    for url in (status_url, manifest["output"][0]["url"]):
        r = requests.get(url, headers={"Authorization": f"Bearer {other_token}"})
        assert r.status_code == 404 and r.json()["resourceType"] == "OperationOutcome"
    assert requests.delete(status_url, headers=auth).status_code == 202
    assert requests.get(status_url, headers=auth).status_code == 404
    assert requests.get(manifest["output"][0]["url"], headers=auth).status_code == 404
