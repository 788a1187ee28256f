#!/usr/bin/env python3
"""FHIR API benchmark: a release `hearth serve` on a fresh SQLite data directory, loaded and
measured over HTTP on this machine (the load generators share its cores).

1. POST every Synthea bundle in ../shared/data/synthea-r4 as a transaction with a user/ token,
   PASSES times (each pass makes 124 new records), from CLIENTS concurrent clients: resources/s.
2. GET /fhir/Observation/{id} with wrk at 32 connections, random ids of one record, with a
   patient/ token (and with the user/ token): requests/s and latency percentiles.
3. Observation?patient=…&code=…&date=ge… on random patients, one connection: p50/p99.
4. Patient/{id}/$everything of a 1,000-resource patient (the largest Synthea patient, 858
   resources, topped up with copies of one of its Observations): p50/p99.

Usage: scripts/bench-fhir.py [--passes 28] [--clients 3] [--bin target/release/hearth]
Needs wrk (Debian package `wrk`) and Python `requests`.
"""

import argparse
import json
import os
import random
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT.parent / "shared" / "data" / "synthea-r4"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run(cmd, env, stdin=None):
    return subprocess.run(cmd, env=env, check=True, capture_output=True, text=True, input=stdin).stdout.strip()


def wrk(url, token, paths, connections, seconds):
    """wrk over `paths` chosen at random; returns (requests/s, {p50, p90, p99} in ms)."""
    script = tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False)
    script.write("paths = {" + ",".join(json.dumps(p) for p in paths) + "}\n")
    script.write(
        'request = function()\n'
        '  return wrk.format("GET", paths[math.random(#paths)], {["Authorization"] = "Bearer %s"})\n'
        'end\n'
        'done = function(summary, latency, requests)\n'
        '  io.write(string.format("RESULT %%d %%d %%d %%d %%d %%d\\n", summary.requests, summary.duration,'
        ' latency:percentile(50), latency:percentile(90), latency:percentile(99), summary.errors.status))\n'
        'end\n' % token
    )
    script.close()
    out = subprocess.run(
        ["wrk", f"-t{min(2, connections)}", f"-c{connections}", f"-d{seconds}s", "-s", script.name, url],
        check=True, capture_output=True, text=True,
    ).stdout
    os.unlink(script.name)
    line = next(l for l in out.splitlines() if l.startswith("RESULT"))
    n, dur_us, p50, p90, p99, errors = map(int, line.split()[1:])
    assert errors == 0, out
    return n / (dur_us / 1e6), {"p50": p50 / 1000, "p90": p90 / 1000, "p99": p99 / 1000}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--passes", type=int, default=28)
    ap.add_argument("--clients", type=int, default=3)
    ap.add_argument("--seconds", type=int, default=10)
    ap.add_argument("--bin", default=str(ROOT / "target" / "release" / "hearth"))
    ap.add_argument("--work", default=None)
    args = ap.parse_args()

    work = Path(args.work or tempfile.mkdtemp(prefix="hearth-bench-"))
    shutil.rmtree(work / "data", ignore_errors=True)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = dict(os.environ, HEARTH_DATA_DIR=str(work / "data"), HEARTH_PUBLIC_URL=base, HEARTH_LOG="warn")
    run([args.bin, "admin", "create-account", "--email", "bench@example.org", "--name", "Bench"], env)
    user = run([args.bin, "admin", "issue-token", "--account", "bench@example.org", "--scope", "user/*.cruds", "--ttl", "86400"], env)
    server = subprocess.Popen([args.bin, "serve", "--listen", f"127.0.0.1:{port}"], env=env,
                              stdout=open(work / "server.log", "w"), stderr=subprocess.STDOUT)
    try:
        for _ in range(100):
            try:
                if requests.get(base + "/readyz", timeout=1).ok:
                    break
            except requests.ConnectionError:
                time.sleep(0.1)
        # Every patient's bundle (the practitioner directory bundle has no Patient: with a user/
        # token reaching many records it has no record to go to, so it is left out here).
        bundles = [b for b in (f.read_bytes() for f in sorted(DATA.glob("*.json")))
                   if any(e["resource"]["resourceType"] == "Patient" for e in json.loads(b)["entry"])]
        per_bundle = [len(json.loads(b)["entry"]) for b in bundles]
        print(f"machine: {os.cpu_count()} cores; data: {len(bundles)} Synthea bundles, {sum(per_bundle)} resources")

        # 1. Transactions.
        patients = []  # (patient id, resources, observation ids)
        lock = threading.Lock()

        def poster(jobs):
            s = requests.Session()
            for i in jobs:
                r = s.post(base + "/fhir", data=bundles[i], headers={
                    "Authorization": f"Bearer {user}", "Content-Type": "application/fhir+json",
                    "Prefer": "return=minimal"})
                assert r.status_code == 200, r.text[:500]
                entries = r.json()["entry"]
                locs = [e["response"]["location"] for e in entries]
                with lock:
                    patients.append((locs[0].split("/")[1], len(locs),
                                     [l.split("/")[1] for l in locs if l.startswith("Observation/")]))

        total = 0
        start = time.time()
        for p in range(args.passes):
            t0 = time.time()
            order = list(range(len(bundles)))
            threads = [threading.Thread(target=poster, args=(order[k::args.clients],)) for k in range(args.clients)]
            [t.start() for t in threads]
            [t.join() for t in threads]
            dt = time.time() - t0
            total += sum(per_bundle)
            print(f"pass {p + 1}: {sum(per_bundle) / dt:,.0f} resources/s ({total:,} stored)", flush=True)
        elapsed = time.time() - start
        print(f"TRANSACTIONS: {total:,} resources in {elapsed:.1f} s = {total / elapsed:,.0f} resources/s "
              f"({args.clients} clients)")

        # 2. Reads by id: the Observations of one record, with a patient/ token confined to it,
        #    then with the user/ token (which reaches every record).
        record = next(l.split()[0] for l in run([args.bin, "admin", "list-records"], env).splitlines() if l.strip())
        patient_token = run([args.bin, "admin", "issue-token", "--record", record, "--scope", "patient/*.rs",
                             "--ttl", "86400"], env)
        found = requests.get(f"{base}/fhir/Observation?_count=1000&_elements=id",
                             headers={"Authorization": f"Bearer {patient_token}"}).json()
        obs = [e["resource"]["id"] for e in found.get("entry", [])]
        assert obs, found
        paths = [f"/fhir/Observation/{i}" for i in random.sample(obs, min(1000, len(obs)))]
        for label, tok in [("patient/ token", patient_token), ("user/ token", user)]:
            rps, lat = wrk(base, tok, paths, 32, args.seconds)
            print(f"READ BY ID ({label}, 32 connections): {rps:,.0f} requests/s; p50 {lat['p50']:.2f} ms, "
                  f"p90 {lat['p90']:.2f} ms, p99 {lat['p99']:.2f} ms")

        # 3. Observation?patient&code&date=ge on random patients.
        sample = random.sample(patients, min(200, len(patients)))
        paths = []
        for p, _, o in sample:
            if not o:
                continue
            b = requests.get(f"{base}/fhir/Observation/{o[0]}", headers={"Authorization": f"Bearer {user}"}).json()
            code = b["code"]["coding"][0]
            paths.append(f"/fhir/Observation?patient={p}&code={code['system']}|{code['code']}&date=ge2015-01-01")
        rps, lat = wrk(base, user, paths, 1, args.seconds)
        print(f"SEARCH Observation?patient&code&date=ge ({total:,} resources stored, 1 connection): "
              f"p50 {lat['p50']:.2f} ms, p99 {lat['p99']:.2f} ms ({rps:,.0f} requests/s)")

        # 4. $everything of a 1,000-resource patient: the largest Synthea patient (858
        #    resources), topped up to 1,000 with copies of one of its Observations.
        pid, n, obs_ids = max(patients, key=lambda p: p[1])
        auth = {"Authorization": f"Bearer {user}"}
        model = requests.get(f"{base}/fhir/Observation/{obs_ids[0]}", headers=auth).json()
        model.pop("id", None)
        model.pop("meta", None)
        extra = {"resourceType": "Bundle", "type": "transaction", "entry": [
            {"resource": model, "request": {"method": "POST", "url": "Observation"}} for _ in range(1000 - n)]}
        r = requests.post(base + "/fhir", json=extra, headers=dict(auth, Prefer="return=minimal"))
        assert r.status_code == 200, r.text[:300]
        n = 1000
        rps, lat = wrk(base, user, [f"/fhir/Patient/{pid}/$everything"], 1, args.seconds)
        print(f"EVERYTHING of a {n}-resource patient (1 connection): p50 {lat['p50']:.2f} ms, "
              f"p99 {lat['p99']:.2f} ms")
        size = sum(f.stat().st_size for f in (work / "data").rglob("*") if f.is_file())
        print(f"data directory: {size / 1e6:,.0f} MB ({size / total:,.0f} bytes/resource)")
    finally:
        server.terminate()
        server.wait()
        if not args.work:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
