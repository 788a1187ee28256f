//! Date search (<https://hl7.org/fhir/R4/search.html#date>): every prefix,
//! implicit precision of search and resource values, Period, Timing and
//! instant targets, with the examples of the specification's prefix table.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use hearth_fhir::search::{Criteria, Handling, ParseOptions, SearchErrorKind, parse};
use serde_json::{Value, json};

/// 2025-01-01T00:00:00Z.
fn now() -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(1_735_689_600)
}

fn pairs(query: &str) -> Vec<(String, String)> {
    query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (k.to_owned(), v.to_owned())
        })
        .collect()
}

fn criteria_at(ty: &str, query: &str, at: SystemTime) -> Criteria {
    let opts = ParseOptions::new(Handling::Strict, at);
    parse(ty, &pairs(query), &opts).unwrap_or_else(|e| panic!("{query}: {e:?}"))
}

fn criteria(ty: &str, query: &str) -> Criteria {
    criteria_at(ty, query, now())
}

fn matches(query: &str, r: &Value) -> bool {
    let ty = r["resourceType"].as_str().unwrap();
    criteria(ty, query).matches(r)
}

fn obs(effective: Value) -> Value {
    let mut o = json!({"resourceType": "Observation", "id": "o", "status": "final",
        "code": {"text": "x"}});
    let (k, v) = match effective {
        Value::String(_) => ("effectiveDateTime", effective),
        Value::Object(ref m) if m.contains_key("event") || m.contains_key("repeat") => {
            ("effectiveTiming", effective)
        }
        other => ("effectivePeriod", other),
    };
    o[k] = v;
    o
}

fn period(start: Option<&str>, end: Option<&str>) -> Value {
    let mut p = json!({});
    if let Some(s) = start {
        p["start"] = json!(s);
    }
    if let Some(e) = end {
        p["end"] = json!(e);
    }
    obs(p)
}

fn patient_born(date: &str) -> Value {
    json!({"resourceType": "Patient", "id": "p", "birthDate": date})
}

#[test]
fn spec_table_eq_and_ne() {
    // eq2013-01-14: 2013-01-14T00:00 matches, 2013-01-14T10:00 matches, 2013-01-15T00:00 does not.
    assert!(matches("date=eq2013-01-14", &obs(json!("2013-01-14T00:00:00Z"))));
    assert!(matches("date=eq2013-01-14", &obs(json!("2013-01-14T10:00:00Z"))));
    assert!(!matches("date=eq2013-01-14", &obs(json!("2013-01-15T00:00:00Z"))));
    assert!(matches(
        "date=2013-01-14",
        &obs(json!("2013-01-14T23:59:59.999Z"))
    ));
    // ne2013-01-14: the reverse.
    assert!(matches("date=ne2013-01-14", &obs(json!("2013-01-15T00:00:00Z"))));
    assert!(!matches("date=ne2013-01-14", &obs(json!("2013-01-14T00:00:00Z"))));
    assert!(!matches("date=ne2013-01-14", &obs(json!("2013-01-14T10:00:00Z"))));
}

#[test]
fn spec_table_lt_gt_against_a_whole_day() {
    // lt2013-01-14T10:00: 2013-01-14 matches (it includes the part before 10am).
    assert!(matches(
        "birthdate=lt2013-01-14T10:00",
        &patient_born("2013-01-14")
    ));
    assert!(!matches(
        "date=lt2013-01-14T10:00",
        &obs(json!("2013-01-14T10:00:00Z"))
    ));
    assert!(matches(
        "date=lt2013-01-14T10:00",
        &obs(json!("2013-01-14T09:59:59Z"))
    ));
    // gt2013-01-14T10:00: 2013-01-14 matches (it includes the part after 10am).
    assert!(matches(
        "birthdate=gt2013-01-14T10:00",
        &patient_born("2013-01-14")
    ));
    assert!(!matches(
        "date=gt2013-01-14T10:00",
        &obs(json!("2013-01-14T10:00:30Z"))
    ));
    assert!(matches(
        "date=gt2013-01-14T10:00",
        &obs(json!("2013-01-14T10:01:00Z"))
    ));
}

#[test]
fn spec_table_ge_le_sa_eb_with_periods() {
    let from_jan21 = period(Some("2013-01-21"), None);
    let from_mar15 = period(Some("2013-03-15"), None);
    let until_jan21 = period(None, Some("2013-01-21"));
    // ge / le: "from 21-Jan 2013 onwards" may include times after / before 14-Mar 2013.
    assert!(matches("date=ge2013-03-14", &from_jan21));
    assert!(matches("date=le2013-03-14", &from_jan21));
    // sa: "from 15-Mar 2013 onwards" starts after; the other two do not.
    assert!(matches("date=sa2013-03-14", &from_mar15));
    assert!(!matches("date=sa2013-03-14", &from_jan21));
    assert!(!matches("date=sa2013-03-14", &until_jan21));
    // eb: "before and including 21-Jan 2013" ends before; "from 21-Jan onwards" does not.
    assert!(matches("date=eb2013-03-14", &until_jan21));
    assert!(!matches("date=eb2013-03-14", &from_jan21));
    assert!(!matches("date=eb2013-03-14", &from_mar15));
}

