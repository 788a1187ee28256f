//! `hearth admin`: the operator's account and record commands.

use anyhow::Context as _;
use clap::Subcommand;
use hearth_core::Context;
use hearth_domain::Relationship;

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
                        format!(
                            "{email}:{}{}",
                            a.relationship,
                            if a.custodian { ":custodian" } else { "" }
                        )
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
