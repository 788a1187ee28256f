#!/usr/bin/env python3
"""Generate the compact FHIR R4 (4.0.1) structural model used by hearth-fhir.

Reads the unpacked official `hl7.fhir.r4.examples@4.0.1` npm package (its
StructureDefinition snapshots, ValueSets and CodeSystems) and writes a small
gzip-compressed JSON model to crates/hearth-fhir/data/r4-model.json.gz.

Usage: generate.py PACKAGE_DIR [OUTPUT]

Only the Python 3 standard library is used; the output is deterministic so the
script can be re-run and the result committed.
"""

import glob
import gzip
import json
import os
import sys

FHIR_TYPE_EXT = "http://hl7.org/fhir/StructureDefinition/structuredefinition-fhir-type"
REGEX_EXT = "http://hl7.org/fhir/StructureDefinition/regex"
SYSTEM_TYPES = {
    "http://hl7.org/fhirpath/System.String": "string",
    "http://hl7.org/fhirpath/System.Boolean": "boolean",
    "http://hl7.org/fhirpath/System.Integer": "integer",
    "http://hl7.org/fhirpath/System.Decimal": "decimal",
    "http://hl7.org/fhirpath/System.Date": "date",
    "http://hl7.org/fhirpath/System.DateTime": "dateTime",
    "http://hl7.org/fhirpath/System.Time": "time",
}
NUMBER_TYPES = {"integer", "decimal", "positiveInt", "unsignedInt"}


def load(path):
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def ext_value(exts, url):
    for e in exts or []:
        if e.get("url") == url:
            for k, v in e.items():
                if k.startswith("value"):
                    return v
    return None


class Expander:
    """Enumerates the codes of a ValueSet (None when it cannot be enumerated)."""

    def __init__(self, value_sets, code_systems):
        self.value_sets = value_sets
        self.code_systems = code_systems
        self.cache = {}

    def cs_codes(self, system):
        cs = self.code_systems.get(system)
        if cs is None or cs.get("content") != "complete":
            return None
        out = []

        def walk(concepts):
            for c in concepts or []:
                out.append(c["code"])
                walk(c.get("concept"))

        walk(cs.get("concept"))
        return out or None

    def part(self, inc, stack):
        """Codes selected by one include/exclude entry: {system: set(codes)}."""
        if inc.get("filter"):
            return None
        result = None
        for vs_url in inc.get("valueSet", []):
            sub = self.expand(vs_url, stack)
            if sub is None:
                return None
            if result is None:
                result = {s: set(c) for s, c in sub.items()}
            else:  # several value sets in one include: intersection
                result = {s: result[s] & set(c) for s, c in sub.items() if s in result}
        system = inc.get("system")
        if system is None:
            return result
        if inc.get("concept"):
            codes = {c["code"] for c in inc["concept"]}
        else:
            all_codes = self.cs_codes(system)
            if all_codes is None:
                return None
            codes = set(all_codes)
        if result is not None:
            codes &= result.get(system, set())
        return {system: codes}

    def expand(self, url, stack=()):
        url = url.split("|")[0]
        if url in self.cache:
            return self.cache[url]
        if url in stack:
            return None
        vs = self.value_sets.get(url)
        result = None
        if vs is not None and "compose" in vs:
            result = {}
            for inc in vs["compose"].get("include", []):
                p = self.part(inc, stack + (url,))
                if p is None:
                    result = None
                    break
                for s, c in p.items():
                    result.setdefault(s, set()).update(c)
            if result is not None:
                for exc in vs["compose"].get("exclude", []):
                    p = self.part(exc, stack + (url,))
                    if p is None:
                        result = None
                        break
                    for s, c in p.items():
                        if s in result:
                            result[s] -= c
        if result is None and vs is not None and "expansion" in vs:
            exp = vs["expansion"]
            if "total" in exp and exp.get("contains") is not None and not exp.get("parameter"):
                result = {}

                def walk(items):
                    for it in items:
                        if "code" in it and "system" in it:
                            result.setdefault(it["system"], set()).add(it["code"])
                        walk(it.get("contains", []))

                walk(exp["contains"])
        if result is not None and not any(result.values()):
            result = None
        self.cache[url] = result
        return result


