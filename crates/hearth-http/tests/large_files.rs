//! A 200 MB file through the FHIR API, generated on the fly: uploaded raw, downloaded raw, as a
//! range deep inside, and as FHIR JSON (base64), while the test process's peak memory (VmHWM in
//! /proc/self/status: server and client share the process) must not grow with the file. Its
//! own test binary, so no other test shares the process while it measures.

#![allow(clippy::unwrap_used)]

#[path = "files/server.rs"]
#[allow(dead_code)] // the other file tests use the rest
mod server;

use reqwest::StatusCode;
use sha2::{Digest, Sha256};

use server::{Fixture, raw_request};

const SIZE: u64 = 200 * 1000 * 1000;
const CHUNK: usize = 64 * 1024;
/// Allowed growth of the peak while 200 MB pass through (a bug that buffers the file would
/// add at least the file's size).
const MARGIN_KB: u64 = 64 * 1024;

/// Byte `i` of the generated file.
fn byte(i: u64) -> u8 {
    (i.wrapping_mul(2_654_435_761) >> 13) as u8
}

fn fill(buf: &mut [u8], from: u64) {
    for (k, b) in buf.iter_mut().enumerate() {
        *b = byte(from + k as u64);
    }
}

/// (VmRSS, VmHWM) in kB.
fn memory() -> (u64, u64) {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let field = |name: &str| -> u64 {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse().ok())
            .unwrap()
    };
    (field("VmRSS:"), field("VmHWM:"))
}

#[test]
fn a_200_mb_file_streams_through_in_bounded_memory() {
    for fx in Fixture::all(1 << 30) {
        fx.run(|env| async move {
            let token = env.tokens.all.clone();
            let auth = format!("Bearer {token}");
            let headers = [
                ("Authorization", auth.as_str()),
                ("Content-Type", "application/octet-stream"),
            ];
            let (rss0, hwm0) = memory();

            let mut sent = 0u64;
            let mut hasher = Sha256::new();
            let mut buf = vec![0u8; CHUNK];
            let started = std::time::Instant::now();
            let (status, head, _) = raw_request(env.addr, "POST /fhir/Binary", &headers, Some(SIZE), || {
                if sent == SIZE {
                    return None;
                }
                let n = CHUNK.min((SIZE - sent) as usize);
                fill(&mut buf[..n], sent);
                hasher.update(&buf[..n]);
                sent += n as u64;
                Some(buf[..n].to_vec())
            })
            .await;
            assert_eq!(status, 201, "{head}");
            let upload_secs = started.elapsed().as_secs_f64();
            let sha = hex::encode(hasher.finalize());
            let location = head
                .lines()
                .find_map(|l| {
                    l.strip_prefix("location: ")
                        .or_else(|| l.strip_prefix("Location: "))
                })
                .unwrap()
                .to_string();
            let id = location.rsplit('/').nth(2).unwrap().to_string();
            let (rss1, hwm1) = memory();

            // Raw download, hashed as it arrives.
            let started = std::time::Instant::now();
            let path = env.url(&format!("/fhir/Binary/{id}"));
            let mut r = env.http.get(&path).bearer_auth(&token).send().await.unwrap();
            assert_eq!(r.status(), StatusCode::OK);
            assert_eq!(r.headers()["content-length"], SIZE.to_string().as_str());
            let mut got = 0u64;
            let mut hasher = Sha256::new();
            while let Some(chunk) = r.chunk().await.unwrap() {
                got += chunk.len() as u64;
                hasher.update(&chunk);
            }
            assert_eq!(got, SIZE);
            assert_eq!(hex::encode(hasher.finalize()), sha, "{}: byte-exact", env.backend);
            let download_secs = started.elapsed().as_secs_f64();

            // A range deep inside reads from there, not from the start.
            let from = 150_000_000u64;
            let r = env
                .http
                .get(&path)
                .bearer_auth(&token)
                .header("range", format!("bytes={from}-{}", from + 999))
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), StatusCode::PARTIAL_CONTENT);
            let mut want = vec![0u8; 1000];
            fill(&mut want, from);
            assert_eq!(r.bytes().await.unwrap().to_vec(), want);

            // The FHIR JSON form streams its base64 the same way.
            let mut r = env
                .http
                .get(&path)
                .bearer_auth(&token)
                .header("accept", "application/fhir+json")
                .send()
                .await
                .unwrap();
            let length: u64 = r.headers()["content-length"].to_str().unwrap().parse().unwrap();
            assert!(length > SIZE / 3 * 4);
            let mut got = 0u64;
            while let Some(chunk) = r.chunk().await.unwrap() {
                got += chunk.len() as u64;
            }
            assert_eq!(got, length);
            let (rss2, hwm2) = memory();
            eprintln!(
                "{}: 200 MB up in {upload_secs:.1} s, down in {download_secs:.1} s; \
                 VmRSS {rss0} -> {rss1} -> {rss2} kB, VmHWM {hwm0} -> {hwm1} -> {hwm2} kB",
                env.backend
            );
            assert!(hwm2 < hwm0 + MARGIN_KB, "peak grew from {hwm0} to {hwm2} kB");
        });
    }
}
