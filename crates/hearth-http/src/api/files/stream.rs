//! Bodies streamed between axum and the blocking blob store: a request body read as a
//! `std::io::Read` on a blocking thread (tokio-util's `StreamReader` + `SyncIoBridge`), and a
//! response body fed from a `Read` by a blocking thread through a small bounded channel, so a
//! slow client holds back the reader instead of the server buffering the file. A Binary's FHIR
//! JSON streams the same way, its `data` base64-encoded chunk by chunk.

use std::io::{self, Read};

use axum::body::{Body, Bytes};
use base64::Engine;
use futures_util::{StreamExt, TryStreamExt};
use hearth_core::{ServiceError, ServiceResult};
use tokio_util::io::{StreamReader, SyncIoBridge};

use crate::api::error::blocking;

/// Bytes per chunk sent to the client (a multiple of 3, so base64 chunks join without padding).
const CHUNK: usize = 48 * 1024;
/// Chunks in flight between the reading thread and the connection.
const IN_FLIGHT: usize = 4;

/// After refusing an upload as too large, at most this much more of the body is read (and
/// dropped) so the client, still sending, can read the answer; past it the connection closes.
const DRAIN_AFTER_REFUSAL: u64 = 16 << 20;

/// Runs `f` on a blocking thread with the request body as a `Read`.
pub async fn with_body_reader<T: Send + 'static>(
    body: Body,
    f: impl FnOnce(&mut dyn Read) -> ServiceResult<T> + Send + 'static,
) -> ServiceResult<T> {
    let stream = body.into_data_stream().map_err(io::Error::other);
    let mut reader = SyncIoBridge::new(StreamReader::new(stream));
    blocking(move || {
        let r = f(&mut reader);
        if matches!(r, Err(ServiceError::TooLarge(_))) {
            let _ = io::copy(&mut (&mut reader).take(DRAIN_AFTER_REFUSAL), &mut io::sink());
        }
        r
    })
    .await
}

/// Collects a request body held in memory on purpose (a Binary as FHIR JSON), refusing it
/// once it passes `limit` bytes.
pub async fn collect_limited(body: Body, limit: u64, too_large: ServiceError) -> ServiceResult<Vec<u8>> {
    let mut stream = body.into_data_stream();
    let mut out = Vec::new();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| {
            ServiceError::invalid(
                "incomplete",
                "",
                format!("the request body could not be read: {e}"),
            )
        })?;
        if (out.len() + chunk.len()) as u64 > limit {
            return Err(too_large);
        }
        out.extend_from_slice(&chunk);
    }
    Ok(out)
}

/// Fills `buf` as far as `r` allows; the count is short only at the end.
fn read_full(r: &mut dyn Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match r.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

/// A response body produced on a blocking thread by `next`, one chunk per call until `None`.
fn produced(mut next: impl FnMut() -> io::Result<Option<Bytes>> + Send + 'static) -> Body {
    let (tx, rx) = tokio::sync::mpsc::channel::<io::Result<Bytes>>(IN_FLIGHT);
    tokio::task::spawn_blocking(move || {
        loop {
            let item = next();
            let done = !matches!(item, Ok(Some(_)));
            let sent = match item {
                Ok(Some(b)) => tx.blocking_send(Ok(b)),
                Ok(None) => Ok(()),
                Err(e) => {
                    tracing::error!(error = %e, "a file could not be read while streaming it");
                    tx.blocking_send(Err(e))
                }
            };
            // A closed channel means the client went away: stop reading.
            if done || sent.is_err() {
                break;
            }
        }
    });
    Body::from_stream(futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|item| (item, rx))
    }))
}

/// The bytes of `reader`, streamed.
pub fn raw_body(mut reader: Box<dyn Read + Send>) -> Body {
    let mut buf = vec![0u8; CHUNK];
    produced(move || {
        let n = read_full(&mut *reader, &mut buf)?;
        Ok((n > 0).then(|| Bytes::copy_from_slice(&buf[..n])))
    })
}

/// The length of `n` bytes in padded base64.
pub fn base64_len(n: u64) -> u64 {
    n.div_ceil(3) * 4
}

/// `prefix`, then the bytes of `reader` in base64, then `suffix`, streamed.
pub fn base64_body(prefix: Vec<u8>, mut reader: Box<dyn Read + Send>, suffix: Vec<u8>) -> Body {
    let mut buf = vec![0u8; CHUNK];
    let mut prefix = Some(Bytes::from(prefix));
    let mut suffix = Some(Bytes::from(suffix));
    produced(move || {
        if let Some(p) = prefix.take() {
            return Ok(Some(p));
        }
        let n = read_full(&mut *reader, &mut buf)?;
        if n > 0 {
            let text = base64::engine::general_purpose::STANDARD.encode(&buf[..n]);
            return Ok(Some(Bytes::from(text)));
        }
        Ok(suffix.take())
    })
}
