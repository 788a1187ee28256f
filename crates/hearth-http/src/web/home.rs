//! A record's home page (healthvault.md §10.3, the Shell's record overview): the latest vital
//! signs, active conditions, current medications, allergies, immunizations, upcoming
//! appointments and the latest changes, each only when the person may read its data types.
//!
//! - `GET /records/{id}`
//!
//! Every section is one indexed query (data type, effective-date order, a small limit;
//! appointments from the services' clock on), never a scan of the record; all of them run under
//! one authorisation decision and are audited as one read (`Services::query_each`).

use askama::Template;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use hearth_core::authz::Operation;
use hearth_core::{Context, ServiceResult, Services};
use hearth_domain::datatypes::registry;
use hearth_domain::{Item, ItemQuery, Order, RecordId};
use serde_json::Value;

use super::describe::{Summary, summarize};
use super::record::record_id;
use super::record_nav::{RecordNav, RecordView, Section, failed};
use super::render::{self, blocking};
use super::session::Person;
use crate::AppState;

/// The vital signs the home page shows, in order.
const VITALS: &[&str] = &[
    "weight",
    "height",
    "bmi",
    "blood-pressure",
    "heart-rate",
    "body-temperature",
    "blood-oxygen",
    "blood-glucose",
];

pub struct Vital {
    pub key: &'static str,
    pub name: &'static str,
    pub latest: Option<Summary>,
    pub can_add: bool,
}

pub struct HomeSection {
    pub key: &'static str,
    pub heading: &'static str,
    pub items: Vec<Summary>,
    pub empty: &'static str,
    pub can_add: bool,
}

#[derive(Template)]
#[template(path = "record_home.html")]
struct HomePage {
    layout: render::Layout,
    nav: RecordNav,
    id: String,
    name: String,
    has_picture: bool,
    vitals: Vec<Vital>,
    sections: Vec<HomeSection>,
    recent: Option<Vec<Summary>>,
}

fn body(item: &Item) -> Value {
    item.body
        .as_deref()
        .and_then(|b| serde_json::from_str(b).ok())
        .unwrap_or(Value::Null)
}

fn code_at<'v>(r: &'v Value, field: &str) -> Option<&'v str> {
    let c = r.get(field)?;
    c.get("coding")
        .and_then(Value::as_array)
        .and_then(|cs| cs.iter().find_map(|x| x.get("code").and_then(Value::as_str)))
        .or_else(|| c.as_str())
}

fn active_condition(r: &Value) -> bool {
    match code_at(r, "clinicalStatus") {
        Some(c) => matches!(c, "active" | "recurrence" | "relapse"),
        None => !r
            .as_object()
            .is_some_and(|o| o.keys().any(|k| k.starts_with("abatement"))),
    }
}

fn active_allergy(r: &Value) -> bool {
    code_at(r, "clinicalStatus").is_none_or(|c| c == "active")
}

fn upcoming(r: &Value) -> bool {
    !matches!(
        r.get("status").and_then(Value::as_str),
        Some("cancelled" | "noshow" | "entered-in-error" | "fulfilled")
    )
}

fn query(types: &[&str], limit: u32) -> ItemQuery {
    ItemQuery {
        data_types: types.iter().map(|t| t.to_string()).collect(),
        limit,
        ..Default::default()
    }
}

struct Loaded {
    view: RecordView,
    has_picture: bool,
    vitals: Vec<Vital>,
    sections: Vec<HomeSection>,
    recent: Option<Vec<Summary>>,
}

/// One home-page section: which types it reads, how, and which of the items it keeps.
struct SectionSpec {
    key: &'static str,
    types: &'static [&'static str],
    heading: &'static str,
    empty: &'static str,
    query: ItemQuery,
    keep: fn(&Value) -> bool,
    max: usize,
}

fn active(r: &Value) -> bool {
    r.get("status").and_then(Value::as_str) == Some("active")
}

fn any(_: &Value) -> bool {
    true
}

