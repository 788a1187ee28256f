"""Search over the whole Synthea sample, checked against an independent computation.

The expected result of every query is computed here, in Python, from the resources the server
served (each record's `$everything`, fetched once), following the rules of
https://hl7.org/fhir/R4/search.html written out below: implicit ranges of dates and numbers and
the prefixes eq ne gt lt ge le sa eb (ap loosely), token `system|code` forms, string matching
(starts-with, case- and accent-insensitive; `:exact`, `:contains`), `:missing`, `:not`, `:text`,
`_id`, `_lastUpdated`, AND across parameters and OR within a value. Each query is then run on the
server, every `next` link followed, and the match sets compared; `_sort`, `_include`,
`_revinclude`, `_summary=count` and `_elements` are checked for what they add. The element each
parameter reads is the one its R4 SearchParameter's expression names, written out by hand.

Paging stability is checked on a record of its own: resources created while a client pages must
not make it see an earlier resource twice or miss one."""

import calendar
import collections
import re
import unicodedata
from decimal import Decimal
from urllib.parse import quote

import pytest

from conftest import FHIR_STATS, Fhir, SYNTHEA, operator_token

INF = float("inf")

# --- dates -----------------------------------------------------------------------------------

DATE = re.compile(r"^(\d{4})(?:-(\d{2})(?:-(\d{2})(?:T(\d{2}):(\d{2})(?::(\d{2})(?:\.(\d+))?)?"
                  r"(Z|[+-]\d{2}:\d{2})?)?)?)?$")


def date_range(text):
    """The implicit range [low, high) of a date, dateTime or instant, in microseconds since
    1970-01-01T00:00:00Z. Values without a time zone are taken as UTC (the server's zone)."""
    m = DATE.match(text)
    assert m, f"not a FHIR date: {text!r}"
    y, mo, d, hh, mi, ss, frac, tz = m.groups()
    y = int(y)
    off = 0
    if tz and tz != "Z":
        sign = 1 if tz[0] == "+" else -1
        off = sign * (int(tz[1:3]) * 60 + int(tz[4:6])) * 60
    us = lambda *a: calendar.timegm((*a, 0, 0, 0)[:6] + (0, 0, 0)) * 1_000_000
    if mo is None:
        return us(y, 1, 1), us(y + 1, 1, 1)
    mo = int(mo)
    if d is None:
        return us(y, mo, 1), (us(y + 1, 1, 1) if mo == 12 else us(y, mo + 1, 1))
    d = int(d)
    if hh is None:
        lo = us(y, mo, d)
        return lo, lo + 86_400_000_000
    lo = calendar.timegm((y, mo, d, int(hh), int(mi), int(ss or 0), 0, 0, 0)) * 1_000_000 - off * 1_000_000
    if ss is None:
        return lo, lo + 60_000_000
    if not frac:
        return lo, lo + 1_000_000
    digits = frac[:6]
    lo += int(digits.ljust(6, "0"))
    return lo, lo + 10 ** (6 - len(digits))


def period_range(p):
    lo = date_range(p["start"])[0] if p.get("start") else -INF
    hi = date_range(p["end"])[1] if p.get("end") else INF
    return lo, hi


def date_matches(prefix, target, param, now_us):
    (tl, th), (pl, ph) = target, param
    contained = pl <= tl and th <= ph
    if prefix == "eq":
        return contained
    if prefix == "ne":
        return not contained
    if prefix == "gt":
        return th > ph
    if prefix == "lt":
        return tl < pl
    if prefix == "ge":
        return th > ph or contained
    if prefix == "le":
        return tl < pl or contained
    if prefix == "sa":
        return tl >= ph
    if prefix == "eb":
        return th <= pl
    raise AssertionError(prefix)


# --- numbers ---------------------------------------------------------------------------------

def number_range(text):
    """The implicit range of a search number: half a unit of its last significant digit."""
    d = Decimal(text)
    half = Decimal(1).scaleb(d.as_tuple().exponent) / 2
    return d - half, d + half


def number_matches(prefix, value, text):
    v, n = Decimal(str(value)), Decimal(text)
    lo, hi = number_range(text)
    return {
        "eq": lambda: lo <= v < hi, "ne": lambda: not (lo <= v < hi),
        "gt": lambda: v > n, "lt": lambda: v < n, "ge": lambda: v >= n, "le": lambda: v <= n,
        "sa": lambda: v > n, "eb": lambda: v < n,
    }[prefix]()


