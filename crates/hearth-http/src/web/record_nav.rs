//! The sub-navigation every page of one record shares (healthvault.md §10.3: a record's home,
//! its health data, files, profile, sharing, emergency profile, history of changes and
//! settings), and what every such page loads first: the record, the person's access and the
//! authorisation decision that says which data types they may read and change.
//!
//! Sharing and Emergency are for custodians; History for custodians and people whose access
//! includes the history of changes. The current page is marked `aria-current="page"`.

use hearth_core::authz::{Decision, Operation};
use hearth_core::{Context, ServiceError, ServiceResult, Services};
use hearth_domain::{Access, Record, RecordId};

/// The pages of a record.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Section {
    Home,
    Data,
    Files,
    Profile,
    Sharing,
    Emergency,
    History,
    Settings,
}

pub struct NavLink {
    pub href: String,
    pub label: &'static str,
    pub current: bool,
}

/// The record sub-navigation (`templates/record_nav.html`).
pub struct RecordNav {
    pub id: String,
    pub name: String,
    pub is_custodian: bool,
    /// Whether the person may read the record's history of changes.
    pub can_audit: bool,
    pub links: Vec<NavLink>,
}

impl RecordNav {
    pub fn new(record: &Record, access: &Access, current: Section) -> Self {
        let is_custodian = access.is_custodian();
        let can_audit = access.reads_audit();
        let id = record.id.to_string();
        let mut links = Vec::new();
        let mut link = |section: Section, path: &str, label: &'static str| {
            links.push(NavLink {
                href: format!("/records/{id}{path}"),
                label,
                current: section == current,
            });
        };
        link(Section::Home, "", "Home");
        link(Section::Data, "/data", "Health data");
        link(Section::Files, "/files", "Files");
        link(Section::Profile, "/profile", "Profile");
        if is_custodian {
            link(Section::Sharing, "/sharing", "Sharing");
            link(Section::Emergency, "/emergency", "Emergency");
        }
        if can_audit {
            link(Section::History, "/history", "History");
        }
        link(Section::Settings, "/settings", "Settings");
        RecordNav {
            id,
            name: record.display_name.clone(),
            is_custodian,
            can_audit,
            links,
        }
    }
}

/// What a record page knows about the record and the person looking at it.
pub struct RecordView {
    pub record: Record,
    pub access: Access,
    pub decision: Decision,
}

impl RecordView {
    /// Loads the record for a signed-in person (blocking): "not found" when they cannot reach it.
    pub fn load(svc: &Services, ctx: &Context, id: RecordId) -> ServiceResult<RecordView> {
        let decision = svc.authorize(ctx, id, Operation::Read)?;
        let record = svc.record(ctx, id)?;
        let access = decision
            .access
            .clone()
            .ok_or_else(|| ServiceError::NotFound(format!("record {id} not found")))?;
        Ok(RecordView {
            record,
            access,
            decision,
        })
    }

    /// Whether the person may do `op` on items of `data_type`.
    pub fn may(&self, data_type: &str, op: Operation) -> bool {
        self.decision.allows(data_type, op)
    }

    pub fn is_custodian(&self) -> bool {
        self.access.is_custodian()
    }

    pub fn nav(&self, current: Section) -> RecordNav {
        RecordNav::new(&self.record, &self.access, current)
    }
}

/// The page for a failed record page load: "not found" for a record the person cannot reach.
pub fn failed(person: &super::session::Person, e: &ServiceError, title: &str) -> axum::response::Response {
    match e {
        ServiceError::NotFound(_) => super::record::not_found(person),
        e => super::render::service_error(e, person.layout(title)),
    }
}

/// The navigation of `record` for the person in `ctx` (blocking), for pages that load the
/// record themselves; `None` for someone without an access of their own (the operator).
pub fn nav_for(
    svc: &Services,
    ctx: &Context,
    record: &Record,
    current: Section,
) -> ServiceResult<Option<RecordNav>> {
    let decision = svc.authorize(ctx, record.id, Operation::Read)?;
    Ok(decision.access.map(|a| RecordNav::new(record, &a, current)))
}
