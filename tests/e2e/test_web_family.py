"""A family's health records in the browser (family.mjs in Debian's Chromium), on a server whose
clock the test can move: sign-up, a child's record, readings in kg and lb on the charts, a PDF
uploaded and downloaded intact, sharing with a viewer of chosen types who is refused everything
else until the access expires, a custodian invited, the record handed over, the history of
changes, and emergency access with its wallet card. Then the FHIR API is asked the same
questions and answers the same way. Screenshots land in target/e2e-screenshots/web-family."""

import base64
import json
import re
import shutil
import subprocess
import uuid
from pathlib import Path

import requests

from conftest import HERE, PASSWORD, ROOT, SHOTS, Hearth

CCDA_WITH_PDF = ROOT.parent / "shared" / "data" / "ccda" / "Unstructured_CDA_with_Embedded_PDF_2_CDA_with_Embedded_PDF.xml"


def embedded_pdf(tmp_path):
    """The PDF inside the HL7 example 'Unstructured CDA with embedded PDF'."""
    text = CCDA_WITH_PDF.read_text()
    b64 = re.search(r'<text[^>]*mediaType="application/pdf"[^>]*>(.*?)</text>', text, re.S).group(1)
    data = base64.b64decode("".join(b64.split()))
    assert data.startswith(b"%PDF-")
    path = tmp_path / "school-report.pdf"
    path.write_bytes(data)
    return path, data


def fhir(h, token, path, **params):
    r = requests.get(f"{h.base}/fhir/{path}", params=params,
                     headers={"Authorization": f"Bearer {token}", "Accept": "application/fhir+json"}, timeout=60)
    return r


def test_a_family_shares_records_in_the_browser(tmp_path):
    shutil.rmtree(SHOTS / "web-family", ignore_errors=True)
    clock = tmp_path / "clock-offset"
    clock.write_text("0")
    h = Hearth(tmp_path, {"HEARTH_CLOCK_OFFSET_FILE": str(clock)}).start()
    try:
        # Addresses of their own: on PostgreSQL every e2e module shares one database.
        tag = uuid.uuid4().hex[:8]
        mail = {who: f"{who}-{tag}@example.org" for who in ["ann", "bo", "dee", "cleo"]}
        for who, name in [("bo", "Bo Example"), ("dee", "Dee Example"), ("cleo", "Cleo Example")]:
            h.person(mail[who], name)
        pdf_path, pdf = embedded_pdf(tmp_path)
        job = {
            "base": h.base, "outbox": str(h.data / "outbox"), "clock": str(clock), "pdf": str(pdf_path),
            "shots": str(SHOTS / "web-family"), "password": PASSWORD,
            **mail,
        }
        r = subprocess.run(["node", str(HERE / "family.mjs"), json.dumps(job)],
                           capture_output=True, text=True, timeout=600, cwd=HERE)
        lines = [l for l in r.stdout.splitlines() if l.startswith("{")]
        assert lines, f"the browser printed nothing: {r.stderr}"
        seen = json.loads(lines[-1])
        assert r.returncode == 0 and "error" not in seen, f"{seen.get('error')}\n{json.dumps(seen.get('seen'), indent=1)[:4000]}"
        record = seen["record"]

        # Signed up and in; the record exists.
        assert seen["afterSignIn"].endswith("/records")
        # Readings: 20.5 kg and 46.3 lb (21.0 kg), each a point on the chart; blood pressure.
        assert "20.5" in seen["weightPage"] and "46.3" in seen["weightPage"], seen["weightPage"]
        assert seen["weightPoints"] >= 2
        assert "104" in seen["bpPage"] and "66" in seen["bpPage"]
        assert "Weight" in seen["home"]
        # The PDF came back byte for byte.
        assert Path(seen["downloaded"]).read_bytes() == pdf

        # The invitation, the wrong PIN, and what the viewer may do.
        assert mail["bo"] in seen["sharingAfterInvite"] and "pending" in seen["sharingAfterInvite"]
        assert "Ann Example" in seen["invitationPage"] and "Weight" in seen["invitationPage"]
        assert "PIN is not right" in seen["wrongPin"]
        assert f"/records/{record}" in seen["boLanding"]
        assert "Weight" in seen["boData"] and "Blood pressure" not in seen["boData"], seen["boData"]
        assert "20.5" in seen["boWeight"]
        assert seen["boEditLinks"] == 0
        assert seen["boAllergy"] in (403, 404)
        assert seen["boNewWeight"] == 403
        assert seen["boSharing"] == 403
        assert seen["boHistory"] == 403
        assert seen["boPostWeight"] == 403
        # Expired: the record is gone for Bo.
        assert seen["boAfterExpiry"] == 404
        assert "Cleo Example" not in seen["boRecordsAfterExpiry"]

        # Custodian invited; record handed over to Cleo; Ann's access ended.
        assert "handing" in seen["handOverPage"]
        assert "Dee Example" in seen["sharingAfterHandOver"] and "Cleo Example" in seen["sharingAfterHandOver"]
        assert mail["ann"] not in seen["sharingAfterHandOver"]
        assert seen["annAfterHandOver"] == 404

        # Emergency: the card carries the code; a wrong code is refused; the right one shows the
        # profile; the use is in the history and was mailed to the custodians.
        card = Path(seen["card"]).read_bytes()
        assert card.startswith(b"%PDF-") and seen["code"].encode() in card
        assert "does not open" in seen["wrongCode"]
        for words in ["Cleo Example", "Peanuts: Hives", "A Rh+", "Ann Example (Mother): +1 555 0100"]:
            assert words in seen["emergency"], f"{words!r} not on the emergency page:\n{seen['emergency']}"
        history = seen["history"]
        for words in ["Sent an invitation", "Entered a wrong invitation PIN", "Accepted an invitation",
                      "Access expired", "Added or changed items", "Emergency profile opened with a code",
                      "Bo Example", "Created an emergency code"]:
            assert words in history, f"{words!r} not in the history:\n{history}"
        assert "Weight" in seen["historyWeight"]

        # No link secret or emergency code reaches the server's log.
        log = h.log_path.read_text()
        for secret in [l.rsplit("/", 1)[1] for l in seen["links"]] + [seen["code"], seen["code"].replace("-", "")]:
            assert secret not in log

        # The FHIR API answers as the pages did: Bo (expired) reaches nothing of Cleo's record;
        # Dee (custodian) reads both weights, the lb one stored in kg with the typed value kept.
        bo = h.cli("admin", "issue-token", "--account", mail["bo"], "--scope", "user/*.rs")
        assert fhir(h, bo, "Observation", code="http://loinc.org|29463-7").json().get("total", 0) == 0
        dee = h.cli("admin", "issue-token", "--account", mail["dee"], "--scope", "user/*.rs")
        weights = fhir(h, dee, "Observation", code="http://loinc.org|29463-7").json()
        kg = sorted(round(e["resource"]["valueQuantity"]["value"], 1) for e in weights.get("entry", []))
        assert kg == [20.5, 21.0], weights
        assert all(e["resource"]["valueQuantity"]["code"] == "kg" for e in weights["entry"])
        assert "46.3" in json.dumps(weights), "the value as typed is kept"
    finally:
        h.stop()
