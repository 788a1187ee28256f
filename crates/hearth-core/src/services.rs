//! [`Services`]: the handle every adapter holds. It carries the store, the blob store, the clock
//! and the settings, all passed in (nothing global), so tests can run several configurations
//! side by side.

use std::sync::Arc;

use hearth_domain::audit::ItemVersionRef;
use hearth_domain::{AuditAction, AuditEntry, AuditOutcome, Clock, RecordId, Timestamp};
use hearth_store::{BlobStore, Store};

use crate::audit_log::AuditLog;
use crate::auth::{AuthRuntime, AuthSettings, Mailer, NoMailer, Throttle};
use crate::bulk::{BulkRuntime, BulkSettings};
use crate::{Context, ServiceError};

#[derive(Clone)]
pub struct Services {
    pub(crate) store: Arc<dyn Store>,
    pub(crate) blobs: Arc<dyn BlobStore>,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) auth: AuthRuntime,
    pub(crate) audit_log: AuditLog,
    pub(crate) files: crate::files::FileSettings,
    pub(crate) bulk: Arc<BulkRuntime>,
    /// Where bulk export files go: apart from the items' blobs, so deleting an expired export
    /// can never touch a person's file that happens to have the same bytes.
    pub(crate) export_blobs: Option<Arc<dyn BlobStore>>,
}

impl Services {
    /// Services with default sign-in settings and no mailer (enough for command-line tools).
    pub fn new(store: Arc<dyn Store>, blobs: Arc<dyn BlobStore>, clock: Arc<dyn Clock>) -> Self {
        let auth = AuthRuntime {
            settings: AuthSettings::default(),
            mailer: Arc::new(NoMailer),
            throttle: Throttle::new(clock.clone()),
            keys: Default::default(),
        };
        Services {
            audit_log: AuditLog::start(store.clone()),
            store,
            blobs,
            clock,
            auth,
            files: Default::default(),
            bulk: Arc::new(BulkRuntime::new(BulkSettings::default())),
            export_blobs: None,
        }
    }

    /// The same services with these sign-in settings and this mailer.
    pub fn with_auth(mut self, settings: AuthSettings, mailer: Arc<dyn Mailer>) -> Self {
        self.auth.settings = settings;
        self.auth.mailer = mailer;
        self
    }

    /// The same services with these bulk export settings.
    pub fn with_bulk(mut self, settings: BulkSettings) -> Self {
        self.bulk = Arc::new(BulkRuntime::new(settings));
        self
    }

    /// The same services keeping bulk export files in `blobs` (by default they share the items'
    /// blob store).
    pub fn with_export_blobs(mut self, blobs: Arc<dyn BlobStore>) -> Self {
        self.export_blobs = Some(blobs);
        self
    }

    /// The blob store bulk export files live in.
    pub(crate) fn export_blobs(&self) -> &dyn BlobStore {
        self.export_blobs.as_deref().unwrap_or(&*self.blobs)
    }

    pub fn bulk_settings(&self) -> &BulkSettings {
        &self.bulk.settings
    }

    pub fn auth_settings(&self) -> &AuthSettings {
        &self.auth.settings
    }

    pub fn clock(&self) -> Arc<dyn Clock> {
        self.clock.clone()
    }

    pub fn store(&self) -> &dyn Store {
        &*self.store
    }

    pub fn blobs(&self) -> &dyn BlobStore {
        &*self.blobs
    }

    pub fn now(&self) -> Timestamp {
        self.clock.now()
    }

    /// A success entry for `ctx` doing `action` on `record`; the store fills in the items.
    pub(crate) fn audit_entry(
        &self,
        ctx: &Context,
        record: Option<RecordId>,
        action: AuditAction,
    ) -> AuditEntry {
        let actor = ctx.actor();
        AuditEntry {
            id: 0,
            at: self.now(),
            account: actor.account,
            app: actor.app,
            online: actor.online,
            record,
            action,
            items: vec![],
            data_types: vec![],
            outcome: AuditOutcome::Success,
        }
    }

    /// Records a refused or failed request. Failing to write the entry is logged, never hidden:
    /// the original error is what the caller sees.
    pub(crate) fn audit_failure(
        &self,
        ctx: &Context,
        record: Option<RecordId>,
        action: AuditAction,
        items: Vec<ItemVersionRef>,
        err: &ServiceError,
    ) {
        let mut e = self.audit_entry(ctx, record, action);
        e.items = items;
        e.outcome = AuditOutcome::Failure(err.public_message());
        // The record may not exist (the failure may be exactly that): keep the entry unattached.
        if let Some(r) = record
            && matches!(self.store.record(r), Ok(None))
        {
            e.record = None;
        }
        if let Err(aerr) = self.store.append_audit(&e) {
            tracing::error!(error = %aerr, "could not append a failure audit entry");
        }
    }

    /// Runs `f`; on error appends a failure entry for it.
    pub(crate) fn audited<T>(
        &self,
        ctx: &Context,
        record: Option<RecordId>,
        action: AuditAction,
        f: impl FnOnce() -> Result<T, ServiceError>,
    ) -> Result<T, ServiceError> {
        let r = f();
        if let Err(e) = &r {
            self.audit_failure(ctx, record, action, vec![], e);
        }
        r
    }
}
