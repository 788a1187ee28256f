//! People signing in: sign-up with email verification, sign-in with password and optional TOTP,
//! browser sessions, password reset by emailed link, two-factor set-up with recovery codes, and
//! sign-out everywhere. Every step is audited against the account; failures are throttled per
//! typed email, per account and per client address; answers never tell whether an email is
//! registered.

use hearth_domain::account::normalize_email;
use hearth_domain::auth::{Credentials, EmailPurpose, EmailToken, Session};
use hearth_domain::{Account, AccountId, AuditAction, AuditEntry, AuditOutcome, Relationship};

use super::secrets::{decoy_hash, fingerprint, hash_password, new_token, password_problem, verify_password};
use super::throttle::Policy;
use super::{Mail, totp};
use crate::{Context, ServiceError, ServiceResult, Services};

/// The one answer for any failed sign-in, so failures reveal nothing about which part was wrong.
pub const SIGN_IN_FAILED: &str = "The email or password is not right.";

/// How many recovery codes a person gets.
pub const RECOVERY_CODES: usize = 10;

/// A signed-in browser: the cookie value (shown once) and what it stands for.
#[derive(Clone, Debug)]
pub struct NewSession {
    pub token: String,
    pub session: Session,
}

/// The state a session token stands for, checked on each request.
#[derive(Clone, Debug)]
pub struct SignedIn {
    pub account: Account,
    pub session: Session,
}

/// What sign-up, reset and verification requests tell the person: always the same.
pub const CHECK_EMAIL: &str =
    "If that address can be used, a message is on its way to it. Follow the link in it to continue.";

/// The TOTP set-up a person is shown: the seed and the URI to scan.
#[derive(Clone, Debug)]
pub struct TotpSetup {
    pub secret: String,
    pub uri: String,
}

impl Services {
    fn account_audit_entry(
        &self,
        account: Option<AccountId>,
        action: AuditAction,
        outcome: AuditOutcome,
    ) -> AuditEntry {
        AuditEntry {
            id: 0,
            at: self.now(),
            account,
            app: None,
            online: true,
            record: None,
            action,
            items: vec![],
            data_types: vec![],
            outcome,
        }
    }

    pub(crate) fn send_mail(&self, to: &str, subject: &str, body: String) {
        let mail = Mail {
            to: to.into(),
            subject: subject.into(),
            body,
        };
        if let Err(e) = self.auth.mailer.send(&mail, self.now()) {
            tracing::error!(to, subject, error = %e, "could not send mail");
        }
    }

    fn issue_email_link(&self, account: &Account, purpose: EmailPurpose) -> ServiceResult<()> {
        let token = new_token(match purpose {
            EmailPurpose::Verify => "hev",
            EmailPurpose::Reset => "hrp",
        });
        let s = &self.auth.settings;
        let (secs, path, subject, intro) = match purpose {
            EmailPurpose::Verify => (
                s.verify_link_secs,
                "/verify-email",
                "Confirm your email address for Hearth",
                "Welcome to Hearth. To confirm this is your address, open this link:",
            ),
            EmailPurpose::Reset => (
                s.reset_link_secs,
                "/reset-password",
                "Reset your Hearth password",
                "Someone (hopefully you) asked to reset the password of your Hearth account. To choose a new password, open this link:",
            ),
        };
        let now = self.now();
        self.store.put_email_token(&EmailToken {
            hash: fingerprint(&token),
            account: account.id,
            purpose,
            created_at: now,
            expires_at: now.plus_seconds(secs),
            used_at: None,
        })?;
        let link = s.url(&format!("{path}?token={token}"));
        let hours = secs / 3600;
        self.send_mail(
            &account.email,
            subject,
            format!("Hello {},\n\n{intro}\n\n{link}\n\nThe link works once, for {hours} hour(s). If you did not ask for this, you can ignore this message.\n", account.display_name),
        );
        Ok(())
    }