#[test]
fn ge_and_le_include_equality() {
    let day = obs(json!("2013-03-14T12:00:00Z"));
    assert!(matches("date=ge2013-03-14", &day));
    assert!(matches("date=le2013-03-14", &day));
    assert!(!matches("date=gt2013-03-14", &day));
    assert!(!matches("date=lt2013-03-14", &day));
    assert!(matches("date=ge2013-03-13", &day));
    assert!(!matches("date=ge2013-03-15", &day));
    assert!(matches("date=le2013-03-15", &day));
    assert!(!matches("date=le2013-03-13", &day));
    // A coarser target straddling the search value: 2013 vs ge2013-03-14.
    assert!(matches("birthdate=ge2013-03-14", &patient_born("2013")));
    assert!(matches("birthdate=le2013-03-14", &patient_born("2013")));
    assert!(!matches("birthdate=eq2013-03-14", &patient_born("2013")));
    assert!(matches("birthdate=ne2013-03-14", &patient_born("2013")));
}

#[test]
fn ap_uses_ten_percent_of_the_distance_to_now() {
    let jan21 = obs(json!("2013-01-21T00:00:00Z"));
    let mar14 = obs(json!("2013-03-14T08:00:00Z"));
    let jun2015 = obs(json!("2015-06-15T00:00:00Z"));
    // From 2025, 10% of ~11.8 years is ~1.2 years either side of 2013-03-14.
    assert!(criteria("Observation", "date=ap2013-03-14").matches(&mar14));
    assert!(criteria("Observation", "date=ap2013-03-14").matches(&jan21));
    assert!(!criteria("Observation", "date=ap2013-03-14").matches(&jun2015));
    // Seen from 2013-03-20 the margin is the one-day minimum: 21-Jan is not near.
    let soon_after = UNIX_EPOCH + Duration::from_secs(1_363_737_600);
    let c = criteria_at("Observation", "date=ap2013-03-14", soon_after);
    assert!(c.matches(&mar14));
    assert!(!c.matches(&jan21));
    assert!(c.matches(&obs(json!("2013-03-15T12:00:00Z"))));
    assert!(!c.matches(&obs(json!("2013-03-16T12:00:00Z"))));
}

#[test]
fn search_value_precision() {
    let late = obs(json!("2020-12-31T23:59:59Z"));
    let next = obs(json!("2021-01-01T00:00:00Z"));
    let next_local = obs(json!("2021-01-01T00:30:00+01:00")); // 2020-12-31T23:30Z
    assert!(matches("date=2020", &late));
    assert!(!matches("date=2020", &next));
    assert!(matches("date=2020", &next_local));
    assert!(matches("date=2020-12", &late));
    assert!(matches("date=2020-12-31", &late));
    assert!(!matches("date=2020-11", &late));
    // Minute precision: [10:00, 10:01).
    assert!(matches(
        "date=2020-03-04T10:00",
        &obs(json!("2020-03-04T10:00:59Z"))
    ));
    assert!(!matches(
        "date=2020-03-04T10:00",
        &obs(json!("2020-03-04T10:01:00Z"))
    ));
    // Seconds and fractions.
    assert!(matches(
        "date=2020-03-04T10:00:05Z",
        &obs(json!("2020-03-04T10:00:05.500Z"))
    ));
    assert!(!matches(
        "date=2020-03-04T10:00:05.2Z",
        &obs(json!("2020-03-04T10:00:05.300Z"))
    ));
    // Offsets in the search value; values without one are UTC.
    assert!(matches(
        "date=2020-03-04T15:00+05:00",
        &obs(json!("2020-03-04T10:00:30Z"))
    ));
    assert!(matches(
        "date=2020-03-04T10:00",
        &obs(json!("2020-03-04T11:00:30+01:00"))
    ));
    // A day-precision target is not inside a minute-precision search range.
    assert!(!matches(
        "birthdate=2013-01-14T10:00",
        &patient_born("2013-01-14")
    ));
    assert!(matches(
        "birthdate=ne2013-01-14T10:00",
        &patient_born("2013-01-14")
    ));
    // Target precision: a month-precision birth date is within its year.
    assert!(matches("birthdate=1970", &patient_born("1970-06")));
    assert!(!matches("birthdate=1970-06-01", &patient_born("1970-06")));
}

