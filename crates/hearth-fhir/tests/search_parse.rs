//! Query parsing: strict errors naming the parameter, lenient handling that
//! drops and reports, pass-through names, OR/AND structure and the result
//! parameters (<https://hl7.org/fhir/R4/search.html>).

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use hearth_fhir::search::{Handling, Modifier, ParseOptions, SearchErrorKind, Summary, Total, parse};

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

const PASS: &[&str] = &["_format", "_pretty", "_since", "_type", "_page"];

fn opts(handling: Handling) -> ParseOptions<'static> {
    let mut o = ParseOptions::new(handling, now());
    o.passthrough = PASS;
    o
}

/// Each bad pair on its own: its error kind under strict; dropped under lenient.
const BAD: &[(&str, SearchErrorKind)] = &[
    ("foo=1", SearchErrorKind::UnknownParameter),
    ("name:fuzzy=x", SearchErrorKind::UnknownModifier),
    ("gender:exact=male", SearchErrorKind::UnknownModifier),
    (
        "gender:in=http://example.org/vs",
        SearchErrorKind::UnsupportedModifier,
    ),
    ("gender:below=male", SearchErrorKind::UnsupportedModifier),
    ("birthdate=xx2013", SearchErrorKind::InvalidValue),
    ("birthdate=2013-02-30", SearchErrorKind::InvalidValue),
    (
        "general-practitioner.name=x",
        SearchErrorKind::UnsupportedParameter,
    ),
    (
        "_has:Observation:patient:code=1234",
        SearchErrorKind::UnsupportedParameter,
    ),
    ("_text=diabetes", SearchErrorKind::UnsupportedParameter),
    ("_content=diabetes", SearchErrorKind::UnsupportedParameter),
    ("_filter=name eq x", SearchErrorKind::UnsupportedParameter),
    ("_list=42", SearchErrorKind::UnsupportedParameter),
    ("_query=everything", SearchErrorKind::UnsupportedParameter),
    ("_count=ten", SearchErrorKind::InvalidValue),
    ("_count=-1", SearchErrorKind::InvalidValue),
    ("_summary=maybe", SearchErrorKind::InvalidValue),
    ("_total=some", SearchErrorKind::InvalidValue),
    ("_sort=nope", SearchErrorKind::InvalidValue),
    ("_sort:desc=name", SearchErrorKind::UnknownModifier),
    ("_elements=nope", SearchErrorKind::InvalidValue),
    ("_include=Patient:name", SearchErrorKind::InvalidValue),
    ("_include=Observation:subject", SearchErrorKind::InvalidValue),
    (
        "_include=Patient:organization:Practitioner",
        SearchErrorKind::InvalidValue,
    ),
    (
        "_include:deep=Patient:organization",
        SearchErrorKind::UnknownModifier,
    ),
    ("_revinclude=Observation:encounter", SearchErrorKind::InvalidValue),
    ("_revinclude=Nope:subject", SearchErrorKind::InvalidValue),
    ("identifier=a|b|c", SearchErrorKind::InvalidValue),
    ("active:missing=maybe", SearchErrorKind::InvalidValue),
    ("name=a,,b", SearchErrorKind::InvalidValue),
];

#[test]
fn strict_rejects_each_problem_with_the_parameter_named() {
    for (q, kind) in BAD {
        let errs = parse("Patient", &pairs(q), &opts(Handling::Strict)).unwrap_err();
        assert_eq!(errs.len(), 1, "{q}");
        let name = q.split('=').next().unwrap();
        assert_eq!(errs[0].param, name, "{q}");
        assert_eq!(errs[0].kind, *kind, "{q}: {}", errs[0].message);
        assert!(errs[0].message.contains(name), "{q}: {}", errs[0].message);
        assert_eq!(errs[0].to_string(), errs[0].message);
    }
}

#[test]
fn strict_reports_every_error_at_once() {
    let q = BAD.iter().map(|(q, _)| *q).collect::<Vec<_>>().join("&");
    let errs = parse("Patient", &pairs(&format!("{q}&name=x")), &opts(Handling::Strict)).unwrap_err();
    assert_eq!(errs.len(), BAD.len());
}

#[test]
fn lenient_ignores_and_reports() {
    let q = BAD.iter().map(|(q, _)| *q).collect::<Vec<_>>().join("&");
    let c = parse(
        "Patient",
        &pairs(&format!("name=smith&{q}&_count=5&_format=json&gender=female")),
        &opts(Handling::Lenient),
    )
    .unwrap();
    let expected: Vec<String> = BAD
        .iter()
        .map(|(q, _)| q.split('=').next().unwrap().to_owned())
        .collect();
    assert_eq!(c.ignored, expected);
    assert_eq!(c.filters.len(), 2);
    assert_eq!(c.count, Some(5));
    assert_eq!(c.passthrough, vec![("_format".to_owned(), "json".to_owned())]);
    let applied: Vec<&str> = c.applied.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(applied, ["name", "_count", "gender"]);
}

