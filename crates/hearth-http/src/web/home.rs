//! A record's home page (healthvault.md §10.3, the Shell's record overview): the latest vital
//! signs, active conditions, current medications, allergies, immunizations, upcoming
//! appointments and the latest changes, each only when the person may read its data types.
//!
//! - `GET /records/{id}`
//!
//! Every section is one indexed query through the services (data type, effective-date order, a
//! small limit; appointments from the services' clock on), never a scan of the record.

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

fn load(svc: &Services, ctx: &Context, id: RecordId) -> ServiceResult<Loaded> {
    let view = RecordView::load(svc, ctx, id)?;
    let reads = |key: &str| view.may(key, Operation::Read);
    let adds = |key: &str| view.may(key, Operation::Create);
    let mut vitals = Vec::new();
    for key in VITALS.iter().copied().filter(|k| reads(k)) {
        let latest = svc
            .query(ctx, id, &query(&[key], 1))?
            .items
            .first()
            .map(summarize);
        vitals.push(Vital {
            key,
            name: registry().get(key).map_or(key, |d| d.name),
            latest,
            can_add: adds(key),
        });
    }
    let mut sections = Vec::new();
    let mut section = |key: &'static str,
                       types: &[&str],
                       heading: &'static str,
                       empty: &'static str,
                       q: ItemQuery,
                       keep: &dyn Fn(&Value) -> bool,
                       max: usize|
     -> ServiceResult<()> {
        let types: Vec<&str> = types.iter().copied().filter(|t| reads(t)).collect();
        if types.is_empty() {
            return Ok(());
        }
        let q = ItemQuery {
            data_types: types.iter().map(|t| t.to_string()).collect(),
            ..q
        };
        let items = svc
            .query(ctx, id, &q)?
            .items
            .iter()
            .filter(|i| keep(&body(i)))
            .take(max)
            .map(summarize)
            .collect();
        sections.push(HomeSection {
            key,
            heading,
            items,
            empty,
            can_add: adds(key),
        });
        Ok(())
    };
    let status = |r: &Value| r.get("status").and_then(Value::as_str) == Some("active");
    section(
        "condition",
        &["condition"],
        "Active conditions",
        "No active conditions recorded.",
        query(&[], 100),
        &active_condition,
        20,
    )?;
    section(
        "medication",
        &["medication", "prescription"],
        "Current medications",
        "No current medications recorded.",
        query(&[], 100),
        &status,
        20,
    )?;
    section(
        "allergy",
        &["allergy"],
        "Allergies",
        "No allergies recorded.",
        query(&[], 50),
        &active_allergy,
        20,
    )?;
    section(
        "immunization",
        &["immunization"],
        "Latest immunizations",
        "No immunizations recorded.",
        query(&[], 5),
        &|_| true,
        5,
    )?;
    section(
        "appointment",
        &["appointment"],
        "Upcoming appointments",
        "No upcoming appointments.",
        ItemQuery {
            effective_from: Some(svc.now()),
            order: Order::EffectiveAsc,
            ..query(&[], 20)
        },
        &upcoming,
        5,
    )?;
    let recent = Some(
        svc.query(
            ctx,
            id,
            &ItemQuery {
                order: Order::UpdatedDesc,
                ..query(&[], 8)
            },
        )?
        .items
        .iter()
        .filter(|i| i.meta.resource_type != "Patient")
        .map(summarize)
        .collect(),
    );
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