# --- what each parameter reads (the R4 SearchParameter expressions, by hand) -----------------

def _list(v):
    return v if isinstance(v, list) else ([] if v is None else [v])


def names_parts(r, parts=("family", "given", "prefix", "suffix", "text")):
    out = []
    for n in r.get("name", []):
        for p in parts:
            out += _list(n.get(p))
    return out


def ref_to(types):
    def read(r, path):
        return [x["reference"] for x in _list(r.get(path)) if isinstance(x, dict) and "reference" in x
                and (types is None or x["reference"].split("/")[-2] in types)]
    return read


PARAMS = {
    # (type, code): (kind, values of the resource)
    ("*", "_id"): ("token", lambda r: [r["id"]]),
    ("*", "_lastUpdated"): ("date", lambda r: [date_range(r["meta"]["lastUpdated"])]),
    ("Observation", "code"): ("token", lambda r: [r.get("code")]),
    ("Observation", "category"): ("token", lambda r: r.get("category", [])),
    ("Observation", "status"): ("token", lambda r: [r.get("status")]),
    ("Observation", "date"): ("date", lambda r: [date_range(r["effectiveDateTime"])] if "effectiveDateTime" in r
                              else [date_range(r["effectiveInstant"])] if "effectiveInstant" in r
                              else [period_range(r["effectivePeriod"])] if "effectivePeriod" in r else []),
    ("Observation", "value-quantity"): ("quantity", lambda r: [r.get("valueQuantity")]),
    ("Observation", "patient"): ("reference", lambda r: ref_to({"Patient"})(r, "subject")),
    ("Observation", "encounter"): ("reference", lambda r: ref_to({"Encounter"})(r, "encounter")),
    ("Condition", "clinical-status"): ("token", lambda r: [r.get("clinicalStatus")]),
    ("Condition", "code"): ("token", lambda r: [r.get("code")]),
    ("Condition", "onset-date"): ("date", lambda r: [date_range(r["onsetDateTime"])] if "onsetDateTime" in r
                                  else [period_range(r["onsetPeriod"])] if "onsetPeriod" in r else []),
    ("Condition", "abatement-date"): ("date", lambda r: [date_range(r["abatementDateTime"])] if "abatementDateTime" in r
                                      else [period_range(r["abatementPeriod"])] if "abatementPeriod" in r else []),
    ("Encounter", "date"): ("date", lambda r: [period_range(r["period"])] if "period" in r else []),
    ("Encounter", "class"): ("token", lambda r: [r.get("class")]),
    ("Encounter", "type"): ("token", lambda r: r.get("type", [])),
    ("Immunization", "vaccine-code"): ("token", lambda r: [r.get("vaccineCode")]),
    ("Immunization", "date"): ("date", lambda r: [date_range(r["occurrenceDateTime"])] if "occurrenceDateTime" in r else []),
    ("MedicationRequest", "status"): ("token", lambda r: [r.get("status")]),
    ("MedicationRequest", "authoredon"): ("date", lambda r: [date_range(r["authoredOn"])] if "authoredOn" in r else []),
    ("Patient", "name"): ("string", names_parts),
    ("Patient", "family"): ("string", lambda r: names_parts(r, ("family",))),
    ("Patient", "given"): ("string", lambda r: names_parts(r, ("given",))),
    ("Patient", "birthdate"): ("date", lambda r: [date_range(r["birthDate"])] if "birthDate" in r else []),
    ("Patient", "gender"): ("token", lambda r: [r.get("gender")]),
    ("Patient", "identifier"): ("token", lambda r: r.get("identifier", [])),
}
CONTROL = {"_count", "_sort", "_include", "_revinclude", "_summary", "_elements", "_total"}


def codings(v):
    """(system, code, texts) of a code, Coding, CodeableConcept or Identifier."""
    if isinstance(v, str):
        return [(None, v, [])]
    if "coding" in v or ("text" in v and "value" not in v and "code" not in v):
        out = [(c.get("system"), c.get("code"), [c.get("display")] if c.get("display") else []) for c in v.get("coding", [])]
        if v.get("text"):
            out.append((None, None, [v["text"]]))
        return out
    if "value" in v and "code" not in v:  # Identifier
        return [(v.get("system"), v.get("value"), [v["type"]["text"]] if v.get("type", {}).get("text") else [])]
    return [(v.get("system"), v.get("code"), [v["display"]] if v.get("display") else [])]


