//! One item's page (healthvault.md §2.1 the thing and its envelope, §6.1 per-item audit and
//! versions): its fields, its envelope (source, who added and last changed it — people and apps
//! by name — and when, flags), where it came from (Provenance resources naming it, its device,
//! linked items), its versions for custodians, and its actions.
//!
//! - `GET /records/{id}/items/{item}`
//! - `GET /records/{id}/items/{item}/versions/{v}`: one old version (custodians; the services
//!   refuse others)
//!
//! A deleted item's page says so and offers a custodian to restore it. Read-only items show no
//! edit button. The stored FHIR resource is shown read-only (open by default for types whose
//! form covers only part of the resource).

use std::collections::HashMap;

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use hearth_core::authz::Operation;
use hearth_core::{Context, ServiceResult, Services, entry};
use hearth_domain::datatypes::registry;
use hearth_domain::{AccountId, AppId, Item, ItemId, ItemMeta, ItemQuery, ItemState, RecordId, Stamp};
use serde_json::Value;

use super::describe::{date_text, summarize};
use super::entry::{editable, item_failed, load_item};
use super::record::record_id;
use super::record_nav::{RecordNav, RecordView, Section};
use super::render::{self, blocking, when};
use super::session::Person;
use crate::AppState;

pub struct Fact {
    pub label: String,
    pub value: String,
}

pub struct Origin {
    pub text: String,
    pub href: Option<String>,
}

pub struct VersionRow {
    pub version: u32,
    pub href: String,
    pub when: String,
    pub by: String,
    pub state: &'static str,
    pub current: bool,
}

/// What the page offers for an attached file.
pub struct FileLinks {
    pub download: String,
    pub view: Option<String>,
    pub image: bool,
    pub title: String,
}

#[derive(Template)]
#[template(path = "item.html")]
struct ItemPage {
    layout: render::Layout,
    nav: RecordNav,
    id: String,
    item: String,
    csrf: String,
    title: String,
    type_key: String,
    type_name: String,
    version: u32,
    deleted: bool,
    notice: Option<&'static str>,
    facts: Vec<Fact>,
    envelope: Vec<Fact>,
    origins: Vec<Origin>,
    versions: Option<Vec<VersionRow>>,
    json: String,
    json_open: bool,
    can_edit: bool,
    not_editable: Option<&'static str>,
    can_delete: bool,
    can_restore: bool,
    file: Option<FileLinks>,
}

#[derive(serde::Deserialize)]
pub struct NoticeQuery {
    notice: Option<String>,
}

fn notice_text(key: &str) -> Option<&'static str> {
    match key {
        "saved" => Some("Saved."),
        "restored" => Some("The item is restored."),
        _ => None,
    }
}

/// Names of people and apps, looked up once per page.
#[derive(Default)]
pub struct Names {
    people: HashMap<AccountId, String>,
    apps: HashMap<AppId, String>,
}

impl Names {
    fn person(&mut self, svc: &Services, id: AccountId) -> String {
        self.people
            .entry(id)
            .or_insert_with(|| {
                svc.account(id)
                    .map_or_else(|_| "a former member".into(), |a| a.display_name)
            })
            .clone()
    }

    fn app(&mut self, svc: &Services, id: &AppId) -> String {
        self.apps
            .entry(id.clone())
            .or_insert_with(|| {
                svc.app(id)
                    .ok()
                    .flatten()
                    .map_or_else(|| id.0.clone(), |a| a.name)
            })
            .clone()
    }

    /// "Ann", "Growth Chart", or "Ann using Growth Chart".
    pub fn of(&mut self, svc: &Services, s: &Stamp) -> String {
        let person = s.account.map(|a| self.person(svc, a));
        let app = s.app.as_ref().map(|a| self.app(svc, a));
        match (person, app) {
            (Some(p), Some(a)) => format!("{p} using {a}"),
            (Some(p), None) => p,
            (None, Some(a)) => a,
            (None, None) => "Hearth".into(),
        }
    }
}