    /// Signs a person up: creates the account, its credentials and a record for themselves,
    /// and emails a verification link. If the email is taken, the owner is told by email and
    /// the caller sees the same answer as for a new address.
    pub fn sign_up(
        &self,
        email: &str,
        display_name: &str,
        password: &str,
        client: &str,
    ) -> ServiceResult<()> {
        let email = normalize_email(email).ok_or_else(|| {
            ServiceError::invalid("value", "email", "Enter an email address like name@example.org.")
        })?;
        let name = display_name.trim();
        if name.is_empty() || name.chars().count() > 200 {
            return Err(ServiceError::invalid(
                "required",
                "name",
                "Enter your name (up to 200 characters).",
            ));
        }
        if let Some(p) = password_problem(password, &[&email, name]) {
            return Err(ServiceError::invalid("value", "password", p));
        }
        self.auth.throttle.hit(&format!("mail:{email}"), Policy::MAIL)?;
        self.auth
            .throttle
            .hit(&format!("signup:{client}"), Policy::ADDRESS)?;
        // Hash first either way, so a taken address does not answer faster than a new one.
        let hash = hash_password(password);
        if let Some(existing) = self.store.account_by_email(&email)? {
            self.send_mail(
                &existing.email,
                "Someone tried to sign up to Hearth with your address",
                format!("Hello {},\n\nSomeone tried to create a Hearth account with this address, which already has one. If it was you, sign in at {} — or reset your password there if you have forgotten it.\n", existing.display_name, self.auth.settings.url("/sign-in")),
            );
            return Ok(());
        }
        let account = Account {
            id: AccountId::new(),
            email,
            display_name: name.into(),
            created_at: self.now(),
        };
        let audit = self.account_audit_entry(Some(account.id), AuditAction::SignUp, AuditOutcome::Success);
        match self.store.create_account(&account, &audit) {
            Ok(()) => {}
            // Lost a race with another sign-up for the same address: same answer.
            Err(hearth_store::StoreError::DuplicateEmail) => return Ok(()),
            Err(e) => return Err(e.into()),
        }
        self.store
            .put_credentials(&Credentials::new(account.id, hash, self.now()), None)?;
        self.create_record(
            &Context::person(account.id),
            account.id,
            name,
            Relationship::SelfRecord,
            None,
        )?;
        self.issue_email_link(&account, EmailPurpose::Verify)?;
        Ok(())
    }

    /// Confirms an email address from the emailed link.
    pub fn verify_email(&self, token: &str) -> ServiceResult<Account> {
        let t = self
            .store
            .take_email_token(&fingerprint(token), EmailPurpose::Verify, self.now())?
            .ok_or_else(|| {
                ServiceError::Unauthenticated(
                    "This link is not valid any more. Sign in to get a new one.".into(),
                )
            })?;
        let mut creds = self.credentials_of(t.account)?;
        if creds.email_verified_at.is_none() {
            creds.email_verified_at = Some(self.now());
            let audit =
                self.account_audit_entry(Some(t.account), AuditAction::EmailVerified, AuditOutcome::Success);
            self.store.put_credentials(&creds, Some(&audit))?;
        }
        self.account(t.account)
    }

    fn credentials_of(&self, account: AccountId) -> ServiceResult<Credentials> {
        self.store
            .credentials(account)?
            .ok_or_else(|| ServiceError::Unauthenticated(SIGN_IN_FAILED.into()))
    }

    fn throttled(&self, keys: &[&str]) -> ServiceResult<()> {
        for k in keys {
            self.auth.throttle.check(k)?;
        }
        Ok(())
    }

