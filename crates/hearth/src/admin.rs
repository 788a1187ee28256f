//! `hearth admin`: the operator's commands for accounts, records, apps and tokens.

use anyhow::Context as _;
use clap::Subcommand;
use std::path::PathBuf;

use hearth_core::Context;
use hearth_core::auth::apps::{AppRegistration, app_view};
use hearth_domain::{AppId, RecordId, Relationship};

use crate::config::Config;
use crate::open::open_services;

#[derive(Subcommand, Debug)]
pub enum AdminCommand {
    /// Create an account; prints its id.
    CreateAccount {
        #[arg(long)]
        email: String,
        #[arg(long)]
        name: String,
    },
    /// Create a record owned (as custodian) by an account; prints the record id.
    CreateRecord {
        #[arg(long)]
        owner: String,
        #[arg(long)]
        name: String,
        /// The owner's relationship to the person the record is about.
        #[arg(long, default_value = "self")]
        relationship: String,
    },
    /// List records, one per line: id, name, then each person with access.
    ListRecords {
        #[arg(long)]
        owner: Option<String>,
    },
    /// Set an account's password, read from standard input (one line).
    SetPassword {
        #[arg(long)]
        email: String,
        /// Also mark the email address as confirmed.
        #[arg(long)]
        verified: bool,
    },
    /// Register an app from a JSON registration (a file, or - for standard input); prints the
    /// app as JSON, with its client secret when it has one (shown only now).
    RegisterApp {
        #[arg(long)]
        file: PathBuf,
    },
    /// Replace an app's registration (same JSON as register-app).
    UpdateApp {
        #[arg(long)]
        client_id: String,
        #[arg(long)]
        file: PathBuf,
    },
    /// List registered apps as JSON lines.
    ListApps,
    /// Print a bearer access token confined to one record (`patient/` scopes) or reaching every
    /// record of an account (`user/` scopes). Audited and revocable.
    IssueToken {
        #[arg(long, conflicts_with = "account", required_unless_present = "account")]
        record: Option<String>,
        /// The account's email.
        #[arg(long)]
        account: Option<String>,
        #[arg(long)]
        scope: String,
        /// Lifetime in seconds.
        #[arg(long, default_value_t = 24 * 60 * 60)]
        ttl: i64,
    },
    /// Revoke a token (and every token of its family); the token is read from standard input.
    RevokeToken,
    /// Print a key for the admin API (`Authorization: Bearer …`).
    IssueAdminKey {
        /// Lifetime in seconds.
        #[arg(long, default_value_t = 30 * 24 * 60 * 60)]
        ttl: i64,
    },
}

fn read_input(path: &PathBuf) -> anyhow::Result<String> {
    if path.as_os_str() == "-" {
        let mut s = String::new();
        std::io::Read::read_to_string(&mut std::io::stdin(), &mut s)?;
        Ok(s)
    } else {
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))
    }
}

fn stdin_line() -> anyhow::Result<String> {
    let mut s = String::new();
    std::io::stdin().read_line(&mut s)?;
    Ok(s.trim_end_matches(['\r', '\n']).to_string())
}

pub fn run(config: &Config, cmd: AdminCommand) -> anyhow::Result<()> {
    let svc = open_services(config)?;
    let op = Context::operator();
    match cmd {
        AdminCommand::CreateAccount { email, name } => {
            let a = svc.create_account(&op, &email, &name)?;
            out(&a.id.to_string())?;
        }
        AdminCommand::CreateRecord {
            owner,
            name,
            relationship,
        } => {
            let relationship: Relationship = relationship.parse().map_err(anyhow::Error::msg)?;
            let account = svc.require_account(&owner)?;
            let r = svc.create_record(&op, account.id, &name, relationship, None)?;
            out(&r.id.to_string())?;
        }
        AdminCommand::ListRecords { owner } => {
            let owner_id = match owner {
                Some(e) => Some(svc.require_account(&e).context("cannot list records")?.id),
                None => None,
            };
            for (record, accesses) in svc.list_records(owner_id)? {
                let people: Vec<String> = accesses
                    .iter()
                    .map(|a| {
                        let email = svc
                            .store()
                            .account(a.account_id)
                            .ok()
                            .flatten()
                            .map(|x| x.email)
                            .unwrap_or_default();
                        format!("{email}:{}:{}", a.relationship, a.level)
                    })
                    .collect();
                out(&format!(
                    "{}\t{}\t{}",
                    record.id,
                    record.display_name,
                    people.join(",")
                ))?;
            }
        }
        AdminCommand::SetPassword { email, verified } => {
            let account = svc.require_account(&email)?;
            let password = stdin_line()?;
            svc.set_password_as_operator(&op, account.id, &password, verified)?;
        }
        AdminCommand::RegisterApp { file } => {
            let reg: AppRegistration = serde_json::from_str(&read_input(&file)?)
                .context("the app registration is not valid JSON of the expected shape")?;
            let r = svc.register_app(&op, reg)?;
            out(&app_view(&r.app, r.client_secret.as_deref()).to_string())?;
        }
        AdminCommand::UpdateApp { client_id, file } => {
            let reg: AppRegistration = serde_json::from_str(&read_input(&file)?)
                .context("the app registration is not valid JSON of the expected shape")?;
            let app = svc.update_app(&op, &AppId(client_id), reg)?;
            out(&app_view(&app, None).to_string())?;
        }
        AdminCommand::ListApps => {
            for app in svc.list_apps()? {
                out(&app_view(&app, None).to_string())?;
            }
        }
        AdminCommand::IssueToken {
            record,
            account,
            scope,
            ttl,
        } => {
            let record = record
                .map(|r| {
                    r.parse::<RecordId>()
                        .map_err(|_| anyhow::anyhow!("{r:?} is not a record id"))
                })
                .transpose()?;
            let account = account
                .map(|e| svc.require_account(&e).map(|a| a.id))
                .transpose()?;
            let (token, _) = svc.issue_operator_token(&op, record, account, &scope, ttl)?;
            out(&token)?;
        }
        AdminCommand::RevokeToken => {
            let token = stdin_line()?;
            if !svc.revoke_as_operator(&op, &token)? {
                anyhow::bail!("no live token matches");
            }
        }
        AdminCommand::IssueAdminKey { ttl } => {
            out(&svc.issue_admin_key(&op, ttl)?)?;
        }
    }
    Ok(())
}

/// Prints a result line; a closed pipe (`| head`) ends the output quietly.
fn out(line: &str) -> anyhow::Result<()> {
    use std::io::Write;
    match writeln!(std::io::stdout().lock(), "{line}") {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => std::process::exit(0),
        r => Ok(r?),
    }
}
