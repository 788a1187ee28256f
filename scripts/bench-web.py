#!/usr/bin/env python3
"""Web app page-time benchmark: a release `hearth serve` on a fresh SQLite data directory, one
record holding 10,000 items, and every page of the web app fetched over HTTP by a signed-in
person, one request at a time. Reports p50/p95/max per page in milliseconds (the time from
sending the request to the last byte on loopback: an upper bound of the server's time).

The record: a Patient plus, over five years of daily life, weights, blood pressures (two a
day some days), glucose, heart rates, steps and sleep, conditions, medications, allergies,
immunizations, appointments and a few files' worth of DocumentReferences: 10,000 items written
through FHIR transactions of 500 entries with a user/ token.

Usage: scripts/bench-web.py [--items 10000] [--rounds 200] [--bin target/release/hearth]
                            [--database-url postgres://…/empty_db]
Needs Python `requests`.
"""

import argparse
import datetime as dt
import json
import os
import random
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
PASSWORD = "plum-kettle-orbit-7-sandal"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run(cmd, env, stdin=None):
    return subprocess.run(cmd, env=env, check=True, capture_output=True, text=True, input=stdin).stdout.strip()


def obs(patient, code, display, when, value=None, unit=None, category="vital-signs", components=None):
    r = {
        "resourceType": "Observation", "status": "final",
        "category": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/observation-category", "code": category}]}],
        "code": {"coding": [{"system": "http://loinc.org", "code": code, "display": display}]},
        "subject": {"reference": patient}, "effectiveDateTime": when,
    }
    if value is not None:
        r["valueQuantity"] = {"value": value, "unit": unit, "system": "http://unitsofmeasure.org", "code": unit}
    if components:
        r["component"] = [
            {"code": {"coding": [{"system": "http://loinc.org", "code": c}]},
             "valueQuantity": {"value": v, "unit": "mm[Hg]", "system": "http://unitsofmeasure.org", "code": "mm[Hg]"}}
            for c, v in components
        ]
    return r


