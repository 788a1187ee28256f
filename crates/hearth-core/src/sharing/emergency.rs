//! Emergency access (healthvault.md §4): custodians choose what the record's emergency profile
//! shows (allergies, active conditions, current medications, medical devices, emergency contacts,
//! blood type) and create codes, printed on a wallet card with the emergency page's address.
//! Whoever types a code there sees that profile, read-only.
//!
//! A code is 16 characters of Crockford base32 (80 random bits), shown once and stored as a
//! SHA-256 fingerprint; typing is forgiving (case, dashes, spaces, O/0 and I/L/1). Wrong codes
//! are rate-limited per client address and across all addresses. Every use is audited on the
//! record (with the items shown) and emailed to the custodians. Items flagged personal never
//! appear. Blood type is the latest Observation with LOINC 882-1 (ABO and Rh group).

use hearth_domain::audit::ItemVersionRef;
use hearth_domain::sharing::{EmergencyCode, EmergencyProfile, EmergencySection};
use hearth_domain::{AuditAction, AuditOutcome, EmergencyCodeId, Item, ItemQuery, RecordId};
use rand::RngCore;
use serde_json::Value;

use super::notify::when;
use crate::auth::Policy;
use crate::auth::secrets::fingerprint;
use crate::authz::Operation;
use crate::{Context, ServiceError, ServiceResult, Services};

/// Wrong codes per client address: 5 free, then waits up to 15 minutes.
pub const PER_ADDRESS: Policy = Policy {
    free: 5,
    window_secs: 15 * 60,
    max_lock_secs: 15 * 60,
};
/// Wrong codes across every address: 200 free per window, so a guessing farm is slowed too.
pub const EVERYWHERE: Policy = Policy {
    free: 200,
    window_secs: 15 * 60,
    max_lock_secs: 15 * 60,
};

const ALPHABET: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";

/// A new code: `XXXX-XXXX-XXXX-XXXX`.
fn new_code() -> String {
    let mut bytes = [0u8; 10];
    rand::rng().fill_bytes(&mut bytes);
    let mut bits: u128 = 0;
    for b in bytes {
        bits = (bits << 8) | u128::from(b);
    }
    let chars: Vec<char> = (0..16)
        .map(|i| ALPHABET[((bits >> (5 * (15 - i))) & 31) as usize] as char)
        .collect();
    chars
        .chunks(4)
        .map(|c| c.iter().collect::<String>())
        .collect::<Vec<_>>()
        .join("-")
}

/// The code as typed, reduced to its 16 significant characters (or `None`).
pub fn normalize_code(typed: &str) -> Option<String> {
    let s: String = typed
        .chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .map(|c| match c.to_ascii_uppercase() {
            'O' => '0',
            'I' | 'L' => '1',
            c => c,
        })
        .collect();
    (s.len() == 16 && s.bytes().all(|b| ALPHABET.contains(&b))).then_some(s)
}

/// The sections shown when a custodian has not chosen yet.
fn default_sections() -> Vec<EmergencySection> {
    EmergencySection::ALL.to_vec()
}

/// One section of the emergency page.
#[derive(Clone, Debug)]
pub struct EmergencyBlock {
    pub section: EmergencySection,
    pub lines: Vec<String>,
}

/// What the emergency page shows.
#[derive(Clone, Debug)]
pub struct EmergencyView {
    pub record_name: String,
    pub birth_date: Option<String>,
    pub blocks: Vec<EmergencyBlock>,
    pub note: Option<String>,
}

/// A custodian's view of the emergency settings.
#[derive(Clone, Debug)]
pub struct EmergencySettings {
    pub profile: EmergencyProfile,
    pub chosen: bool,
    pub codes: Vec<EmergencyCode>,
    /// The page a code would show now (not audited as a use).
    pub preview: EmergencyView,
}

fn text(v: &Value) -> Option<String> {
    v.as_str()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(String::from)
}

/// Words for a CodeableConcept: its text, else its first coding's display or code.
fn concept(v: &Value) -> Option<String> {
    text(&v["text"])
        .or_else(|| v["coding"].as_array()?.iter().find_map(|c| text(&c["display"])))
        .or_else(|| v["coding"].as_array()?.iter().find_map(|c| text(&c["code"])))
}

fn status_code(v: &Value) -> Option<String> {
    v["coding"].as_array()?.iter().find_map(|c| text(&c["code"]))
}

fn body(item: &Item) -> Value {
    item.body
        .as_deref()
        .and_then(|b| serde_json::from_str(b).ok())
        .unwrap_or(Value::Null)
}

