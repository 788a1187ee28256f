//! `hearth serve`: opens the configured store (creating the data directory and applying
//! migrations), starts the bulk export worker and the sweep of expired shared access, then
//! serves HTTP until Ctrl-C or SIGTERM.

use std::sync::Arc;

use anyhow::Context;
use hearth_core::bulk::BulkWorker;
use hearth_http::{AppState, serve};

use crate::config::Config;
use crate::open::open_serving_services;

pub fn run(config: Config) -> anyhow::Result<()> {
    let services = Arc::new(open_serving_services(&config)?);
    // Runs queued exports (and those a crashed server left running) until the server stops.
    let worker = BulkWorker::start((*services).clone()).context("cannot start the bulk export worker")?;
    // Ends shared access whose time is up (it already stopped on the dot) and tells people.
    let sweeper = (*services).clone();
    std::thread::Builder::new()
        .name("access-expiry".into())
        .spawn(move || {
            loop {
                if let Err(e) = sweeper.sweep_expired_access() {
                    tracing::warn!(error = %e, "the expired-access sweep failed");
                }
                std::thread::sleep(std::time::Duration::from_secs(5));
            }
        })
        .context("cannot start the access expiry sweep")?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the runtime")?;
    // The services outlive the runtime: a PostgreSQL pool must not be dropped on a runtime thread.
    let result = runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind(config.listen)
            .await
            .with_context(|| format!("cannot listen on {}", config.listen))?;
        tracing::info!(
            address = %listener.local_addr()?,
            database = services.store().backend_name(),
            data_dir = %config.data_dir.display(),
            "hearth is serving"
        );
        println!("hearth listening on http://{}", listener.local_addr()?);
        serve(
            listener,
            AppState {
                services: services.clone(),
            },
            shutdown_signal(),
        )
        .await
        .context("server failed")
    });
    drop(runtime);
    worker.stop();
    drop(services);
    result
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
    tracing::info!("shutting down");
}