    /// Checks an email and password. On success a session starts; if the account has two-factor
    /// on, the session is pending until [`Services::complete_second_factor`].
    pub fn sign_in(
        &self,
        email: &str,
        password: &str,
        client: &str,
        user_agent: &str,
    ) -> ServiceResult<NewSession> {
        let typed = normalize_email(email).unwrap_or_else(|| email.trim().to_lowercase());
        let email_key = format!("pw:email:{typed}");
        let addr_key = format!("pw:addr:{client}");
        self.throttled(&[&email_key, &addr_key])?;
        let account = self.store.account_by_email(&typed)?;
        let creds = match &account {
            Some(a) => self.store.credentials(a.id)?,
            None => None,
        };
        let ok = match &creds {
            Some(c) => verify_password(password, &c.password_hash),
            None => {
                verify_password(password, decoy_hash());
                false
            }
        };
        if !ok {
            self.auth.throttle.fail(&email_key, Policy::SIGN_IN);
            self.auth.throttle.fail(&addr_key, Policy::ADDRESS);
            let e = self.account_audit_entry(
                account.as_ref().map(|a| a.id),
                AuditAction::SignInFailed,
                AuditOutcome::Failure("wrong password".into()),
            );
            if let Err(err) = self.store.append_audit(&e) {
                tracing::error!(error = %err, "could not audit a failed sign-in");
            }
            return Err(ServiceError::Unauthenticated(SIGN_IN_FAILED.into()));
        }
        let (account, creds) = (account.expect("verified"), creds.expect("verified"));
        self.auth.throttle.clear(&email_key);
        if creds.email_verified_at.is_none() {
            if self
                .auth
                .throttle
                .hit(&format!("mail:{}", account.email), Policy::MAIL)
                .is_ok()
            {
                self.issue_email_link(&account, EmailPurpose::Verify)?;
            }
            return Err(ServiceError::Forbidden(
                "Confirm your email address first: we have sent you a link.".into(),
            ));
        }
        let token = new_token("hss");
        let now = self.now();
        let session = Session {
            id_hash: fingerprint(&token),
            account: account.id,
            created_at: now,
            expires_at: now.plus_seconds(self.auth.settings.session_max_secs),
            last_seen_at: now,
            mfa_pending: creds.two_factor_on(),
            user_agent: user_agent.chars().take(200).collect(),
        };
        self.store.create_session(&session)?;
        if !session.mfa_pending {
            let e = self.account_audit_entry(Some(account.id), AuditAction::SignIn, AuditOutcome::Success);
            self.store.append_audit(&e)?;
        }
        Ok(NewSession { token, session })
    }

    /// The session a cookie stands for, if it is still alive; notes the request time.
    /// Pending (second factor owed) sessions are returned too: callers check `mfa_pending`.
    pub fn session(&self, token: &str) -> ServiceResult<Option<SignedIn>> {
        let hash = fingerprint(token);
        let Some(mut s) = self.store.session(&hash)? else {
            return Ok(None);
        };
        let now = self.now();
        let idle_end = s.last_seen_at.plus_seconds(self.auth.settings.session_idle_secs);
        if now >= s.expires_at || now >= idle_end {
            self.store.delete_session(&hash)?;
            return Ok(None);
        }
        let Some(account) = self.store.account(s.account)? else {
            self.store.delete_session(&hash)?;
            return Ok(None);
        };
        if now.0 - s.last_seen_at.0 > 60_000_000 {
            s.last_seen_at = now;
            self.store.update_session(&s)?;
        }
        Ok(Some(SignedIn { account, session: s }))
    }