def fold(s):
    """Case- and accent-insensitive form of a string (https://hl7.org/fhir/R4/search.html#string)."""
    return "".join(c for c in unicodedata.normalize("NFKD", s) if not unicodedata.combining(c)).casefold()


def token_matches(value, query):
    for system, code, _ in codings(value):
        if "|" in query:
            s, c = query.split("|", 1)
            if s == "" and system is None and code == c:
                return True
            if s and system == s and (c == "" or code == c):
                return True
        elif code == query:
            return True
    return False


def quantity_matches(q, query):
    prefix, rest = split_prefix(query)
    number, _, unit = rest.partition("|")
    if not number_matches(prefix, q["value"], number):
        return False
    if unit:
        system, _, code = unit.partition("|")
        if system:
            return q.get("system") == system and q.get("code") == code
        return code in (q.get("code"), q.get("unit"))
    return True


def split_prefix(v):
    if len(v) > 2 and v[:2] in ("eq", "ne", "gt", "lt", "ge", "le", "sa", "eb", "ap") and not v[2].isalpha():
        return v[:2], v[2:]
    return "eq", v


def matches(resource, name, modifier, value, now_us):
    kind, read = PARAMS.get((resource["resourceType"], name)) or PARAMS[("*", name)]
    values = [v for v in read(resource) if v not in (None, "", [])]
    if modifier == "missing":
        return (not values) == (value == "true")
    alternatives = value.split(",")
    if modifier == "not":
        return not any(token_matches(v, q) for v in values for q in alternatives)
    for q in alternatives:
        for v in values:
            if kind == "token":
                if modifier in ("text", "text~"):
                    # text~: the widest reading of :text, the words anywhere in the text.
                    hit = (lambda t: fold(q) in t) if modifier == "text~" else (lambda t: t.startswith(fold(q)))
                    if any(hit(fold(t)) for _, _, ts in codings(v) for t in ts):
                        return True
                elif token_matches(v, q):
                    return True
            elif kind == "string":
                f, g = fold(v), fold(q)
                if {"exact": v == q, "contains": g in f}.get(modifier, f.startswith(g)):
                    return True
            elif kind == "date":
                prefix, d = split_prefix(q)
                if date_matches(prefix, v, date_range(d), now_us):
                    return True
            elif kind == "quantity":
                if quantity_matches(v, q):
                    return True
            elif kind == "reference":
                if v == q or v.endswith("/" + q):
                    return True
    return False


def expected(served, rtype, query, now_us=None):
    """The resources of `rtype` that match every (non-control) parameter of `query`."""
    out = []
    for r in served[rtype]:
        ok = True
        for k, v in query:
            name, _, modifier = k.partition(":")
            if name in CONTROL:
                continue
            if not matches(r, name, modifier or None, v, now_us):
                ok = False
                break
        if ok:
            out.append(r)
    return out


# --- the queries -------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def world(synthea):
    by_type = collections.defaultdict(list)
    for r in synthea.served().values():
        by_type[r["resourceType"]].append(r)
    return synthea, by_type


def run(api, rtype, query, count):
    """Runs a search to its last page: (match ids in order, pages, total, included per page)."""
    ids, pages, includes, total = [], [], [], None
    for i, b in enumerate(api.bundles(rtype, query + [("_count", str(count))])):
        if i == 0:
            total = b.get("total")
        pages.append(b)
        matched = [e["resource"] for e in b.get("entry", []) if e["search"]["mode"] == "match"]
        ids += [r["id"] for r in matched]
        includes.append(([r for r in matched], [e["resource"] for e in b.get("entry", []) if e["search"]["mode"] == "include"]))
    return ids, pages, total, includes