def resources(patient, n):
    """`n` resources of one person's life, newest last."""
    rnd = random.Random(7)
    start = dt.datetime(2021, 11, 1, 8, 0, tzinfo=dt.timezone.utc)
    out = []
    fixed = [
        {"resourceType": "Condition", "clinicalStatus": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/condition-clinical", "code": "active"}]},
         "code": {"coding": [{"system": "http://snomed.info/sct", "code": "44054006", "display": "Diabetes mellitus type 2"}]}, "subject": {"reference": patient}, "onsetDateTime": "2019-03-02"},
        {"resourceType": "Condition", "clinicalStatus": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/condition-clinical", "code": "active"}]},
         "code": {"coding": [{"system": "http://snomed.info/sct", "code": "38341003", "display": "Hypertension"}]}, "subject": {"reference": patient}, "onsetDateTime": "2020-05-12"},
        {"resourceType": "AllergyIntolerance", "code": {"text": "Penicillin"}, "criticality": "high", "patient": {"reference": patient}},
        {"resourceType": "MedicationStatement", "status": "active", "subject": {"reference": patient},
         "medicationCodeableConcept": {"coding": [{"system": "http://www.nlm.nih.gov/research/umls/rxnorm", "code": "860975", "display": "Metformin 500 MG Oral Tablet"}]},
         "dosage": [{"text": "one tablet twice a day"}]},
        {"resourceType": "Immunization", "status": "completed", "patient": {"reference": patient}, "occurrenceDateTime": "2025-10-01",
         "vaccineCode": {"coding": [{"system": "http://hl7.org/fhir/sid/cvx", "code": "141", "display": "Influenza, seasonal, injectable"}]}},
    ]
    out.extend(fixed)
    kinds = ["weight", "bp", "glucose", "hr", "steps", "sleep"]
    i = 0
    while len(out) < n - 20:
        when = (start + dt.timedelta(hours=4 * i + rnd.randint(0, 3))).strftime("%Y-%m-%dT%H:%M:%SZ")
        k = kinds[i % len(kinds)]
        if k == "weight":
            out.append(obs(patient, "29463-7", "Body weight", when, round(80 + rnd.uniform(-3, 3), 1), "kg"))
        elif k == "bp":
            out.append(obs(patient, "85354-9", "Blood pressure panel", when,
                           components=[("8480-6", rnd.randint(110, 150)), ("8462-4", rnd.randint(65, 95))]))
        elif k == "glucose":
            out.append(obs(patient, "2339-0", "Glucose", when, round(rnd.uniform(4.5, 9.5), 1), "mmol/L", category="laboratory"))
        elif k == "hr":
            out.append(obs(patient, "8867-4", "Heart rate", when, rnd.randint(55, 100), "/min"))
        elif k == "steps":
            out.append(obs(patient, "55423-8", "Steps", when, rnd.randint(2000, 15000), "{steps}", category="activity"))
        else:
            out.append(obs(patient, "93832-4", "Sleep duration", when, round(rnd.uniform(5, 9), 1), "h", category="activity"))
        i += 1
    soon = dt.datetime.now(dt.timezone.utc) + dt.timedelta(days=10)
    while len(out) < n:
        s = (soon + dt.timedelta(days=len(out) % 20)).strftime("%Y-%m-%dT%H:%M:%SZ")
        out.append({"resourceType": "Appointment", "status": "booked", "start": s, "end": s, "description": "Check-up",
                    "participant": [{"actor": {"reference": patient}, "status": "accepted"}]})
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--items", type=int, default=10_000)
    ap.add_argument("--rounds", type=int, default=200)
    ap.add_argument("--bin", default=str(ROOT / "target" / "release" / "hearth"))
    ap.add_argument("--database-url", help="an empty PostgreSQL database (default: SQLite in a temporary directory)")
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="hearth-bench-web-"))
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = dict(os.environ, HEARTH_DATA_DIR=str(tmp / "data"), HEARTH_PUBLIC_URL=base, HEARTH_LOG="warn")
    env.pop("HEARTH_DATABASE_URL", None)
    if args.database_url:
        env["HEARTH_DATABASE_URL"] = args.database_url
    server = subprocess.Popen([args.bin, "serve", "--listen", f"127.0.0.1:{port}"], env=env,
                              stdout=subprocess.DEVNULL, stderr=open(tmp / "log", "w"))
    try:
        for _ in range(300):
            try:
                if requests.get(base + "/readyz", timeout=1).ok:
                    break
            except requests.ConnectionError:
                time.sleep(0.1)
        email = "bench@example.org"
        run([args.bin, "admin", "create-account", "--email", email, "--name", "Bench"], env)
        run([args.bin, "admin", "set-password", "--email", email, "--verified"], env, PASSWORD + "\n")
        record = run([args.bin, "admin", "create-record", "--owner", email, "--name", "Pat Bench"], env)
        token = run([args.bin, "admin", "issue-token", "--account", email, "--scope", "user/*.cruds"], env)
        fh = {"Authorization": f"Bearer {token}", "Content-Type": "application/fhir+json", "Accept": "application/fhir+json"}
        patients = requests.get(f"{base}/fhir/Patient", headers=fh).json()
        patient = next(f"Patient/{e['resource']['id']}" for e in patients["entry"] if e["resource"]["name"][0].get("text") == "Pat Bench")
        rs = resources(patient, args.items - 1)
        t0 = time.time()
        for i in range(0, len(rs), 500):
            bundle = {"resourceType": "Bundle", "type": "transaction",
                      "entry": [{"resource": r, "request": {"method": "POST", "url": r["resourceType"]}} for r in rs[i:i + 500]]}
            r = requests.post(f"{base}/fhir", headers=fh, data=json.dumps(bundle))
            assert r.status_code == 200, r.text[:2000]
        print(f"loaded {len(rs) + 1} items in {time.time() - t0:.1f} s", file=sys.stderr)

        web = requests.Session()
        form = web.get(f"{base}/sign-in")
        csrf = re.search(r'name="csrf" value="([^"]+)"', form.text).group(1)
        signed = web.post(f"{base}/sign-in", data={"email": email, "password": PASSWORD, "csrf": csrf}, allow_redirects=False)
        assert signed.status_code == 303, signed.text[:500]
        weights = requests.get(f"{base}/fhir/Observation", params={"code": "http://loinc.org|29463-7", "_count": 1}, headers=fh).json()
        item = weights["entry"][0]["resource"]["id"]
        pages = [
            "/records", f"/records/{record}", f"/records/{record}/data",
            f"/records/{record}/data/weight?range=30d", f"/records/{record}/data/weight?range=1y",
            f"/records/{record}/data/weight?range=all", f"/records/{record}/data/blood-pressure?range=all",
            f"/records/{record}/data/blood-glucose?range=90d", f"/records/{record}/data/steps?range=1y",
            f"/records/{record}/data/condition", f"/records/{record}/data/weight/new",
            f"/records/{record}/items/{item}", f"/records/{record}/items/{item}/edit",
            f"/records/{record}/files", f"/records/{record}/profile", f"/records/{record}/settings",
            f"/records/{record}/sharing", f"/records/{record}/history", f"/records/{record}/emergency",
        ]
        rows = []
        for path in pages:
            r = web.get(base + path)
            if r.status_code != 200:
                rows.append((path, None, None, None, r.status_code))
                continue
            times = []
            for _ in range(args.rounds):
                t = time.perf_counter()
                r = web.get(base + path)
                r.content
                times.append((time.perf_counter() - t) * 1000)
                assert r.status_code == 200, (path, r.status_code)
            times.sort()
            rows.append((path.replace(record, "{id}").replace(item, "{item}"), statistics.median(times),
                         times[int(len(times) * 0.95) - 1], times[-1], 200))
        print(f"| page | p50 ms | p95 ms | max ms |\n|---|---|---|---|")
        for path, p50, p95, mx, status in rows:
            if p50 is None:
                print(f"| `{path}` | answered {status} | | |")
            else:
                print(f"| `{path}` | {p50:.1f} | {p95:.1f} | {mx:.1f} |")
    finally:
        server.terminate()
        server.wait(timeout=30)
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