    /// Finishes a pending sign-in with a TOTP code or a recovery code.
    pub fn complete_second_factor(&self, token: &str, code: &str, client: &str) -> ServiceResult<SignedIn> {
        let signed = self.session(token)?.ok_or_else(|| {
            ServiceError::Unauthenticated("Your sign-in has expired; sign in again.".into())
        })?;
        let account = signed.account.id;
        let key = format!("totp:{account}");
        self.throttled(&[&key, &format!("pw:addr:{client}")])?;
        let mut creds = self.credentials_of(account)?;
        if !creds.two_factor_on() {
            return Err(ServiceError::Conflict(
                "Two-factor sign-in is not on for this account.".into(),
            ));
        }
        let (ok, action) = self.check_second_factor(&mut creds, code);
        if !ok {
            self.auth.throttle.fail(&key, Policy::TOTP);
            let e = self.account_audit_entry(
                Some(account),
                AuditAction::SignInFailed,
                AuditOutcome::Failure("wrong second-factor code".into()),
            );
            if let Err(err) = self.store.append_audit(&e) {
                tracing::error!(error = %err, "could not audit a failed second factor");
            }
            return Err(ServiceError::Unauthenticated("That code is not right.".into()));
        }
        self.auth.throttle.clear(&key);
        let used = self.account_audit_entry(Some(account), action, AuditOutcome::Success);
        self.store.put_credentials(&creds, Some(&used))?;
        let mut s = signed.session;
        s.mfa_pending = false;
        self.store.update_session(&s)?;
        if action != AuditAction::SignIn {
            let e = self.account_audit_entry(Some(account), AuditAction::SignIn, AuditOutcome::Success);
            self.store.append_audit(&e)?;
        }
        Ok(SignedIn {
            account: signed.account,
            session: s,
        })
    }

    /// Checks a TOTP or recovery code, updating the replay step or spending the recovery code.
    fn check_second_factor(&self, creds: &mut Credentials, code: &str) -> (bool, AuditAction) {
        let unix = (self.now().0 / 1_000_000).max(0) as u64;
        if let Some(secret) = &creds.totp_secret
            && let Some(step) = totp::verify(secret, code, unix, creds.totp_last_step)
        {
            creds.totp_last_step = step;
            return (true, AuditAction::SignIn);
        }
        let normalized: String = code
            .trim()
            .to_lowercase()
            .chars()
            .filter(|c| c.is_ascii_alphanumeric())
            .collect();
        let fp = fingerprint(&normalized);
        if let Some(i) = creds
            .recovery_codes
            .iter()
            .position(|c| super::secrets::same_secret(c, &fp))
        {
            creds.recovery_codes.remove(i);
            return (true, AuditAction::RecoveryCodeUsed);
        }
        (false, AuditAction::SignInFailed)
    }

    pub fn sign_out(&self, token: &str) -> ServiceResult<()> {
        let hash = fingerprint(token);
        if let Some(s) = self.store.session(&hash)? {
            self.store.delete_session(&hash)?;
            let e = self.account_audit_entry(Some(s.account), AuditAction::SignOut, AuditOutcome::Success);
            self.store.append_audit(&e)?;
        }
        Ok(())
    }

    /// Ends every session of the account (every browser).
    pub fn sign_out_everywhere(&self, account: AccountId) -> ServiceResult<u64> {
        let n = self.store.delete_sessions_of(account)?;
        let e = self.account_audit_entry(Some(account), AuditAction::SignOut, AuditOutcome::Success);
        self.store.append_audit(&e)?;
        Ok(n)
    }

    /// Emails a reset link if the address has an account. The answer is the same either way.
    pub fn request_password_reset(&self, email: &str, client: &str) -> ServiceResult<()> {
        let typed = normalize_email(email).unwrap_or_else(|| email.trim().to_lowercase());
        self.auth
            .throttle
            .hit(&format!("reset:{client}"), Policy::ADDRESS)?;
        if self
            .auth
            .throttle
            .hit(&format!("mail:{typed}"), Policy::MAIL)
            .is_err()
        {
            // Quietly send nothing more: the answer stays the same.
            return Ok(());
        }
        if let Some(account) = self.store.account_by_email(&typed)? {
            self.issue_email_link(&account, EmailPurpose::Reset)?;
        }
        Ok(())
    }