fn state_word(s: ItemState) -> &'static str {
    match s {
        ItemState::Active => "current",
        ItemState::Deleted => "deleted",
        ItemState::Purged => "removed",
    }
}

/// A date, with "UTC" after a time of day.
fn moment(t: hearth_domain::Timestamp) -> String {
    let d = date_text(t);
    if d.len() > 10 { format!("{d} UTC") } else { d }
}

fn envelope(svc: &Services, names: &mut Names, m: &ItemMeta) -> Vec<Fact> {
    let mut out = Vec::new();
    let mut fact = |label: &str, value: String| {
        out.push(Fact {
            label: label.into(),
            value,
        })
    };
    fact(
        "Kind",
        registry()
            .get(&m.data_type)
            .map_or_else(|| m.data_type.clone(), |d| d.name.to_string()),
    );
    fact("Date", moment(m.effective));
    if let Some(end) = m.end_date {
        fact("Relevant until", moment(end));
    }
    fact("Version", format!("{} ({})", m.version, state_word(m.state)));
    fact(
        "Added",
        format!("{} by {}", when(m.created.at), names.of(svc, &m.created)),
    );
    if m.version > 1 {
        fact(
            "Last changed",
            format!("{} by {}", when(m.updated.at), names.of(svc, &m.updated)),
        );
    }
    if let Some(s) = &m.source {
        fact("Source", s.clone());
    }
    let mut flags = Vec::new();
    if m.flags.personal {
        flags.push("personal (never shown to apps)");
    }
    if m.flags.read_only {
        flags.push("read-only");
    }
    if !flags.is_empty() {
        fact("Flags", flags.join(", "));
    }
    if let Some(n) = &m.note {
        fact("Note", n.clone());
    }
    if !m.tags.is_empty() {
        fact("Tags", m.tags.join(", "));
    }
    out
}

/// A local reference `Type/id` as a link to that item's page.
fn local_link(record: RecordId, reference: &str) -> Option<String> {
    let (_, id) = reference.split_once('/')?;
    let id = id.split('/').next()?;
    id.parse::<ItemId>()
        .ok()
        .map(|i| format!("/records/{record}/items/{i}"))
}

fn reference_text(r: &Value) -> Option<(String, Option<String>)> {
    let display = r.get("display").and_then(Value::as_str);
    let reference = r.get("reference").and_then(Value::as_str);
    match (display, reference) {
        (Some(d), r) => Some((d.to_string(), r.map(str::to_string))),
        (None, Some(r)) => Some((r.to_string(), Some(r.to_string()))),
        _ => None,
    }
}

/// Where the item came from: Provenance resources naming it, its device, linked items.
fn origins(
    svc: &Services,
    ctx: &Context,
    view: &RecordView,
    item: &Item,
    resource: &Value,
) -> ServiceResult<Vec<Origin>> {
    let record = view.record.id;
    let mut out = Vec::new();
    if let Some((text, r)) = resource.get("device").and_then(reference_text) {
        out.push(Origin {
            text: format!("Measured with {text}"),
            href: r.and_then(|r| local_link(record, &r)),
        });
    }
    for l in &item.meta.links {
        out.push(Origin {
            text: format!("Linked item ({})", l.relationship),
            href: Some(format!("/records/{record}/items/{}", l.target)),
        });
    }
    if view.may("fhir:Provenance", Operation::Read) {
        let target = format!("{}/{}", item.meta.resource_type, item.meta.id);
        let q = ItemQuery {
            data_types: vec!["fhir:Provenance".into()],
            limit: 200,
            ..Default::default()
        };
        for p in svc.query(ctx, record, &q)?.items {
            let Some(body) = p
                .body
                .as_deref()
                .and_then(|b| serde_json::from_str::<Value>(b).ok())
            else {
                continue;
            };
            let names_it = body.get("target").and_then(Value::as_array).is_some_and(|ts| {
                ts.iter().any(|t| {
                    t.get("reference")
                        .and_then(Value::as_str)
                        .is_some_and(|r| r == target || r.starts_with(&format!("{target}/_history")))
                })
            });
            if !names_it {
                continue;
            }
            let who = body
                .get("agent")
                .and_then(|a| a.get(0))
                .and_then(|a| a.get("who"))
                .and_then(reference_text)
                .map_or_else(|| "someone".into(), |(t, _)| t);
            let what = body
                .get("entity")
                .and_then(|e| e.get(0))
                .and_then(|e| e.get("what"))
                .and_then(reference_text)
                .map(|(t, _)| format!(" from {t}"))
                .unwrap_or_default();
            out.push(Origin {
                text: format!("Recorded {} by {who}{what}", moment(p.meta.effective)),
                href: Some(format!("/records/{record}/items/{}", p.meta.id)),
            });
        }
    }
    Ok(out)
}

