//! A record's health data by data type (healthvault.md §2.3, the named types of
//! `hearth_domain::datatypes::catalogue`).
//!
//! - `GET /records/{id}/data`: every named type the person may read, grouped as consent screens
//!   group them, with the date of the latest item.
//! - `GET /records/{id}/data/{type}` (`range` = `7d|30d|90d|1y|all`, `after` = a page cursor,
//!   `deleted=1` for a custodian's deleted items): for types measured in a unit, a chart of
//!   the range ([`super::chart`], [`super::series`]); for every type, a table of the items,
//!   newest first, paged with the query's keyset cursors, each linking to its page.

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use hearth_core::authz::Operation;
use hearth_core::{Context, ServiceError, ServiceResult, Services, entry};
use hearth_domain::datatypes::{Category, DataType, registry};
use hearth_domain::{Cursor, ItemQuery, Order, RecordId, StateFilter, Timestamp};

use super::chart::{self, Chart};
use super::describe::{Summary, summarize};
use super::record::record_id;
use super::record_nav::{RecordNav, RecordView, Section, failed};
use super::render::{self, blocking};
use super::series::{self, Collector};
use super::session::Person;
use crate::AppState;

/// Rows per table page.
const PAGE: u32 = 25;
/// Items a chart reads at most (pages of the largest query size).
const CHART_MAX_ITEMS: usize = 20_000;

fn category_heading(c: Category) -> &'static str {
    match c {
        Category::Vitals => "Vital signs and measurements",
        Category::Labs => "Lab results",
        Category::Fitness => "Fitness and sleep",
        Category::Clinical => "Conditions and care",
        Category::Medications => "Medications",
        Category::Documents => "Documents and pictures",
        Category::Identity => "People and personal information",
        Category::Plans => "Plans, goals and appointments",
        Category::Financial => "Insurance and costs",
        Category::Other => "Other",
    }
}

pub struct TypeRow {
    pub key: &'static str,
    pub name: &'static str,
    pub description: &'static str,
    pub latest: String,
    pub add_href: Option<String>,
}

pub struct TypeGroup {
    pub heading: &'static str,
    pub rows: Vec<TypeRow>,
}

#[derive(Template)]
#[template(path = "data_types.html")]
struct TypesPage {
    layout: render::Layout,
    nav: RecordNav,
    groups: Vec<TypeGroup>,
}

/// Where a new item of `dt` is added, if the person may add one.
pub fn add_href(view: &RecordView, dt: &DataType) -> Option<String> {
    if !view.may(dt.key, Operation::Create) {
        return None;
    }
    let id = view.record.id;
    match dt.key {
        "file" => Some(format!("/records/{id}/files")),
        "demographics" => view
            .may(dt.key, Operation::Update)
            .then(|| format!("/records/{id}/profile")),
        key if entry::form(key).is_some() => Some(format!("/records/{id}/data/{key}/new")),
        _ => None,
    }
}

fn load_types(svc: &Services, ctx: &Context, id: RecordId) -> ServiceResult<(RecordView, Vec<TypeGroup>)> {
    let view = RecordView::load(svc, ctx, id)?;
    let readable: Vec<_> = registry()
        .named()
        .iter()
        .filter(|dt| view.may(dt.key, Operation::Read))
        .collect();
    // The latest item of each type, read under one decision and audited as one read.
    let queries: Vec<ItemQuery> = readable
        .iter()
        .map(|dt| ItemQuery {
            data_types: vec![dt.key.to_string()],
            limit: 1,
            ..Default::default()
        })
        .collect();
    let pages = svc.query_each(ctx, id, &queries)?;
    let mut groups: Vec<TypeGroup> = Vec::new();
    for (dt, page) in readable.into_iter().zip(pages) {
        let latest = page
            .items
            .first()
            .map_or_else(|| "None yet".to_string(), |i| summarize(i).date);
        let row = TypeRow {
            key: dt.key,
            name: dt.name,
            description: dt.description,
            latest,
            add_href: add_href(&view, dt),
        };
        let heading = category_heading(dt.category);
        match groups.iter_mut().find(|g| g.heading == heading) {
            Some(g) => g.rows.push(row),
            None => groups.push(TypeGroup {
                heading,
                rows: vec![row],
            }),
        }
    }
    Ok((view, groups))
}

pub async fn types(State(state): State<AppState>, person: Person, Path(id): Path<String>) -> Response {
    let Some(id) = record_id(&id) else {
        return super::record::not_found(&person);
    };
    let svc = state.services.clone();
    let ctx = Context::person(person.account());
    match blocking(move || load_types(&svc, &ctx, id)).await {
        Ok((view, groups)) => render::page(
            StatusCode::OK,
            &TypesPage {
                layout: person.layout(&format!("Health data · {}", view.record.display_name)),
                nav: view.nav(Section::Data),
                groups,
            },
        ),
        Err(e) => failed(&person, &e, "Health data"),
    }
}

// ---- one data type -----------------------------------------------------------------------------

#[derive(serde::Deserialize, Default)]
pub struct TypeQuery {
    range: Option<String>,
    after: Option<String>,
    deleted: Option<String>,
    notice: Option<String>,
}

/// The ranges a chart offers: (key, words, days back; `None` for everything).
const RANGES: &[(&str, &str, Option<i64>)] = &[
    ("7d", "7 days", Some(7)),
    ("30d", "30 days", Some(30)),
    ("90d", "90 days", Some(90)),
    ("1y", "1 year", Some(365)),
    ("all", "All", None),
];

pub struct RangeLink {
    pub href: String,
    pub label: &'static str,
    pub current: bool,
}