    /// Sets a new password from an emailed reset link; every session of the account ends.
    pub fn reset_password(&self, token: &str, new_password: &str) -> ServiceResult<Account> {
        let hash = fingerprint(token);
        // Refuse a weak password before spending the link, so the person can try again with it.
        if let Some(p) = password_problem(new_password, &[]) {
            return Err(ServiceError::invalid("value", "password", p));
        }
        let t = self
            .store
            .take_email_token(&hash, EmailPurpose::Reset, self.now())?
            .ok_or_else(|| {
                ServiceError::Unauthenticated(
                    "This reset link is not valid any more; ask for a new one.".into(),
                )
            })?;
        let account = self.account(t.account)?;
        if let Some(p) = password_problem(new_password, &[&account.email, &account.display_name]) {
            // Give the person a fresh link in place of the spent one.
            self.issue_email_link(&account, EmailPurpose::Reset)?;
            return Err(ServiceError::invalid(
                "value",
                "password",
                format!("{p} We have emailed you a new link."),
            ));
        }
        let mut creds = self.credentials_of(account.id)?;
        creds.password_hash = hash_password(new_password);
        creds.password_changed_at = self.now();
        // The link proves the address too.
        creds.email_verified_at.get_or_insert(self.now());
        let e = self.account_audit_entry(
            Some(account.id),
            AuditAction::PasswordReset,
            AuditOutcome::Success,
        );
        self.store.put_credentials(&creds, Some(&e))?;
        self.store.delete_sessions_of(account.id)?;
        Ok(account)
    }

    /// Changes the password of a signed-in person; other sessions end.
    pub fn change_password(&self, signed: &SignedIn, current: &str, new_password: &str) -> ServiceResult<()> {
        let account = &signed.account;
        let mut creds = self.recheck_password(account, current)?;
        if let Some(p) = password_problem(new_password, &[&account.email, &account.display_name]) {
            return Err(ServiceError::invalid("value", "new_password", p));
        }
        creds.password_hash = hash_password(new_password);
        creds.password_changed_at = self.now();
        let e = self.account_audit_entry(
            Some(account.id),
            AuditAction::PasswordChanged,
            AuditOutcome::Success,
        );
        self.store.put_credentials(&creds, Some(&e))?;
        self.end_other_sessions(signed)
    }

    /// A signed-in person's password, asked again before a sensitive change (throttled like
    /// sign-in); the credentials when it is right.
    fn recheck_password(&self, account: &Account, password: &str) -> ServiceResult<Credentials> {
        let key = format!("pw:email:{}", account.email);
        self.throttled(&[&key])?;
        let creds = self.credentials_of(account.id)?;
        if !verify_password(password, &creds.password_hash) {
            self.auth.throttle.fail(&key, Policy::SIGN_IN);
            return Err(ServiceError::Unauthenticated(
                "The current password is not right.".into(),
            ));
        }
        Ok(creds)
    }

    fn end_other_sessions(&self, signed: &SignedIn) -> ServiceResult<()> {
        self.store.delete_sessions_of(signed.account.id)?;
        self.store.create_session(&signed.session)?;
        Ok(())
    }

    /// Starts two-factor set-up: a new seed to scan (not yet in force).
    pub fn begin_totp(&self, signed: &SignedIn) -> ServiceResult<TotpSetup> {
        let mut creds = self.credentials_of(signed.account.id)?;
        if creds.two_factor_on() {
            return Err(ServiceError::Conflict("Two-factor sign-in is already on.".into()));
        }
        let secret = totp::new_secret();
        creds.totp_secret = Some(secret.clone());
        creds.totp_enabled_at = None;
        self.store.put_credentials(&creds, None)?;
        let uri = totp::provisioning_uri(&secret, "Hearth", &signed.account.email);
        Ok(TotpSetup { secret, uri })
    }