fn human_name(n: &Value) -> Option<String> {
    text(&n["text"]).or_else(|| {
        let mut parts: Vec<String> = n["given"]
            .as_array()
            .map(|g| g.iter().filter_map(text).collect())
            .unwrap_or_default();
        parts.extend(text(&n["family"]));
        (!parts.is_empty()).then(|| parts.join(" "))
    })
}

fn phones(telecom: &Value) -> Vec<String> {
    telecom
        .as_array()
        .map(|t| {
            t.iter()
                .filter(|c| c["system"].as_str().is_none_or(|s| s == "phone"))
                .filter_map(|c| text(&c["value"]))
                .collect()
        })
        .unwrap_or_default()
}

fn contact_line(name: Option<String>, relation: Option<String>, phones: Vec<String>) -> Option<String> {
    let name = name?;
    let mut line = name;
    if let Some(r) = relation {
        line.push_str(&format!(" ({r})"));
    }
    if !phones.is_empty() {
        line.push_str(&format!(": {}", phones.join(", ")));
    }
    Some(line)
}

impl Services {
    /// The emergency profile, codes and preview of a record (custodians).
    pub fn emergency_settings(&self, ctx: &Context, record: RecordId) -> ServiceResult<EmergencySettings> {
        self.authorize(ctx, record, Operation::ManageAccess)?;
        let stored = self.store.emergency_profile(record)?;
        let chosen = stored.is_some();
        let profile = stored.unwrap_or_else(|| EmergencyProfile {
            sections: default_sections(),
            note: None,
            updated_at: self.now(),
            updated_by: ctx.actor().account.unwrap_or_default(),
        });
        Ok(EmergencySettings {
            preview: self.emergency_view(record, &profile)?.0,
            profile,
            chosen,
            codes: self.store.emergency_codes(record)?,
        })
    }

    /// Chooses what the emergency profile shows (custodians).
    pub fn set_emergency_profile(
        &self,
        ctx: &Context,
        record: RecordId,
        sections: Vec<EmergencySection>,
        note: Option<String>,
    ) -> ServiceResult<EmergencyProfile> {
        self.audited(ctx, Some(record), AuditAction::EmergencyProfileChanged, || {
            self.authorize(ctx, record, Operation::ManageAccess)?;
            let note = note.map(|n| n.trim().to_string()).filter(|n| !n.is_empty());
            if note.as_ref().is_some_and(|n| n.chars().count() > 500) {
                return Err(ServiceError::invalid(
                    "value",
                    "note",
                    "Keep the note for first responders under 500 characters.",
                ));
            }
            let profile = EmergencyProfile {
                sections: EmergencySection::ALL
                    .into_iter()
                    .filter(|s| sections.contains(s))
                    .collect(),
                note,
                updated_at: self.now(),
                updated_by: ctx.actor().account.unwrap_or_default(),
            };
            let entry = self.audit_entry(ctx, Some(record), AuditAction::EmergencyProfileChanged);
            self.store.put_emergency_profile(record, &profile, &entry)?;
            Ok(profile)
        })
    }

    /// Creates an emergency access code (custodians). The code is returned once, never stored.
    pub fn create_emergency_code(
        &self,
        ctx: &Context,
        record: RecordId,
    ) -> ServiceResult<(EmergencyCode, String)> {
        self.audited(ctx, Some(record), AuditAction::EmergencyCodeCreated, || {
            self.authorize(ctx, record, Operation::ManageAccess)?;
            let code = new_code();
            let normal = normalize_code(&code).ok_or_else(|| ServiceError::Internal("bad code".into()))?;
            let stored = EmergencyCode {
                id: EmergencyCodeId::new(),
                record,
                code_hash: fingerprint(&normal),
                hint: normal[12..].to_string(),
                created_by: ctx.actor().account.unwrap_or_default(),
                created_at: self.now(),
                revoked_at: None,
                last_used_at: None,
                uses: 0,
            };
            let entry = self.audit_entry(ctx, Some(record), AuditAction::EmergencyCodeCreated);
            self.store.put_emergency_code(&stored, Some(&entry))?;
            Ok((stored, code))
        })
    }

    /// The active code of `record` a custodian typed (to print its wallet card again).
    pub fn emergency_code_of(
        &self,
        ctx: &Context,
        record: RecordId,
        typed: &str,
    ) -> ServiceResult<EmergencyCode> {
        self.authorize(ctx, record, Operation::ManageAccess)?;
        let hash = normalize_code(typed).map(|n| fingerprint(&n));
        hash.and_then(|h| self.store.emergency_code_by_hash(&h).transpose())
            .transpose()?
            .filter(|c| c.record == record && c.is_active())
            .ok_or_else(|| {
                ServiceError::invalid(
                    "value",
                    "code",
                    "That is not an active emergency code of this record.",
                )
            })
    }

