//! The emails sharing and emergency access send (through the configured mailer: an SMTP relay,
//! or the outbox directory): invitations; access granted, changed, expired or removed; answers
//! to invitations; emergency access used. A failure to send is logged, never fatal: the change
//! it reports has already happened.

use hearth_domain::sharing::Invitation;
use hearth_domain::{Access, AccessLevel, AccountId, RecordId, Timestamp};

use super::{level_label, types_label};
use crate::{ServiceResult, Services};

const MONTHS: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];

/// "24 November 2026, 14:05 UTC".
pub fn when(t: Timestamp) -> String {
    let d = t.to_datetime();
    format!(
        "{} {} {}, {:02}:{:02} UTC",
        d.day(),
        MONTHS[usize::from(u8::from(d.month())) - 1],
        d.year(),
        d.hour(),
        d.minute()
    )
}

/// "until 24 November 2026, 14:05 UTC" or "with no time limit".
fn until(expires: Option<Timestamp>) -> String {
    expires.map_or_else(|| "with no time limit".into(), |t| format!("until {}", when(t)))
}

fn access_words(level: AccessLevel, types: Option<&[String]>, expires: Option<Timestamp>) -> String {
    format!(
        "Access: {}\nWhat is shared: {}\nFor how long: {}",
        level_label(level),
        types_label(types),
        until(expires)
    )
}

impl Services {
    fn record_name(&self, record: RecordId) -> String {
        self.store
            .record(record)
            .ok()
            .flatten()
            .map_or_else(|| "a health record".into(), |r| r.display_name)
    }

    fn email_of(&self, account: AccountId) -> Option<(String, String)> {
        self.store
            .account(account)
            .ok()
            .flatten()
            .map(|a| (a.email, a.display_name))
    }

    /// Emails to every custodian of the record.
    pub(crate) fn mail_custodians(&self, record: RecordId, subject: &str, body: &str) {
        let Ok(accesses) = self.store.accesses(record) else {
            return;
        };
        for a in accesses.iter().filter(|a| a.is_custodian()) {
            if let Some((email, _)) = self.email_of(a.account_id) {
                self.send_mail(&email, subject, body.to_string());
            }
        }
    }

    pub(crate) fn mail_invitation(&self, inv: &Invitation, token: &str) -> ServiceResult<()> {
        let inviter = self
            .email_of(inv.invited_by)
            .map_or_else(|| "Someone".into(), |(_, n)| n);
        let record = self.record_name(inv.record);
        let link = self.auth.settings.url(&format!("/invitations/{token}"));
        let mut body = if inv.hand_over {
            format!(
                "{inviter} is handing over the health record \"{record}\" on Hearth to you: you will be its custodian, and {inviter}'s access will end.\n\n"
            )
        } else {
            format!("{inviter} invited you to share the health record \"{record}\" on Hearth.\n\n")
        };
        body.push_str(&access_words(
            inv.level,
            inv.data_types.as_deref(),
            inv.access_expires_at,
        ));
        if let Some(note) = &inv.note {
            body.push_str(&format!("\n\nNote from {inviter}:\n{note}"));
        }
        body.push_str(&format!(
            "\n\nTo accept or decline, open this link (it works until {}; you will sign in, or create an account with this email address):\n{link}\n",
            when(inv.expires_at)
        ));
        if inv.pin_hash.is_some() {
            body.push_str(&format!(
                "\nThis invitation is protected by a PIN. {inviter} will give it to you separately.\n"
            ));
        }
        self.send_mail(
            &inv.email,
            &format!("{inviter} shared a health record with you on Hearth"),
            body,
        );
        Ok(())
    }

    pub(crate) fn notify_accepted(&self, inv: &Invitation, access: &Access) {
        let record = self.record_name(inv.record);
        if let Some((email, _)) = self.email_of(access.account_id) {
            let body = format!(
                "You now have access to the health record \"{record}\" on Hearth.\n\n{}\n",
                access_words(access.level, access.data_types.as_deref(), access.expires_at)
            );
            self.send_mail(&email, &format!("Access granted: {record}"), body);
        }
        if let Some((email, _)) = self.email_of(inv.invited_by) {
            let body = format!(
                "{} ({}) accepted your invitation to the health record \"{record}\".\n",
                inv.name, inv.email
            );
            self.send_mail(&email, &format!("{} accepted your invitation", inv.name), body);
        }
    }

    pub(crate) fn notify_declined(&self, inv: &Invitation) {
        if let Some((email, _)) = self.email_of(inv.invited_by) {
            let record = self.record_name(inv.record);
            let body = format!(
                "{} ({}) declined your invitation to the health record \"{record}\".\n",
                inv.name, inv.email
            );
            self.send_mail(&email, &format!("{} declined your invitation", inv.name), body);
        }
    }

    pub(crate) fn notify_locked(&self, inv: &Invitation) {
        if let Some((email, _)) = self.email_of(inv.invited_by) {
            let record = self.record_name(inv.record);
            let body = format!(
                "Your invitation to {} for the health record \"{record}\" was locked after too many wrong PINs. If {} still needs access, send a new invitation.\n",
                inv.email, inv.name
            );
            self.send_mail(&email, "An invitation was locked", body);
        }
    }

    pub(crate) fn notify_changed(&self, record: RecordId, access: &Access) {
        if let Some((email, _)) = self.email_of(access.account_id) {
            let name = self.record_name(record);
            let body = format!(
                "Your access to the health record \"{name}\" on Hearth was changed.\n\n{}\n",
                access_words(access.level, access.data_types.as_deref(), access.expires_at)
            );
            self.send_mail(&email, &format!("Access changed: {name}"), body);
        }
    }

    pub(crate) fn notify_removed(&self, record: RecordId, account: AccountId) {
        if let Some((email, _)) = self.email_of(account) {
            let name = self.record_name(record);
            let body = format!(
                "Your access to the health record \"{name}\" on Hearth was removed by a custodian.\n"
            );
            self.send_mail(&email, &format!("Access removed: {name}"), body);
        }
    }

    pub(crate) fn notify_expired(&self, access: &Access) {
        let name = self.record_name(access.record_id);
        let at = access
            .expires_at
            .map_or_else(String::new, |t| format!(" on {}", when(t)));
        let who = self.email_of(access.account_id);
        if let Some((email, _)) = &who {
            let body = format!(
                "Your access to the health record \"{name}\" on Hearth ended{at}, as it was set to.\n"
            );
            self.send_mail(email, &format!("Access expired: {name}"), body);
        }
        let person = who.map_or_else(|| "Someone".into(), |(e, n)| format!("{n} ({e})"));
        self.mail_custodians(
            access.record_id,
            &format!("Access expired: {name}"),
            &format!("{person}'s access to the health record \"{name}\" ended{at}, as it was set to.\n"),
        );
    }
}