    /// Turns two-factor on once the person typed a code from their authenticator; returns the
    /// recovery codes (shown once).
    pub fn enable_totp(&self, signed: &SignedIn, code: &str) -> ServiceResult<Vec<String>> {
        let account = signed.account.id;
        let key = format!("totp:{account}");
        self.throttled(&[&key])?;
        let mut creds = self.credentials_of(account)?;
        let Some(secret) = creds.totp_secret.clone().filter(|_| !creds.two_factor_on()) else {
            return Err(ServiceError::Conflict("Start two-factor set-up first.".into()));
        };
        let unix = (self.now().0 / 1_000_000).max(0) as u64;
        let Some(step) = totp::verify(&secret, code, unix, creds.totp_last_step) else {
            self.auth.throttle.fail(&key, Policy::TOTP);
            return Err(ServiceError::invalid(
                "value",
                "code",
                "That code is not right; check your authenticator's clock.",
            ));
        };
        self.auth.throttle.clear(&key);
        creds.totp_last_step = step;
        creds.totp_enabled_at = Some(self.now());
        let codes = new_recovery_codes();
        creds.recovery_codes = codes.iter().map(|c| fingerprint(&c.replace('-', ""))).collect();
        let e = self.account_audit_entry(
            Some(account),
            AuditAction::TwoFactorEnabled,
            AuditOutcome::Success,
        );
        self.store.put_credentials(&creds, Some(&e))?;
        Ok(codes)
    }

    /// Turns two-factor off after checking the password.
    pub fn disable_totp(&self, signed: &SignedIn, password: &str) -> ServiceResult<()> {
        let account = &signed.account;
        let mut creds = self.recheck_password(account, password)?;
        creds.totp_secret = None;
        creds.totp_enabled_at = None;
        creds.recovery_codes.clear();
        let e = self.account_audit_entry(
            Some(account.id),
            AuditAction::TwoFactorDisabled,
            AuditOutcome::Success,
        );
        self.store.put_credentials(&creds, Some(&e)).map_err(Into::into)
    }

    /// Whether two-factor is on, and how many recovery codes are left.
    pub fn two_factor_status(&self, account: AccountId) -> ServiceResult<(bool, usize)> {
        let c = self.credentials_of(account)?;
        Ok((c.two_factor_on(), c.recovery_codes.len()))
    }

    /// The account's own security log (sign-ins, changes, tokens), newest first.
    pub fn security_log(&self, account: AccountId, limit: u32) -> ServiceResult<Vec<AuditEntry>> {
        Ok(self.store.account_audit(account, limit)?)
    }

    /// Sets a password for an account created without one (operator tooling and tests).
    pub fn set_password_as_operator(
        &self,
        ctx: &Context,
        account: AccountId,
        password: &str,
        verified: bool,
    ) -> ServiceResult<()> {
        if !matches!(ctx.principal, crate::context::Principal::Operator) {
            return Err(ServiceError::Forbidden(
                "only the operator sets passwords directly".into(),
            ));
        }
        let acc = self.account(account)?;
        if let Some(p) = password_problem(password, &[&acc.email, &acc.display_name]) {
            return Err(ServiceError::invalid("value", "password", p));
        }
        let hash = hash_password(password);
        let mut creds = self
            .store
            .credentials(account)?
            .unwrap_or_else(|| Credentials::new(account, String::new(), self.now()));
        creds.password_hash = hash;
        creds.password_changed_at = self.now();
        if verified {
            creds.email_verified_at.get_or_insert(self.now());
        }
        let e = self.account_audit_entry(Some(account), AuditAction::PasswordChanged, AuditOutcome::Success);
        Ok(self.store.put_credentials(&creds, Some(&e))?)
    }
}

/// Ten codes like `k7qm-2xfa-9rtd` (60 bits each).
fn new_recovery_codes() -> Vec<String> {
    use rand::Rng;
    const ALPHABET: &[u8] = b"abcdefghjkmnpqrstuvwxyz23456789";
    let mut rng = rand::rng();
    (0..RECOVERY_CODES)
        .map(|_| {
            let s: String = (0..12)
                .map(|_| ALPHABET[rng.random_range(0..ALPHABET.len())] as char)
                .collect();
            format!("{}-{}-{}", &s[0..4], &s[4..8], &s[8..12])
        })
        .collect()
}
