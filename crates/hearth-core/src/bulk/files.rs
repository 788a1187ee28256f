//! The NDJSON files a job writes (Bulk Data Access IG STU2, "Bulk Data Output File Request"):
//! one open temporary file per resource type (and one for errors), a line per resource, split
//! when a file would pass the line or byte limit. A finished file is streamed into the blob store
//! and listed on the job at once, so the sweep never deletes a blob a job is about to list; a
//! blob found missing after listing (dropped by a sweep just before) is stored again. Nothing is
//! held in memory beyond one resource and the write buffers.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufReader, BufWriter, Seek, SeekFrom, Write};

use hearth_domain::bulk::ExportOutput;
use hearth_domain::{JobId, RecordId};

use super::BulkSettings;
use crate::{ServiceError, ServiceResult, Services};

/// One file being written.
struct Part {
    file: BufWriter<File>,
    lines: u64,
    bytes: u64,
    records: Vec<RecordId>,
}

/// Whether the job is still this runner's: `Lost` means it was cancelled or taken over.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Held {
    Yes,
    Lost,
}

/// The files of one run of a job.
pub(crate) struct Files<'a> {
    svc: &'a Services,
    settings: &'a BulkSettings,
    job: JobId,
    runner: &'a str,
    /// Keyed by (is an error file, resource type).
    open: BTreeMap<(bool, String), Part>,
    next_n: u32,
}

fn io_err(e: std::io::Error) -> ServiceError {
    ServiceError::Internal(format!("writing an export file: {e}"))
}

impl<'a> Files<'a> {
    pub(crate) fn new(svc: &'a Services, job: JobId, runner: &'a str) -> Self {
        Files {
            svc,
            settings: &svc.bulk.settings,
            job,
            runner,
            open: BTreeMap::new(),
            next_n: 1,
        }
    }

    fn new_part(&self) -> ServiceResult<Part> {
        let file = match &self.settings.temp_dir {
            Some(dir) => {
                std::fs::create_dir_all(dir).map_err(io_err)?;
                tempfile::tempfile_in(dir)
            }
            None => tempfile::tempfile(),
        }
        .map_err(io_err)?;
        Ok(Part {
            file: BufWriter::with_capacity(64 * 1024, file),
            lines: 0,
            bytes: 0,
            records: vec![],
        })
    }

    /// Appends one line (without its newline) to the file of `resource_type`.
    pub(crate) fn write(
        &mut self,
        error: bool,
        resource_type: &str,
        record: RecordId,
        line: &[u8],
    ) -> ServiceResult<Held> {
        let key = (error, resource_type.to_string());
        let len = line.len() as u64 + 1;
        let full = self.open.get(&key).is_some_and(|p| {
            p.lines > 0
                && (p.lines + 1 > self.settings.max_file_lines
                    || p.bytes + len > self.settings.max_file_bytes)
        });
        if full && self.seal(&key)? == Held::Lost {
            return Ok(Held::Lost);
        }
        if !self.open.contains_key(&key) {
            let part = self.new_part()?;
            self.open.insert(key.clone(), part);
        }
        let part = self
            .open
            .get_mut(&key)
            .ok_or_else(|| ServiceError::Internal("an export file vanished".into()))?;
        part.file.write_all(line).map_err(io_err)?;
        part.file.write_all(b"\n").map_err(io_err)?;
        part.lines += 1;
        part.bytes += len;
        if part.records.last() != Some(&record) && !part.records.contains(&record) {
            part.records.push(record);
        }
        Ok(Held::Yes)
    }

    /// Stores every open file, outputs by type first, then errors.
    pub(crate) fn finish(mut self) -> ServiceResult<Held> {
        let keys: Vec<(bool, String)> = self.open.keys().cloned().collect();
        for key in keys {
            if self.seal(&key)? == Held::Lost {
                return Ok(Held::Lost);
            }
        }
        Ok(Held::Yes)
    }

    /// Streams a file into the blob store and lists it on the job.
    fn seal(&mut self, key: &(bool, String)) -> ServiceResult<Held> {
        let Some(part) = self.open.remove(key) else {
            return Ok(Held::Yes);
        };
        let mut file = part.file.into_inner().map_err(|e| io_err(e.into_error()))?;
        file.seek(SeekFrom::Start(0)).map_err(io_err)?;
        let info = self.svc.export_blobs().put(&mut BufReader::new(&mut file))?;
        let output = ExportOutput {
            n: self.next_n,
            error: key.0,
            resource_type: key.1.clone(),
            blob: info.sha256.clone(),
            count: part.lines,
            size: info.size,
            records: part.records,
        };
        self.next_n += 1;
        if !self.svc.store.add_export_output(self.job, self.runner, &output)? {
            self.svc.release_export_blobs(std::slice::from_ref(&info.sha256));
            return Ok(Held::Lost);
        }
        if self.svc.export_blobs().size(&info.sha256)?.is_none() {
            file.seek(SeekFrom::Start(0)).map_err(io_err)?;
            self.svc.export_blobs().put(&mut BufReader::new(&mut file))?;
        }
        Ok(Held::Yes)
    }
}
