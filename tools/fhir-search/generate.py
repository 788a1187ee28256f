#!/usr/bin/env python3
"""Generate the FHIR R4 (4.0.1) search-parameter extract used by hearth-fhir.

Reads the unpacked official `hl7.fhir.r4.examples@4.0.1` npm package and writes
a small gzip-compressed JSON file to crates/hearth-fhir/data/r4-search.json.gz
holding:

* every core SearchParameter (experimental example/extension parameters are
  left out): code, base resource types, type, FHIRPath expression, reference
  targets, canonical URL and the description (split per base type for the
  parameters shared by several resources);
* the Patient compartment (CompartmentDefinition-patient): for each resource
  type, the codes of the parameters that put it in the compartment;
* for each concrete resource type, the elements marked isSummary in its
  StructureDefinition (for `_summary=true`) and its mandatory top-level
  elements (for `_summary=text` and `_elements`).

Usage: generate.py PACKAGE_DIR [OUTPUT]

Only the Python 3 standard library is used; the output is deterministic (sorted
input, sorted keys, gzip mtime 0) so the script can be re-run and the result
committed.
"""

import glob
import gzip
import json
import os
import re
import sys


def load(path):
    with open(path, encoding="utf-8") as f:
        return json.load(f)


# "Multiple Resources: \r\n\r\n* [Type](type.html): text\r\n* ..." -> {Type: text}
MULTI_DESC = re.compile(r"^\* \[([A-Za-z]+)\]\([^)]*\): (.*)$")


def split_description(desc, bases):
    desc = (desc or "").replace("\r\n", "\n").strip()
    if len(bases) < 2 or not desc.startswith("Multiple Resources:"):
        return desc
    out = {}
    for line in desc.split("\n"):
        m = MULTI_DESC.match(line.strip())
        if m and m.group(1) in bases:
            out[m.group(1)] = m.group(2).strip()
    return {b: out.get(b, "") for b in sorted(bases)}


def search_params(pkg):
    params = []
    for f in sorted(glob.glob(os.path.join(pkg, "SearchParameter-*.json"))):
        d = load(f)
        if d.get("resourceType") != "SearchParameter" or d.get("experimental"):
            continue  # the package's own examples and extension-defined parameters
        if not d.get("code") or not d.get("base"):
            continue
        p = {
            "url": d["url"],
            "code": d["code"],
            "base": sorted(d["base"]),
            "type": d["type"],
        }
        if d.get("expression"):
            p["expression"] = d["expression"]
        if d.get("target"):
            p["target"] = sorted(d["target"])
        p["description"] = split_description(d.get("description"), d["base"])
        if d.get("component"):
            p["component"] = [c.get("definition", "") for c in d["component"]]
        params.append(p)
    params.sort(key=lambda p: (p["code"], p["url"]))
    return params


def compartment(pkg):
    d = load(os.path.join(pkg, "CompartmentDefinition-patient.json"))
    out = {}
    for r in d.get("resource", []):
        if r.get("param"):
            out[r["code"]] = sorted(r["param"])
    return dict(sorted(out.items()))


def summaries(pkg):
    """{Type: {"summary": [[path, flags], ...], "mandatory": [name, ...]}}.

    Paths are relative to the resource and keep the `[x]` suffix of choice
    elements. Flags: "b" = backbone element (its own children follow), or
    "#path" = contentReference (children are those of that path).
    """
    out = {}
    for f in sorted(glob.glob(os.path.join(pkg, "StructureDefinition-*.json"))):
        sd = load(f)
        if (sd.get("resourceType") != "StructureDefinition" or sd.get("kind") != "resource"
                or sd.get("derivation") != "specialization" or sd.get("abstract")
                or not sd.get("url", "").startswith("http://hl7.org/fhir/StructureDefinition/")):
            continue
        name = sd["type"]
        elements = sd["snapshot"]["element"]
        paths = {e["path"] for e in elements}
        summary, mandatory = [], []
        for e in elements[1:]:
            rel = e["path"][len(name) + 1:]
            if "." not in rel and e.get("min", 0) >= 1:
                mandatory.append(rel.replace("[x]", ""))
            if not e.get("isSummary"):
                continue
            flag = ""
            if e.get("contentReference"):
                flag = "#" + e["contentReference"].lstrip("#")[len(name) + 1:]
            elif any(p.startswith(e["path"] + ".") for p in paths):
                flag = "b"
            summary.append([rel, flag])
        out[name] = {"summary": summary, "mandatory": mandatory}
    return dict(sorted(out.items()))


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    pkg = sys.argv[1]
    here = os.path.dirname(os.path.abspath(__file__))
    out_path = sys.argv[2] if len(sys.argv) > 2 else os.path.join(
        here, "..", "..", "crates", "hearth-fhir", "data", "r4-search.json.gz")
    if not os.path.isfile(os.path.join(pkg, "CompartmentDefinition-patient.json")):
        sys.exit(f"{pkg} does not look like the unpacked hl7.fhir.r4.examples package")

    params = search_params(pkg)
    data = {
        "fhirVersion": "4.0.1",
        "params": params,
        "patientCompartment": compartment(pkg),
        "resources": summaries(pkg),
    }
    raw = json.dumps(data, separators=(",", ":"), sort_keys=True, ensure_ascii=False).encode("utf-8")
    os.makedirs(os.path.dirname(os.path.abspath(out_path)), exist_ok=True)
    with open(out_path, "wb") as f:
        # mtime=0 keeps the output byte-for-byte reproducible.
        with gzip.GzipFile(filename="", mode="wb", fileobj=f, mtime=0, compresslevel=9) as gz:
            gz.write(raw)
    print(f"params={len(params)} compartmentTypes={len(data['patientCompartment'])} "
          f"resources={len(data['resources'])} json={len(raw)} bytes "
          f"gz={os.path.getsize(out_path)} bytes -> {out_path}")


if __name__ == "__main__":
    main()