#[test]
fn periods_with_open_ends_and_timing() {
    let open_end = period(Some("2020-01-01"), None);
    assert!(matches("date=ge2030", &open_end));
    assert!(matches("date=gt2030", &open_end));
    assert!(!matches("date=lt2020", &open_end));
    assert!(!matches("date=eq2020", &open_end));
    let open_start = period(None, Some("2010-05-01"));
    assert!(matches("date=lt2000", &open_start));
    assert!(!matches("date=gt2010-06", &open_start));
    let closed = period(Some("2020-01-10T08:00:00Z"), Some("2020-01-12T08:00:00Z"));
    assert!(matches("date=2020-01", &closed));
    assert!(!matches("date=2020-01-11", &closed));
    assert!(matches("date=ap2020-01-11", &closed));
    assert!(matches("date=sa2020-01-09", &closed));
    assert!(!matches("date=sa2020-01-10", &closed));
    assert!(matches("date=eb2020-01-13", &closed));
    assert!(!matches("date=eb2020-01-12", &closed));
    // Timing: the outer limits of its events and bounds.
    let timing = obs(json!({"event": ["2021-02-01T10:00:00Z", "2021-03-01T10:00:00Z"]}));
    assert!(matches("date=2021", &timing));
    assert!(matches("date=ge2021-02-15", &timing));
    assert!(!matches("date=2021-02", &timing));
    let bounded = obs(json!({"repeat": {"boundsPeriod": {"start": "2021-01-31", "end": "2021-03-24"}}}));
    assert!(!matches("date=2021-02-01", &bounded));
    assert!(matches("date=ge2021-02-01", &bounded));
    assert!(matches("date=2021", &bounded));
    // Empty periods have no value.
    assert!(!matches("date=ne2020", &obs(json!({}))));
    assert!(matches("date:missing=false", &obs(json!({}))));
}

#[test]
fn instants_and_last_updated() {
    let mut p = patient_born("1980-01-01");
    p["meta"] = json!({"lastUpdated": "2024-05-01T12:00:00.123+02:00"});
    assert!(matches("_lastUpdated=gt2024-05-01T09:59:00Z", &p));
    assert!(matches("_lastUpdated=2024-05-01", &p));
    assert!(matches("_lastUpdated=2024-05-01T10:00:00.123Z", &p));
    assert!(matches("_lastUpdated=2024-05-01T10:00:00.12Z", &p));
    assert!(!matches("_lastUpdated=2024-05-01T10:00:00.124Z", &p));
    assert!(!matches("_lastUpdated=lt2024-05-01T10:00Z", &p));
    assert!(matches("_lastUpdated=le2024-05-01T10:00Z", &p));
    assert!(!matches("_lastUpdated:missing=true", &p));
    assert!(matches("_lastUpdated:missing=true", &patient_born("1980")));
}

#[test]
fn choice_types_and_or_values() {
    let dead = json!({"resourceType": "Patient", "id": "p", "deceasedDateTime": "2019-07-01T00:00:00Z"});
    assert!(matches("death-date=2019", &dead));
    assert!(matches("death-date=2001,2019-07", &dead));
    assert!(!matches("death-date=2001,2018", &dead));
    // AND: both must hold.
    assert!(matches("death-date=ge2019&death-date=lt2020", &dead));
    assert!(!matches("death-date=ge2019&death-date=lt2019-06", &dead));
    let alive = json!({"resourceType": "Patient", "id": "p", "deceasedBoolean": false});
    assert!(!matches("death-date=2019", &alive));
    assert!(matches("death-date:missing=true", &alive));
    // Condition onset as dateTime or Period.
    let c = json!({"resourceType": "Condition", "id": "c", "subject": {"reference": "Patient/p"},
        "onsetPeriod": {"start": "2010-01-01", "end": "2010-12-31"}});
    assert!(matches("onset-date=2010", &c));
    assert!(!matches("onset-date=2010-12", &c));
    assert!(matches("onset-date=le2010-06", &c));
}

#[test]
fn invalid_dates_are_errors() {
    let opts = ParseOptions::new(Handling::Strict, now());
    for bad in [
        "2013-13",
        "xx2013",
        "2013-01-14T10",
        "2013-02-30",
        "2013-01-14T10:00+5",
        "eq",
        "2013-1-1",
        "today",
    ] {
        let err = parse("Observation", &pairs(&format!("date={bad}")), &opts).unwrap_err();
        assert_eq!(err.len(), 1);
        assert_eq!(err[0].kind, SearchErrorKind::InvalidValue, "{bad}");
        assert_eq!(err[0].param, "date");
        assert!(err[0].message.starts_with("date:"), "{}", err[0].message);
    }
    // The missing modifier takes true or false only.
    assert!(parse("Observation", &pairs("date:missing=yes"), &opts).is_err());
    // Dates take no other modifier.
    assert_eq!(
        parse("Observation", &pairs("date:exact=2020"), &opts).unwrap_err()[0].kind,
        SearchErrorKind::UnknownModifier
    );
}