def element_types(sd, el):
    """List of (type code, is_system_type) for an element."""
    out = []
    for t in el.get("type") or []:
        code = t["code"]
        system = False
        if code.startswith("http://hl7.org/fhirpath/"):
            system = True
            code = ext_value(t.get("extension"), FHIR_TYPE_EXT) or SYSTEM_TYPES.get(code, "string")
        out.append((code, system))
    return out


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    pkg = sys.argv[1]
    here = os.path.dirname(os.path.abspath(__file__))
    out_path = sys.argv[2] if len(sys.argv) > 2 else os.path.join(
        here, "..", "..", "crates", "hearth-fhir", "data", "r4-model.json.gz")

    sds = {}
    for f in sorted(glob.glob(os.path.join(pkg, "StructureDefinition-*.json"))):
        d = load(f)
        if d.get("resourceType") == "StructureDefinition" and d.get("url", "").startswith(
                "http://hl7.org/fhir/StructureDefinition/"):
            sds[d["id"]] = d
    value_sets, code_systems = {}, {}
    for f in sorted(glob.glob(os.path.join(pkg, "ValueSet-*.json"))):
        d = load(f)
        value_sets[d["url"]] = d
    for f in sorted(glob.glob(os.path.join(pkg, "CodeSystem-*.json"))):
        d = load(f)
        if d.get("content") == "complete" and "supplements" not in d:
            code_systems[d["url"]] = d
    expander = Expander(value_sets, code_systems)

    base = {}
    for sid, sd in sds.items():
        if sd.get("derivation") == "specialization" or sd["id"] in ("Resource", "Element"):
            if sd.get("kind") in ("resource", "complex-type", "primitive-type") and sd["type"] == sd["id"]:
                base[sid] = sd

    vs_index, vs_list, skipped = {}, [], set()

    def binding_index(el):
        b = el.get("binding")
        if not b or b.get("strength") != "required" or not b.get("valueSet"):
            return None
        url = b["valueSet"].split("|")[0]
        if url in vs_index:
            return vs_index[url]
        exp = expander.expand(url)
        if exp is None:
            skipped.add(url)
            return None
        vs_index[url] = len(vs_list)
        vs_list.append({"url": url, "systems": {s: sorted(c) for s, c in sorted(exp.items()) if c}})
        return vs_index[url]

    types, primitives, resources, used_codes = {}, {}, [], set()
    for name in sorted(base):
        sd = base[name]
        kind = sd["kind"]
        nodes = {}
        elements = sd["snapshot"]["element"]
        for el in elements[1:]:
            path = el["path"]
            parent, _, child = path.rpartition(".")
            if kind == "primitive-type" and path == name + ".value":
                regex = None
                for t in el.get("type") or []:
                    regex = ext_value(t.get("extension"), REGEX_EXT) or regex
                primitives[name] = {"json": "boolean" if name == "boolean" else
                                    "number" if name in NUMBER_TYPES else "string"}
                if regex:
                    primitives[name]["regex"] = regex
                continue
            tys = element_types(sd, el)
            if kind == "resource" and path == name + ".id":
                tys = [("id", False)]
            row = [child, el.get("min", 0), el.get("max", "*"), [t for t, _ in tys]]
            extra = {}
            if tys and all(s for _, s in tys):
                extra["a"] = 1  # XML attribute: plain JSON value, no `_name` sibling
            if "contentReference" in el:
                extra["r"] = el["contentReference"].lstrip("#")
                row[3] = []
            b = binding_index(el)
            if b is not None:
                extra["b"] = b
            if extra:
                row.append(extra)
            used_codes.update(row[3])
            nodes.setdefault(parent, []).append(row)
        if kind == "primitive-type" and name not in primitives:
            primitives[name] = {"json": "string"}
        entry = {"kind": kind, "nodes": nodes}
        if sd.get("abstract"):
            entry["abstract"] = True
        types[name] = entry
        if kind == "resource" and not sd.get("abstract"):
            resources.append(name)

    # Constrained complex types used as type codes (Age, Duration, SimpleQuantity ...).
    aliases = {}
    for sid, sd in sds.items():
        if (sid in used_codes and sid not in types and sd.get("kind") == "complex-type"
                and sd.get("derivation") == "constraint" and sd["type"] in types):
            aliases[sid] = sd["type"]
    missing = sorted(c for c in used_codes if c not in types and c not in aliases)
    if missing:
        print("warning: unknown type codes:", missing, file=sys.stderr)

    # Element paths typed Reference (informational; the validator derives the same from "types").
    references = sorted(f"{parent}.{row[0]}" for t in types.values() for parent, rows in t["nodes"].items()
                        for row in rows if "Reference" in row[3])
    model = {
        "fhirVersion": "4.0.1",
        "resources": resources,
        "referenceElements": references,
        "primitives": dict(sorted(primitives.items())),
        "aliases": dict(sorted(aliases.items())),
        "types": types,
        "valueSets": vs_list,
    }
    raw = json.dumps(model, separators=(",", ":"), sort_keys=False).encode("utf-8")
    os.makedirs(os.path.dirname(os.path.abspath(out_path)), exist_ok=True)
    with open(out_path, "wb") as f:
        # mtime=0 keeps the output byte-for-byte reproducible.
        with gzip.GzipFile(filename="", mode="wb", fileobj=f, mtime=0, compresslevel=9) as gz:
            gz.write(raw)
    print(f"types={len(types)} resources={len(resources)} primitives={len(primitives)} "
          f"aliases={len(aliases)} valueSets={len(vs_list)} skippedValueSets={len(skipped)} "
          f"json={len(raw)} bytes gz={os.path.getsize(out_path)} bytes -> {out_path}")
    if os.environ.get("VERBOSE"):
        for u in sorted(skipped):
            print("  not enumerable:", u, file=sys.stderr)


if __name__ == "__main__":
    main()