/// The form's fields of the item with the words people read (choices by their labels).
fn facts(item: &Item, resource: &Value) -> Vec<Fact> {
    let Some(form) = entry::form(&item.meta.data_type) else {
        return vec![];
    };
    let values = form.values(resource);
    form.fields
        .iter()
        .filter_map(|f| {
            let v = values.get(f.name).filter(|v| !v.is_empty())?;
            let shown = f
                .input
                .choices()
                .iter()
                .find(|c| c.code == v)
                .map_or_else(|| v.replace('T', " "), |c| c.label.to_string());
            Some(Fact {
                label: f.label.to_string(),
                value: shown,
            })
        })
        .collect()
}

/// The links of an item's attached file, when it has one.
pub fn file_links(record: RecordId, item: &Item, resource: &Value) -> Option<FileLinks> {
    if item.meta.resource_type != "DocumentReference" || item.meta.state != ItemState::Active {
        return None;
    }
    let a = resource.get("content")?.get(0)?.get("attachment")?;
    let stored = item
        .meta
        .blobs
        .iter()
        .any(|b| b.name == "DocumentReference.content[0].attachment");
    if !stored && a.get("data").is_none() {
        return None;
    }
    let ct = a.get("contentType").and_then(Value::as_str).unwrap_or("");
    let base = format!("/records/{record}/items/{}", item.meta.id);
    let image = ct.starts_with("image/") && !ct.contains("svg");
    let viewable = image || ct == "application/pdf";
    Some(FileLinks {
        download: format!("{base}/download"),
        view: viewable.then(|| format!("{base}/view")),
        image,
        title: a
            .get("title")
            .and_then(Value::as_str)
            .unwrap_or("the file")
            .to_string(),
    })
}

struct Loaded {
    view: RecordView,
    item: Item,
    resource: Value,
    envelope: Vec<Fact>,
    origins: Vec<Origin>,
    versions: Option<Vec<VersionRow>>,
}

fn load(svc: &Services, ctx: &Context, id: RecordId, item_id: ItemId) -> ServiceResult<Loaded> {
    let (view, item) = load_item(svc, ctx, id, item_id)?;
    let resource: Value = item
        .body
        .as_deref()
        .and_then(|b| serde_json::from_str(b).ok())
        .unwrap_or(Value::Null);
    let mut names = Names::default();
    let envelope = envelope(svc, &mut names, &item.meta);
    let origins = origins(svc, ctx, &view, &item, &resource)?;
    let versions = if view.is_custodian() {
        let all = svc.history(ctx, id, item_id)?;
        Some(
            all.iter()
                .map(|v| VersionRow {
                    version: v.meta.version,
                    href: format!("/records/{id}/items/{item_id}/versions/{}", v.meta.version),
                    when: when(v.meta.updated.at),
                    by: names.of(svc, &v.meta.updated),
                    state: state_word(v.meta.state),
                    current: v.meta.version == item.meta.version,
                })
                .collect(),
        )
    } else {
        None
    };
    Ok(Loaded {
        view,
        item,
        resource,
        envelope,
        origins,
        versions,
    })
}