    /// Revokes a code (custodians): it stops working at once.
    pub fn revoke_emergency_code(
        &self,
        ctx: &Context,
        record: RecordId,
        id: EmergencyCodeId,
    ) -> ServiceResult<()> {
        self.audited(ctx, Some(record), AuditAction::EmergencyCodeRevoked, || {
            self.authorize(ctx, record, Operation::ManageAccess)?;
            let mut code = self
                .store
                .emergency_codes(record)?
                .into_iter()
                .find(|c| c.id == id)
                .ok_or_else(|| ServiceError::NotFound("no such emergency code".into()))?;
            if code.revoked_at.is_none() {
                code.revoked_at = Some(self.now());
                let entry = self.audit_entry(ctx, Some(record), AuditAction::EmergencyCodeRevoked);
                self.store.put_emergency_code(&code, Some(&entry))?;
            }
            Ok(())
        })
    }

    /// Opens the emergency profile a typed code unlocks. `client` is the caller's address (the
    /// rate-limit key). Audited on the record and emailed to its custodians.
    pub fn open_emergency(&self, typed: &str, client: &str) -> ServiceResult<EmergencyView> {
        let here = format!("emergency:{client}");
        let everywhere = "emergency:*";
        let throttle = &self.auth.throttle;
        throttle.check(&here)?;
        throttle.check(everywhere)?;
        let wrong = || {
            throttle.fail(&here, PER_ADDRESS);
            throttle.fail(everywhere, EVERYWHERE);
            ServiceError::invalid(
                "value",
                "code",
                "That code does not open an emergency profile. Check it and try again.",
            )
        };
        let Some(normal) = normalize_code(typed) else {
            return Err(wrong());
        };
        let Some(mut code) = self.store.emergency_code_by_hash(&fingerprint(&normal))? else {
            return Err(wrong());
        };
        let ctx = Context::tool("hearth-emergency");
        let record = code.record;
        if !code.is_active() {
            let mut entry = self.audit_entry(&ctx, Some(record), AuditAction::EmergencyAccessFailed);
            entry.outcome = AuditOutcome::Failure(format!("revoked code …{} used from {client}", code.hint));
            self.store.append_audit(&entry)?;
            return Err(wrong());
        }
        let profile = self
            .store
            .emergency_profile(record)?
            .unwrap_or_else(|| EmergencyProfile {
                sections: default_sections(),
                note: None,
                updated_at: code.created_at,
                updated_by: code.created_by,
            });
        let (view, shown) = self.emergency_view(record, &profile)?;
        let now = self.now();
        code.uses += 1;
        code.last_used_at = Some(now);
        let mut entry = self.audit_entry(&ctx, Some(record), AuditAction::EmergencyAccess);
        entry.items = shown
            .iter()
            .map(|i| ItemVersionRef {
                id: i.meta.id,
                version: i.meta.version,
            })
            .collect();
        let mut types: Vec<String> = shown.iter().map(|i| i.meta.data_type.clone()).collect();
        types.sort();
        types.dedup();
        entry.data_types = types;
        self.store.put_emergency_code(&code, Some(&entry))?;
        throttle.clear(&here);
        self.mail_custodians(
            record,
            &format!("Emergency access used: {}", view.record_name),
            &format!(
                "The emergency profile of the health record \"{}\" was opened on {} with the emergency code ending {} (from address {client}).\n\nIf this was not expected, revoke the code on the record's Emergency page.\n",
                view.record_name,
                when(now),
                code.hint
            ),
        );
        Ok(view)
    }