#[derive(Template)]
#[template(path = "data_type.html")]
struct TypePage {
    layout: render::Layout,
    nav: RecordNav,
    id: String,
    name: String,
    description: String,
    notice: Option<&'static str>,
    chart: Option<Chart>,
    charted: bool,
    ranges: Vec<RangeLink>,
    range_words: &'static str,
    rows: Vec<Summary>,
    next: Option<String>,
    first: Option<String>,
    add_href: Option<String>,
    deleted: bool,
    deleted_link: Option<String>,
}

fn notice_text(key: &str) -> Option<&'static str> {
    match key {
        "added" => Some("Saved."),
        "deleted" => Some("The item is deleted. A custodian can restore it from its page."),
        _ => None,
    }
}

struct TypeData {
    view: RecordView,
    chart: Option<Chart>,
    rows: Vec<Summary>,
    next: Option<Cursor>,
}

#[allow(clippy::too_many_arguments)] // the page's inputs, each distinct
fn load_type(
    svc: &Services,
    ctx: &Context,
    id: RecordId,
    dt: &'static DataType,
    from: Option<Timestamp>,
    after: Option<Cursor>,
    deleted: bool,
    chart_title: String,
) -> ServiceResult<TypeData> {
    let view = RecordView::load(svc, ctx, id)?;
    if !view.may(dt.key, Operation::Read) {
        return Err(ServiceError::Forbidden(format!(
            "your access to this record does not include {}",
            dt.name
        )));
    }
    if deleted && !view.is_custodian() {
        return Err(ServiceError::Forbidden(
            "only a custodian of this record sees its deleted items".into(),
        ));
    }
    let chart = match (dt.unit, deleted) {
        (Some(unit), false) => {
            let mut collector = Collector::new(dt);
            let mut cursor = None;
            let mut read = 0;
            loop {
                let q = ItemQuery {
                    data_types: vec![dt.key.to_string()],
                    effective_from: from,
                    order: Order::EffectiveAsc,
                    limit: ItemQuery::MAX_LIMIT,
                    after: cursor,
                    ..Default::default()
                };
                let page = svc.query(ctx, id, &q)?;
                read += page.items.len();
                for item in &page.items {
                    if let Some(b) = &item.body {
                        collector.add(item.meta.effective, b);
                    }
                }
                cursor = page.next;
                if cursor.is_none() || read >= CHART_MAX_ITEMS {
                    break;
                }
            }
            chart::build(
                "chart",
                &chart_title,
                series::unit_label(unit.canonical),
                collector.finish(),
                series::bands(dt.key),
            )
        }
        _ => None,
    };
    let q = ItemQuery {
        data_types: vec![dt.key.to_string()],
        effective_from: from,
        state: if deleted {
            StateFilter::Deleted
        } else {
            StateFilter::Active
        },
        limit: PAGE,
        after,
        ..Default::default()
    };
    let page = svc.query(ctx, id, &q)?;
    Ok(TypeData {
        view,
        chart,
        rows: page.items.iter().map(summarize).collect(),
        next: page.next,
    })
}

pub async fn show_type(
    State(state): State<AppState>,
    person: Person,
    Path((id, key)): Path<(String, String)>,
    Query(q): Query<TypeQuery>,
) -> Response {
    let (Some(id), Some(dt)) = (record_id(&id), registry().get(&key)) else {
        return super::record::not_found(&person);
    };
    let range = q
        .range
        .as_deref()
        .and_then(|r| RANGES.iter().find(|(k, _, _)| *k == r))
        .unwrap_or(&RANGES[RANGES.len() - 1]);
    let now = state.services.now();
    let from = range.2.map(|days| now.plus_seconds(-days * 86_400));
    let after = q.after.as_deref().and_then(Cursor::decode);
    let deleted = q.deleted.as_deref() == Some("1");
    let svc = state.services.clone();
    let ctx = Context::person(person.account());
    let title = format!("{} over {}", dt.name, range.1.to_lowercase());
    let data = match blocking(move || load_type(&svc, &ctx, id, dt, from, after, deleted, title)).await {
        Ok(d) => d,
        Err(e) => return failed(&person, &e, dt.name),
    };
    let base = format!("/records/{id}/data/{}", dt.key);
    let deleted_q = if deleted { "&deleted=1" } else { "" };
    let ranges = RANGES
        .iter()
        .map(|(k, label, _)| RangeLink {
            href: format!("{base}?range={k}{deleted_q}"),
            label,
            current: *k == range.0,
        })
        .collect();
    let next = data
        .next
        .map(|c| format!("{base}?range={}{deleted_q}&after={}", range.0, c.encode()));
    let first = after.map(|_| format!("{base}?range={}{deleted_q}", range.0));
    let deleted_link = data.view.is_custodian().then(|| {
        if deleted {
            format!("{base}?range={}", range.0)
        } else {
            format!("{base}?range={}&deleted=1", range.0)
        }
    });
    render::page(
        StatusCode::OK,
        &TypePage {
            layout: person.layout(&format!("{} · {}", dt.name, data.view.record.display_name)),
            nav: data.view.nav(Section::Data),
            id: id.to_string(),
            name: dt.name.to_string(),
            description: dt.description.to_string(),
            notice: q.notice.as_deref().and_then(notice_text),
            charted: dt.unit.is_some() && !deleted,
            chart: data.chart,
            ranges,
            range_words: range.1,
            rows: data.rows,
            next,
            first,
            add_href: add_href(&data.view, dt).filter(|_| !deleted),
            deleted,
            deleted_link,
        },
    )
}