#[test]
fn passthrough_and_empty_values() {
    let c = parse(
        "Observation",
        &pairs("_format=json&_pretty=true&_since=2020&_type=Observation&_page=abc&code=&status=final"),
        &opts(Handling::Strict),
    )
    .unwrap();
    assert_eq!(c.passthrough.len(), 5);
    assert_eq!(c.ignored, ["code"]);
    assert_eq!(c.filters.len(), 1);
    // Without the pass-through list those names are unknown.
    let plain = ParseOptions::new(Handling::Strict, now());
    let errs = parse("Observation", &pairs("_format=json"), &plain).unwrap_err();
    assert_eq!(errs[0].kind, SearchErrorKind::UnknownParameter);
}

#[test]
fn filters_keep_and_or_structure_and_modifiers() {
    let c = parse(
        "Observation",
        &pairs(r"code=a,b\,c&code=d&subject:Patient=1&value-quantity:missing=true&status:not=final"),
        &opts(Handling::Strict),
    )
    .unwrap();
    assert_eq!(c.filters.len(), 5);
    assert_eq!(c.filters[0].raw_values(), ["a", "b,c"]);
    assert_eq!(c.filters[1].raw_values(), ["d"]);
    assert_eq!(c.filters[2].modifier(), Some(&Modifier::Type("Patient".into())));
    assert_eq!(c.filters[3].missing(), Some(true));
    assert_eq!(c.filters[4].modifier(), Some(&Modifier::Not));
    assert_eq!(c.filters[0].param().code(), "code");
}

#[test]
fn result_parameters() {
    let c = parse(
        "Observation",
        &pairs(
            "_count=10&_sort=-date,code,_lastUpdated&_summary=count&_elements=code,Observation.value,status\
             &_include=Observation:subject&_include=Observation:performer:Practitioner\
             &_include:iterate=Patient:general-practitioner&_include=*&_revinclude=Provenance:target\
             &_revinclude:iterate=Observation:has-member&_total=accurate",
        ),
        &opts(Handling::Strict),
    )
    .unwrap();
    assert_eq!(c.count, Some(10));
    let sort: Vec<(&str, bool)> = c.sort.iter().map(|s| (s.param.code(), s.descending)).collect();
    assert_eq!(sort, [("date", true), ("code", false), ("_lastUpdated", false)]);
    assert_eq!(c.summary, Some(Summary::Count));
    assert_eq!(
        c.elements.as_deref(),
        Some(&["code".to_owned(), "value".to_owned(), "status".to_owned()][..])
    );
    assert_eq!(c.total, Some(Total::Accurate));
    assert_eq!(c.include.len(), 4);
    assert_eq!(c.include[0].source, "Observation");
    assert_eq!(c.include[0].param.unwrap().code(), "subject");
    assert_eq!(c.include[1].target.as_deref(), Some("Practitioner"));
    assert!(c.include[2].iterate);
    assert_eq!(c.include[2].source, "Patient");
    assert!(c.include[3].param.is_none());
    assert_eq!(c.revinclude.len(), 2);
    assert_eq!(c.revinclude[0].source, "Provenance");
    assert!(c.revinclude[1].iterate);
    assert!(c.filters.is_empty());
    assert_eq!(c.applied.len(), 11);
    // Result parameters given twice.
    let errs = parse(
        "Observation",
        &pairs("_count=1&_count=2"),
        &opts(Handling::Strict),
    )
    .unwrap_err();
    assert!(errs[0].message.contains("more than once"));
    let c = parse(
        "Observation",
        &pairs("_count=1&_count=2"),
        &opts(Handling::Lenient),
    )
    .unwrap();
    assert_eq!(
        (c.count, c.ignored.as_slice()),
        (Some(1), &["_count".to_owned()][..])
    );
    for s in ["true", "text", "data", "false"] {
        assert!(
            parse(
                "Patient",
                &pairs(&format!("_summary={s}")),
                &opts(Handling::Strict)
            )
            .is_ok()
        );
    }
}

#[test]
fn composite_and_special_parameters_are_known_but_unsupported() {
    for q in [
        "code-value-quantity=http://loinc.org|8480-6$gt100",
        "combo-code=1234",
    ] {
        let r = parse("Observation", &pairs(q), &opts(Handling::Strict));
        if q.starts_with("combo-code=") {
            assert!(r.is_ok(), "combo-code is a plain token parameter");
            continue;
        }
        let errs = r.unwrap_err();
        assert_eq!(errs[0].kind, SearchErrorKind::UnsupportedParameter);
        assert!(errs[0].message.contains("composite"), "{}", errs[0].message);
    }
    let errs = parse(
        "Location",
        &pairs("near=42.25|-83.69|10|km"),
        &opts(Handling::Strict),
    )
    .unwrap_err();
    assert!(errs[0].message.contains("near"));
    assert!(errs[0].message.contains("not supported"));
}

#[test]
fn unknown_resource_type() {
    assert!(parse("Nope", &[], &opts(Handling::Lenient)).is_err());
}
