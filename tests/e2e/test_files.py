"""Files through the FHIR API from an outside client (requests): a real DICOM file uploaded as
a Binary (whole and streamed in chunks) and read back whole, as byte ranges, conditionally and
as FHIR JSON; a C-CDA document written into a DocumentReference with $binary-access-write and
read back through the attachment's url; the upload limit set through HEARTH_MAX_UPLOAD."""

import base64
import hashlib

import requests

from conftest import ROOT, SECRETS, Hearth

DATA = ROOT.parent / "shared" / "data"


def token_for(hearth, email, name):
    person = hearth.person(email, name)
    token = hearth.cli("admin", "issue-token", "--record", person["record"], "--scope", "patient/*.cruds")
    SECRETS.append(token)
    return {"Authorization": f"Bearer {token}"}


def test_a_file_goes_up_and_comes_back_whole_and_in_ranges(hearth):
    auth = token_for(hearth, "fran@example.org", "Fran")
    dicom = (DATA / "dicom" / "CT_small.dcm").read_bytes()
    n = len(dicom)
    r = requests.post(f"{hearth.base}/fhir/Binary", headers={**auth, "Content-Type": "application/dicom"}, data=dicom)
    assert r.status_code == 201, r.text
    assert r.headers["ETag"] == 'W/"1"'
    url = r.headers["Location"].split("/_history/")[0]
    assert url.startswith(f"{hearth.base}/fhir/Binary/")

    r = requests.get(url, headers=auth)
    assert r.status_code == 200
    assert r.content == dicom
    assert r.headers["Content-Type"] == "application/dicom"
    assert r.headers["Accept-Ranges"] == "bytes"
    assert r.headers["Content-Length"] == str(n)

    r = requests.get(url, headers={**auth, "Range": "bytes=128-131"})
    assert r.status_code == 206
    assert r.content == b"DICM"
    assert r.headers["Content-Range"] == f"bytes 128-131/{n}"
    r = requests.get(url, headers={**auth, "Range": "bytes=-16"})
    assert r.status_code == 206 and r.content == dicom[-16:]
    r = requests.get(url, headers={**auth, "Range": f"bytes={n}-"})
    assert r.status_code == 416
    assert r.headers["Content-Range"] == f"bytes */{n}"
    assert r.json()["resourceType"] == "OperationOutcome"
    r = requests.get(url, headers={**auth, "If-None-Match": 'W/"1"'})
    assert r.status_code == 304

    r = requests.get(url, headers={**auth, "Accept": "application/fhir+json"})
    binary = r.json()
    assert binary["resourceType"] == "Binary" and binary["contentType"] == "application/dicom"
    assert base64.b64decode(binary["data"]) == dicom

    # A body sent in chunks (Transfer-Encoding: chunked) streams in the same way.
    def chunks():
        for i in range(0, n, 4096):
            yield dicom[i:i + 4096]

    r = requests.post(f"{hearth.base}/fhir/Binary", headers={**auth, "Content-Type": "application/dicom"}, data=chunks())
    assert r.status_code == 201, r.text
    assert requests.get(r.headers["Location"].split("/_history/")[0], headers=auth).content == dicom


def test_a_document_attachment_is_written_and_read_back(hearth):
    auth = token_for(hearth, "gil@example.org", "Gil")
    patient = requests.get(f"{hearth.base}/fhir/Patient", headers=auth).json()["entry"][0]["resource"]
    doc = {"resourceType": "DocumentReference", "status": "current",
           "subject": {"reference": f"Patient/{patient['id']}"},
           "content": [{"attachment": {"contentType": "application/xml", "url": "https://example.org/ccd.xml"}}]}
    r = requests.post(f"{hearth.base}/fhir/DocumentReference",
                      headers={**auth, "Content-Type": "application/fhir+json"}, json=doc)
    assert r.status_code == 201, r.text
    doc_id = r.json()["id"]
    ccd = (DATA / "ccda" / "Documents_CCD_CCD_1_CCD.XML").read_bytes()
    path = "DocumentReference.content[0].attachment"
    r = requests.post(f"{hearth.base}/fhir/DocumentReference/{doc_id}/$binary-access-write",
                      params={"path": path}, headers={**auth, "Content-Type": "application/xml"}, data=ccd)
    assert r.status_code == 200, r.text
    attachment = r.json()["content"][0]["attachment"]
    assert attachment["size"] == len(ccd)
    assert attachment["hash"] == base64.b64encode(hashlib.sha1(ccd).digest()).decode()
    r = requests.get(attachment["url"], headers=auth)
    assert r.status_code == 200 and r.content == ccd
    r = requests.get(attachment["url"], headers={**auth, "Range": "bytes=0-99"})
    assert r.status_code == 206 and r.content == ccd[:100]


def test_the_upload_limit_comes_from_the_environment(tmp_path):
    small = Hearth(tmp_path, {"HEARTH_MAX_UPLOAD": "1KiB"}).start()
    try:
        auth = token_for(small, "hal@example.org", "Hal")
        r = requests.post(f"{small.base}/fhir/Binary", headers={**auth, "Content-Type": "text/plain"}, data=b"x" * 1025)
        assert r.status_code == 413
        assert r.json()["issue"][0]["code"] == "too-costly"
        r = requests.post(f"{small.base}/fhir/Binary", headers={**auth, "Content-Type": "text/plain"}, data=b"x" * 1024)
        assert r.status_code == 201
    finally:
        small.stop()