fn pretty(resource: &Value) -> String {
    serde_json::to_string_pretty(resource).unwrap_or_default()
}

pub async fn show(
    State(state): State<AppState>,
    person: Person,
    Path((id, item)): Path<(String, String)>,
    Query(q): Query<NoticeQuery>,
) -> Response {
    let (Some(id), Ok(item_id)) = (record_id(&id), item.parse::<ItemId>()) else {
        return super::record::not_found(&person);
    };
    let svc = state.services.clone();
    let ctx = Context::person(person.account());
    let l = match blocking(move || load(&svc, &ctx, id, item_id)).await {
        Ok(l) => l,
        Err(e) => return item_failed(&person, &e),
    };
    let summary = summarize(&l.item);
    let deleted = l.item.meta.state == ItemState::Deleted;
    let dt = &l.item.meta.data_type;
    let edit = editable(&l.view, &l.item);
    let form = entry::form(dt);
    let json_open = form.is_none_or(|f| f.minimal);
    let is_patient = l.item.meta.id == l.view.record.patient_item;
    render::page(
        StatusCode::OK,
        &ItemPage {
            layout: person.layout(&summary.title),
            nav: l.view.nav(Section::Data),
            id: id.to_string(),
            item: item_id.to_string(),
            csrf: person.csrf(),
            title: summary.title,
            type_key: dt.clone(),
            type_name: summary.type_name,
            version: l.item.meta.version,
            deleted,
            notice: q.notice.as_deref().and_then(notice_text),
            facts: facts(&l.item, &l.resource),
            envelope: l.envelope,
            origins: l.origins,
            versions: l.versions,
            json: pretty(&l.resource),
            json_open,
            can_edit: edit.is_ok() && !is_patient,
            not_editable: if is_patient {
                Some("This is the record's personal information: change it on the Profile page.")
            } else {
                edit.err().filter(|_| !deleted && form.is_some())
            },
            can_delete: !deleted && !is_patient && l.view.may(dt, Operation::Delete),
            can_restore: deleted && l.view.is_custodian(),
            file: file_links(id, &l.item, &l.resource),
        },
    )
}

// ---- one old version --------------------------------------------------------------------------

#[derive(Template)]
#[template(path = "item_version.html")]
struct VersionPage {
    layout: render::Layout,
    nav: RecordNav,
    id: String,
    item: String,
    version: u32,
    envelope: Vec<Fact>,
    json: String,
}

pub async fn version(
    State(state): State<AppState>,
    person: Person,
    Path((id, item, v)): Path<(String, String, u32)>,
) -> Response {
    let (Some(id), Ok(item_id)) = (record_id(&id), item.parse::<ItemId>()) else {
        return super::record::not_found(&person);
    };
    let svc = state.services.clone();
    let ctx = Context::person(person.account());
    let loaded = blocking(move || {
        let view = RecordView::load(&svc, &ctx, id)?;
        let old = svc.read_version(&ctx, id, item_id, v)?;
        let mut names = Names::default();
        let env = envelope(&svc, &mut names, &old.meta);
        Ok((view, old, env))
    })
    .await;
    let (view, old, env) = match loaded {
        Ok(x) => x,
        Err(e) => return item_failed(&person, &e),
    };
    let resource: Value = old
        .body
        .as_deref()
        .and_then(|b| serde_json::from_str(b).ok())
        .unwrap_or(Value::Null);
    render::page(
        StatusCode::OK,
        &VersionPage {
            layout: person.layout(&format!("Version {v}")),
            nav: view.nav(Section::Data),
            id: id.to_string(),
            item: item_id.to_string(),
            version: v,
            envelope: env,
            json: pretty(&resource),
        },
    )
}