def queries(by_type):
    pats = sorted(by_type["Patient"], key=lambda r: r["id"])
    p = [r for r in pats if r.get("name", [{}])[0].get("family")]
    fam = p[7]["name"][0]["family"]
    given = p[11]["name"][0]["given"][0]
    ssn = next(i["value"] for i in p[3]["identifier"] if i.get("system") == "http://hl7.org/fhir/sid/us-ssn")
    obs = sorted(by_type["Observation"], key=lambda r: r["id"])
    stamps = sorted({r["meta"]["lastUpdated"][:19] + "Z" for r in obs})
    mid = stamps[len(stamps) // 2]
    some_obs = [r["id"] for r in obs[::4000]] + ["01a20adb-0000-7000-8000-000000000000"]
    pid = p[5]["id"]
    L = "http://loinc.org|"
    return [
        # Observation: code
        ("Observation", [("code", "8302-2")]),
        ("Observation", [("code", L + "29463-7")]),
        ("Observation", [("code", L + "2339-0,http://loinc.org|718-7")]),
        ("Observation", [("code", "http://snomed.info/sct|8302-2")]),
        ("Observation", [("code", "|8302-2")]),
        ("Observation", [("code", L + "55284-4"), ("patient", pid)]),
        ("Observation", [("code", L + "39156-5"), ("code", L + "39156-5")]),
        # date, every prefix, several precisions
        ("Observation", [("code", L + "29463-7"), ("date", "2015")]),
        ("Observation", [("code", L + "29463-7"), ("date", "eq2015-03")]),
        ("Observation", [("code", L + "29463-7"), ("date", "ne2015")]),
        ("Observation", [("date", "ge2015-03")]),
        ("Observation", [("code", L + "8302-2"), ("date", "gt2016-05-01")]),
        ("Observation", [("code", L + "8302-2"), ("date", "lt1990")]),
        ("Observation", [("code", L + "8302-2"), ("date", "le1990-06-15")]),
        ("Observation", [("code", L + "8302-2"), ("date", "sa2017-12-31")]),
        ("Observation", [("code", L + "8302-2"), ("date", "eb2000-01-01T00:00:00Z")]),
        ("Observation", [("code", L + "8302-2"), ("date", "ge2012-01-01"), ("date", "lt2013-01-01")]),
        ("Observation", [("date", obs[100]["effectiveDateTime"])]),
        ("Observation", [("date", obs[200]["effectiveDateTime"][:16] + "Z")]),
        ("Observation", [("code", L + "29463-7"), ("date", "ge2011-07-14T19:00:00-04:00")]),
        # value-quantity, with and without units
        ("Observation", [("value-quantity", "gt100")]),
        ("Observation", [("value-quantity", "gt100|http://unitsofmeasure.org|mg/dL")]),
        ("Observation", [("value-quantity", "le5.5||mmol/L")]),
        ("Observation", [("code", L + "29463-7"), ("value-quantity", "80")]),
        ("Observation", [("code", L + "29463-7"), ("value-quantity", "ne80.0")]),
        ("Observation", [("code", L + "29463-7"), ("value-quantity", "ge100"), ("value-quantity", "lt120")]),
        ("Observation", [("code", L + "2339-0"), ("value-quantity", "sa90"), ("date", "ge2010")]),
        # category, status, :missing, :not, _id, _lastUpdated
        ("Observation", [("category", "vital-signs")]),
        ("Observation", [("category", "http://terminology.hl7.org/CodeSystem/observation-category|laboratory")]),
        ("Observation", [("category", "survey,social-history")]),
        ("Observation", [("category:not", "laboratory"), ("category:not", "vital-signs")]),
        ("Observation", [("status", "final"), ("code", L + "72514-3")]),
        ("Observation", [("status:not", "final")]),
        ("Observation", [("value-quantity:missing", "true")]),
        ("Observation", [("value-quantity:missing", "false"), ("patient", pid)]),
        ("Observation", [("_id", ",".join(some_obs))]),
        ("Observation", [("_lastUpdated", "ge" + mid)]),
        ("Observation", [("_lastUpdated", "lt" + mid), ("code", L + "8302-2")]),
        ("Observation", [("code:text", "Body Height")]),
        # Condition
        ("Condition", [("clinical-status", "active")]),
        ("Condition", [("clinical-status", "http://terminology.hl7.org/CodeSystem/condition-clinical|resolved")]),
        ("Condition", [("clinical-status:not", "resolved")]),
        ("Condition", [("code", "http://snomed.info/sct|444814009,http://snomed.info/sct|38341003")]),
        ("Condition", [("onset-date", "ge2010-01-01"), ("onset-date", "lt2012")]),
        ("Condition", [("onset-date", "2016")]),
        ("Condition", [("abatement-date:missing", "true")]),
        ("Condition", [("code:text", "viral")]),
        # Encounter
        ("Encounter", [("date", "2017")]),
        ("Encounter", [("date", "ge2018-06"), ("class", "EMER")]),
        ("Encounter", [("date", "lt1980-01-01")]),
        ("Encounter", [("class", "http://terminology.hl7.org/CodeSystem/v3-ActCode|IMP")]),
        ("Encounter", [("class", "AMB,IMP")]),
        ("Encounter", [("type", "http://snomed.info/sct|185349003")]),
        ("Encounter", [("type", "424619006")]),
        # Immunization
        ("Immunization", [("vaccine-code", "http://hl7.org/fhir/sid/cvx|140")]),
        ("Immunization", [("vaccine-code", "08,49")]),
        ("Immunization", [("date", "ge2017"), ("vaccine-code", "140")]),
        ("Immunization", [("date", "2012-05")]),
        # MedicationRequest
        ("MedicationRequest", [("status", "active")]),
        ("MedicationRequest", [("status", "stopped"), ("authoredon", "le2005")]),
        ("MedicationRequest", [("authoredon", "2015-11")]),
        # Patient
        ("Patient", [("name", fam[:4])]),
        ("Patient", [("name", fam[:3].lower())]),
        ("Patient", [("family:exact", fam)]),
        ("Patient", [("family:exact", fam.lower())]),
        ("Patient", [("family", fam.upper())]),
        ("Patient", [("given:contains", given[2:5])]),
        ("Patient", [("given", given)]),
        ("Patient", [("birthdate", "1970")]),
        ("Patient", [("birthdate", "ge2000-01-01")]),
        ("Patient", [("birthdate", "lt1950"), ("gender", "male")]),
        ("Patient", [("gender", "female")]),
        ("Patient", [("gender:not", "female")]),
        ("Patient", [("identifier", f"http://hl7.org/fhir/sid/us-ssn|{ssn}")]),
        ("Patient", [("identifier", ssn)]),
        ("Patient", [("identifier", "http://hl7.org/fhir/sid/us-ssn|")]),
        ("Patient", [("birthdate:missing", "true")]),
        ("Patient", [("_lastUpdated", "gt" + mid)]),
        ("Patient", [("_id", ",".join(r["id"] for r in pats[:9]))]),
    ]


def test_search_results_equal_the_independent_computation(world, validator):
    synthea, by_type = world
    api = synthea.api
    wrong, empty = [], []
    qs = queries(by_type)
    for i, (rtype, query) in enumerate(qs):
        want = {r["id"] for r in expected(by_type, rtype, query)}
        # :text is "a string search on the text" (starts-with); servers also match words inside
        # the text. Accept anything between the two readings.
        widest = {r["id"] for r in expected(by_type, rtype, [(k.replace(":text", ":text~"), v) for k, v in query])}
        ids, pages, total, _ = run(api, rtype, query, (1000, 137, 50)[i % 3])
        if i % 4 == 0:  # the same search as POST [type]/_search with a form body
            posted = api.post(f"{rtype}/_search", "&".join(f"{k}={quote(v, safe='')}" for k, v in query + [("_count", "1000")]),
                              headers={"Content-Type": "application/x-www-form-urlencoded"})
            assert posted.status_code == 200, posted.text[:300]
            first = [e["resource"]["id"] for e in posted.json().get("entry", []) if e["search"]["mode"] == "match"]
            assert set(first) <= set(ids) and (len(first) == len(set(ids)) or len(first) == 1000), (rtype, query)
        for b in pages:
            assert not validator.check(b, f"{rtype}?{query}"), validator.failures[-1]
        dupes = [x for x, n in collections.Counter(ids).items() if n > 1]
        got = set(ids)
        if want <= got <= widest:
            want = got
        if got != want or dupes or (total is not None and total != len(want)):
            wrong.append(f"{rtype}?{'&'.join(f'{k}={v}' for k, v in query)}: server {len(got)} (total {total}, "
                         f"{len(dupes)} repeated), expected {len(want)}; missing {sorted(want - got)[:3]}, "
                         f"extra {sorted(got - want)[:3]}")
        if not want:
            empty.append(query)
    FHIR_STATS["search queries compared with the independent computation"] += len(qs)
    assert not wrong, f"{len(wrong)} of {len(qs)} searches disagree:\n" + "\n".join(wrong)
    # The queries are meant to find something, but for the four that must find nothing (a code
    # in the wrong system, without a system, a status no resource has, a family in lower case).
    assert len(empty) == 4, f"queries that match nothing: {empty}"


def test_date_ap_is_approximately_equal(world):
    """`ap` is left to the server (https://hl7.org/fhir/R4/search.html#prefix): it must find
    every resource `eq` finds and nothing far from the value. The spec suggests 10% of the time
    between the value and now (about 14 months for 2015-06 from 2026); more than 18 months
    either side is not "approximately"."""
    synthea, by_type = world
    q = [("code", "http://loinc.org|29463-7")]
    got = set(run(synthea.api, "Observation", q + [("date", "ap2015-06")], 1000)[0])
    eq = {r["id"] for r in expected(by_type, "Observation", q + [("date", "2015-06")])}
    near = {r["id"] for r in expected(by_type, "Observation", q + [("date", "ge2013-12"), ("date", "lt2017-01")])}
    assert eq <= got <= near, f"ap2015-06: {len(got)} found; eq finds {len(eq)}, within 18 months {len(near)}"
    FHIR_STATS["search queries compared with the independent computation"] += 1


def test_sort_by_date_descending(world):
    synthea, by_type = world
    q = [("code", "http://loinc.org|8302-2"), ("_sort", "-date")]
    ids, pages, total, _ = run(synthea.api, "Observation", q, 150)
    res = {r["id"]: r for r in by_type["Observation"]}
    dates = [date_range(res[i]["effectiveDateTime"])[0] for i in ids]
    assert set(ids) == {r["id"] for r in expected(by_type, "Observation", q)} and len(ids) == len(set(ids))
    assert dates == sorted(dates, reverse=True), "_sort=-date is not in descending date order"
    asc = run(synthea.api, "Condition", [("_sort", "onset-date")], 200)[0]
    cres = {r["id"]: r for r in by_type["Condition"]}
    onsets = [date_range(cres[i]["onsetDateTime"])[0] for i in asc]
    assert onsets == sorted(onsets) and len(asc) == len(by_type["Condition"])
    FHIR_STATS["search queries compared with the independent computation"] += 2


def test_include_and_revinclude(world):
    synthea, by_type = world
    api = synthea.api
    q = [("code", "http://loinc.org|29463-7"), ("date", "ge2016"), ("_include", "Observation:encounter")]
    ids, pages, total, includes = run(api, "Observation", q, 100)
    assert set(ids) == {r["id"] for r in expected(by_type, "Observation", q)}
    enc_ids = {r["id"] for r in by_type["Encounter"]}
    for matched, included in includes:
        want = {r["encounter"]["reference"].split("/")[1] for r in matched if "encounter" in r}
        got = [r["id"] for r in included]
        assert all(r["resourceType"] == "Encounter" for r in included)
        assert len(got) == len(set(got)) and set(got) == want & enc_ids, "each page includes its matches' encounters, once"
    # _revinclude: two patients and every Observation that names them.
    two = sorted(by_type["Patient"], key=lambda r: r["id"])[20:22]
    b = list(api.bundles("Patient", {"_id": ",".join(r["id"] for r in two), "_revinclude": "Observation:patient"}))
    assert len(b) == 1
    matched = {e["resource"]["id"] for e in b[0]["entry"] if e["search"]["mode"] == "match"}
    included = [e["resource"] for e in b[0]["entry"] if e["search"]["mode"] == "include"]
    assert matched == {r["id"] for r in two}
    want = {r["id"] for r in by_type["Observation"] if r["subject"]["reference"].split("/")[1] in matched}
    assert {r["id"] for r in included} == want and len(included) == len(want)
    FHIR_STATS["search queries compared with the independent computation"] += 2


def test_summary_count_and_elements(world):
    synthea, by_type = world
    api = synthea.api
    for rtype, q in [("Observation", [("category", "vital-signs")]), ("Condition", [("clinical-status", "active")]),
                     ("Observation", []), ("Encounter", [("date", "2017")])]:
        b = api.ok("GET", rtype, params=q + [("_summary", "count")])
        assert b["total"] == len(expected(by_type, rtype, q)), (rtype, q, b["total"])
        assert not b.get("entry"), "_summary=count returns no resources"
    q = [("code", "http://loinc.org|72514-3")]
    first = api.ok("GET", "Observation", params=q + [("_total", "accurate"), ("_count", "10")])
    assert first["total"] == len(expected(by_type, "Observation", q)) and len(first["entry"]) == 10
    ids, pages, _, _ = run(api, "Observation", q + [("_elements", "id,status")], 400)
    assert set(ids) == {r["id"] for r in expected(by_type, "Observation", q)}
    for b in pages:
        for e in b.get("entry", []):
            r = e["resource"]
            # Only the elements asked for, plus the mandatory ones a server may add
            # (https://hl7.org/fhir/R4/search.html#elements), marked SUBSETTED.
            assert set(r) - {"resourceType", "id", "meta", "status", "code"} == set(), sorted(r)
            assert r["status"] == "final"
            assert any(t.get("code") == "SUBSETTED" for t in r.get("meta", {}).get("tag", [])), r.get("meta")
    FHIR_STATS["search queries compared with the independent computation"] += 5


def test_previous_links_walk_back_over_the_same_pages(world):
    synthea, _ = world
    api = synthea.api
    forward = list(api.bundles("Observation", {"code": "http://loinc.org|39156-5", "_count": 90}))
    assert len(forward) > 3
    back, b = [], forward[-1]
    while True:
        back.append([e["resource"]["id"] for e in b.get("entry", [])])
        prev = [l["url"] for l in b["link"] if l["relation"] == "previous"]
        if not prev:
            break
        b = api.ok("GET", prev[0])
    back.reverse()
    assert back == [[e["resource"]["id"] for e in p.get("entry", [])] for p in forward]


@pytest.fixture(scope="module")
def paging_record(synthea):
    """A record of its own (another account), loaded from the largest Synthea bundle."""
    h = synthea.h
    h.cli("admin", "create-account", "--email", "paging@example.org", "--name", "Paging")
    api = Fhir(h.base, operator_token(h, account="paging@example.org"))
    path = max(SYNTHEA.glob("*.json"), key=lambda f: f.stat().st_size)
    resp = api.ok("POST", "", path.read_bytes())
    pid = next(e["response"]["location"].split("/")[1] for e in resp["entry"] if e["response"]["location"].startswith("Patient/"))
    return api, pid


@pytest.mark.parametrize("sort", [None, "-_lastUpdated", "-date", "date"])
def test_paging_is_stable_while_resources_are_added(paging_record, sort):
    """Page through a search; after the second page add matching resources that sort before and
    after the current position; every resource that existed at the start is seen exactly once."""
    api, pid = paging_record
    q = [("patient", pid)]
    if sort:
        q.append(("_sort", sort))
    before = {r["id"] for r in api.resources("Observation", q + [("_count", "1000")])}
    assert len(before) > 200
    seen, added = [], []
    b = api.ok("GET", "Observation", params=q + [("_count", "40")])
    pages = 0
    while True:
        pages += 1
        seen += [e["resource"]["id"] for e in b.get("entry", []) if e["search"]["mode"] == "match"]
        if pages == 2:
            for when in ("1950-01-01T00:00:00Z", "2030-01-01T00:00:00Z", "2012-06-01T00:00:00Z"):
                added.append(api.ok("POST", "Observation", {
                    "resourceType": "Observation", "status": "final",
                    "code": {"coding": [{"system": "http://loinc.org", "code": "8302-2"}]},
                    "subject": {"reference": f"Patient/{pid}"}, "effectiveDateTime": when,
                    "valueQuantity": {"value": 170, "unit": "cm", "system": "http://unitsofmeasure.org", "code": "cm"}},
                    status=201)["id"])
        nxt = [l["url"] for l in b["link"] if l["relation"] == "next"]
        if not nxt:
            break
        b = api.ok("GET", nxt[0])
    for i in added:  # leave the record as it was for the next ordering
        assert api.delete(f"Observation/{i}").status_code == 204
    old = [i for i in seen if i in before]
    repeated = sorted(i for i, n in collections.Counter(old).items() if n > 1)
    skipped = sorted(before - set(old))
    assert not repeated and not skipped, (
        f"_sort={sort}: {len(repeated)} resources seen twice and {len(skipped)} never seen among "
        f"{len(before)} that existed before paging began")