fn section_specs(now: hearth_domain::Timestamp) -> Vec<SectionSpec> {
    vec![
        SectionSpec {
            key: "condition",
            types: &["condition"],
            heading: "Active conditions",
            empty: "No active conditions recorded.",
            query: query(&[], 100),
            keep: active_condition,
            max: 20,
        },
        SectionSpec {
            key: "medication",
            types: &["medication", "prescription"],
            heading: "Current medications",
            empty: "No current medications recorded.",
            query: query(&[], 100),
            keep: active,
            max: 20,
        },
        SectionSpec {
            key: "allergy",
            types: &["allergy"],
            heading: "Allergies",
            empty: "No allergies recorded.",
            query: query(&[], 50),
            keep: active_allergy,
            max: 20,
        },
        SectionSpec {
            key: "immunization",
            types: &["immunization"],
            heading: "Latest immunizations",
            empty: "No immunizations recorded.",
            query: query(&[], 5),
            keep: any,
            max: 5,
        },
        SectionSpec {
            key: "appointment",
            types: &["appointment"],
            heading: "Upcoming appointments",
            empty: "No upcoming appointments.",
            query: ItemQuery {
                effective_from: Some(now),
                order: Order::EffectiveAsc,
                ..query(&[], 20)
            },
            keep: upcoming,
            max: 5,
        },
    ]
}

/// Everything the page shows, read under one decision and audited as one read.
fn load(svc: &Services, ctx: &Context, id: RecordId) -> ServiceResult<Loaded> {
    let view = RecordView::load(svc, ctx, id)?;
    let reads = |key: &str| view.may(key, Operation::Read);
    let adds = |key: &str| view.may(key, Operation::Create);
    let vital_keys: Vec<&'static str> = VITALS.iter().copied().filter(|k| reads(k)).collect();
    let specs: Vec<(SectionSpec, Vec<String>)> = section_specs(svc.now())
        .into_iter()
        .filter_map(|spec| {
            let types: Vec<String> = spec
                .types
                .iter()
                .filter(|t| reads(t))
                .map(|t| t.to_string())
                .collect();
            (!types.is_empty()).then_some((spec, types))
        })
        .collect();
    let mut queries: Vec<ItemQuery> = vital_keys.iter().map(|k| query(&[k], 1)).collect();
    queries.extend(specs.iter().map(|(spec, types)| ItemQuery {
        data_types: types.clone(),
        ..spec.query.clone()
    }));
    queries.push(ItemQuery {
        order: Order::UpdatedDesc,
        ..query(&[], 8)
    });
    let mut pages = svc.query_each(ctx, id, &queries)?.into_iter();
    let vitals = vital_keys
        .iter()
        .map(|&key| Vital {
            key,
            name: registry().get(key).map_or(key, |d| d.name),
            latest: pages.next().and_then(|p| p.items.first().map(summarize)),
            can_add: adds(key),
        })
        .collect();
    let sections = specs
        .into_iter()
        .map(|(spec, _)| HomeSection {
            key: spec.key,
            heading: spec.heading,
            items: pages
                .next()
                .map(|p| {
                    p.items
                        .iter()
                        .filter(|i| (spec.keep)(&body(i)))
                        .take(spec.max)
                        .map(summarize)
                        .collect()
                })
                .unwrap_or_default(),
            empty: spec.empty,
            can_add: adds(spec.key),
        })
        .collect();
    let recent = pages.next().map(|p| {
        p.items
            .iter()
            .filter(|i| i.meta.resource_type != "Patient")
            .map(summarize)
            .collect()
    });
    // The picture is the Patient's photo: shown only to those who may read demographics.
    let has_picture = reads("demographics") && super::record::picture_of(svc, ctx, id)?.is_some();
    Ok(Loaded {
        view,
        has_picture,
        vitals,
        sections,
        recent,
    })
}

pub async fn show(State(state): State<AppState>, person: Person, Path(id): Path<String>) -> Response {
    let Some(id) = record_id(&id) else {
        return super::record::not_found(&person);
    };
    let svc = state.services.clone();
    let ctx = Context::person(person.account());
    let loaded = match blocking(move || load(&svc, &ctx, id)).await {
        Ok(l) => l,
        Err(e) => return failed(&person, &e, "Record"),
    };
    let name = loaded.view.record.display_name.clone();
    render::page(
        StatusCode::OK,
        &HomePage {
            layout: person.layout(&name),
            nav: loaded.view.nav(Section::Home),
            id: id.to_string(),
            name,
            has_picture: loaded.has_picture,
            vitals: loaded.vitals,
            sections: loaded.sections,
            recent: loaded.recent,
        },
    )
}