    /// Builds the page for `profile`, and the items it shows.
    fn emergency_view(
        &self,
        record: RecordId,
        profile: &EmergencyProfile,
    ) -> ServiceResult<(EmergencyView, Vec<Item>)> {
        let rec = self
            .store
            .record(record)?
            .ok_or_else(|| ServiceError::NotFound(format!("record {record} not found")))?;
        let mut shown = Vec::new();
        let patient = self.store.fetch(record, &[rec.patient_item])?.pop();
        let patient_json = patient.as_ref().map(body).unwrap_or(Value::Null);
        let scan = |types: &[&str], code: Option<&str>, limit: u32| -> ServiceResult<Vec<Item>> {
            let q = ItemQuery {
                data_types: types.iter().map(|s| s.to_string()).collect(),
                code: code.map(String::from),
                limit,
                ..ItemQuery::default()
            };
            Ok(self
                .store
                .scan(record, &q)?
                .items
                .into_iter()
                .filter(|i| !i.meta.flags.personal)
                .collect())
        };
        let mut blocks = Vec::new();
        for section in &profile.sections {
            let mut lines = Vec::new();
            match section {
                EmergencySection::Allergies => {
                    for item in scan(&["allergy"], None, 200)? {
                        let v = body(&item);
                        if matches!(
                            status_code(&v["clinicalStatus"]).as_deref(),
                            Some("inactive" | "resolved")
                        ) {
                            continue;
                        }
                        let Some(what) = concept(&v["code"]) else { continue };
                        let mut line = what;
                        let reactions: Vec<String> = v["reaction"]
                            .as_array()
                            .into_iter()
                            .flatten()
                            .flat_map(|r| {
                                r["manifestation"]
                                    .as_array()
                                    .into_iter()
                                    .flatten()
                                    .filter_map(concept)
                            })
                            .collect();
                        if !reactions.is_empty() {
                            line.push_str(&format!(": {}", reactions.join(", ")));
                        }
                        if let Some(c) = text(&v["criticality"]) {
                            line.push_str(&format!(" (criticality {c})"));
                        }
                        lines.push(line);
                        shown.push(item);
                    }
                }
                EmergencySection::Conditions => {
                    for item in scan(&["condition"], None, 200)? {
                        let v = body(&item);
                        let status = status_code(&v["clinicalStatus"]);
                        if !matches!(
                            status.as_deref(),
                            None | Some("active" | "recurrence" | "relapse")
                        ) {
                            continue;
                        }
                        if let Some(what) = concept(&v["code"]) {
                            lines.push(what);
                            shown.push(item);
                        }
                    }
                }
                EmergencySection::Medications => {
                    for item in scan(&["medication", "prescription"], None, 200)? {
                        let v = body(&item);
                        let status = text(&v["status"]);
                        if !matches!(status.as_deref(), None | Some("active" | "intended" | "on-hold")) {
                            continue;
                        }
                        let Some(what) = concept(&v["medicationCodeableConcept"]) else {
                            continue;
                        };
                        let dose = v["dosage"][0]["text"]
                            .as_str()
                            .or_else(|| v["dosageInstruction"][0]["text"].as_str());
                        lines.push(match dose {
                            Some(d) => format!("{what}: {d}"),
                            None => what,
                        });
                        shown.push(item);
                    }
                }
                EmergencySection::Devices => {
                    for item in scan(&["medical-device"], None, 100)? {
                        let v = body(&item);
                        let name = v["deviceName"][0]["name"]
                            .as_str()
                            .map(String::from)
                            .or_else(|| concept(&v["type"]));
                        if let Some(name) = name {
                            lines.push(name);
                            shown.push(item);
                        }
                    }
                }
                EmergencySection::Contacts => {
                    for c in patient_json["contact"].as_array().into_iter().flatten() {
                        let relation = c["relationship"]
                            .as_array()
                            .and_then(|r| r.iter().find_map(concept));
                        lines.extend(contact_line(
                            human_name(&c["name"]),
                            relation,
                            phones(&c["telecom"]),
                        ));
                    }
                    if !lines.is_empty()
                        && let Some(p) = &patient
                    {
                        shown.push(p.clone());
                    }
                    for item in scan(&["contact"], None, 50)? {
                        let v = body(&item);
                        let name = v["name"].as_array().and_then(|n| n.iter().find_map(human_name));
                        let relation = v["relationship"]
                            .as_array()
                            .and_then(|r| r.iter().find_map(concept));
                        if let Some(line) = contact_line(name, relation, phones(&v["telecom"])) {
                            lines.push(line);
                            shown.push(item);
                        }
                    }
                }
                EmergencySection::BloodType => {
                    if let Some(item) = scan(&[], Some("http://loinc.org|882-1"), 1)?.into_iter().next() {
                        let v = body(&item);
                        if let Some(group) =
                            concept(&v["valueCodeableConcept"]).or_else(|| text(&v["valueString"]))
                        {
                            lines.push(group);
                            shown.push(item);
                        }
                    }
                }
            }
            blocks.push(EmergencyBlock {
                section: *section,
                lines,
            });
        }
        let name = patient_json["name"]
            .as_array()
            .and_then(|n| n.iter().find_map(human_name))
            .unwrap_or_else(|| rec.display_name.clone());
        Ok((
            EmergencyView {
                record_name: name,
                birth_date: text(&patient_json["birthDate"]),
                blocks,
                note: profile.note.clone(),
            },
            shown,
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::{new_code, normalize_code};

    #[test]
    fn codes_are_long_and_typing_is_forgiving() {
        let code = new_code();
        assert_eq!(code.len(), 19);
        let n = normalize_code(&code).unwrap();
        assert_eq!(n.len(), 16);
        assert_eq!(
            normalize_code(&code.to_lowercase().replace('-', " ")),
            Some(n.clone())
        );
        assert_eq!(
            normalize_code("0O1I-L000-0000-0000"),
            Some("0011100000000000".into())
        );
        assert_eq!(normalize_code("too-short"), None);
        assert_ne!(new_code(), new_code());
    }
}
