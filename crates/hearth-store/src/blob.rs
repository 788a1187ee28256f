//! Blob storage: content kept outside the database, addressed by the sha256 of its bytes.
//!
//! [`BlobStore`] is the seam an S3 backend plugs into. [`LocalBlobStore`] keeps blobs in a
//! directory as `ab/cd/abcd…` (the hex sha256), written atomically: streamed into a temporary
//! file in the same directory while hashing, fsynced, then renamed into place, and the directory
//! fsynced. Nothing is ever held whole in memory. [`BlobStore::open_range`] reads part of a blob
//! (HTTP `Range` requests): the local store seeks; the trait's default skips, for backends that
//! cannot seek.

use std::fs::{self, File};
use std::io::{self, BufReader, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::{StoreError, StoreResult};

/// What a stored blob is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BlobInfo {
    /// Lower-case hex sha256.
    pub sha256: String,
    pub size: u64,
}

pub trait BlobStore: Send + Sync {
    /// Streams `content` in, returning its address. Storing the same bytes twice is a no-op.
    fn put(&self, content: &mut dyn Read) -> StoreResult<BlobInfo>;
    /// Streams a blob out; `None` if there is no blob with this address.
    fn open(&self, sha256: &str) -> StoreResult<Option<Box<dyn Read + Send>>>;
    /// Streams at most `len` bytes of a blob starting at byte `start` (fewer when the blob ends
    /// first, none when `start` is past its end); `None` if there is no blob with this address.
    /// The default reads and discards the first `start` bytes; backends that can seek override it.
    fn open_range(&self, sha256: &str, start: u64, len: u64) -> StoreResult<Option<Box<dyn Read + Send>>> {
        let Some(mut r) = self.open(sha256)? else {
            return Ok(None);
        };
        io::copy(&mut (&mut r).take(start), &mut io::sink())?;
        Ok(Some(Box::new(r.take(len))))
    }
    fn size(&self, sha256: &str) -> StoreResult<Option<u64>>;
    fn delete(&self, sha256: &str) -> StoreResult<()>;
}

/// Blobs in a local directory.
#[derive(Clone, Debug)]
pub struct LocalBlobStore {
    root: PathBuf,
}

impl LocalBlobStore {
    pub fn open_dir(root: impl Into<PathBuf>) -> StoreResult<Self> {
        let root = root.into();
        fs::create_dir_all(root.join("tmp"))?;
        Ok(LocalBlobStore { root })
    }

    fn path_of(&self, sha256: &str) -> StoreResult<PathBuf> {
        let valid = sha256.len() == 64
            && sha256
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
        if !valid {
            return Err(StoreError::Corrupt(format!("not a sha256 address: {sha256:?}")));
        }
        Ok(self.root.join(&sha256[0..2]).join(&sha256[2..4]).join(sha256))
    }
}

fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

impl BlobStore for LocalBlobStore {
    fn put(&self, content: &mut dyn Read) -> StoreResult<BlobInfo> {
        let mut tmp = tempfile::NamedTempFile::new_in(self.root.join("tmp"))?;
        let mut hasher = Sha256::new();
        let mut size = 0u64;
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            let n = match content.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e.into()),
            };
            hasher.update(&buf[..n]);
            tmp.write_all(&buf[..n])?;
            size += n as u64;
        }
        tmp.as_file().sync_all()?;
        let sha256 = hex::encode(hasher.finalize());
        let dest = self.path_of(&sha256)?;
        if !dest.exists() {
            let dir = dest.parent().unwrap_or(&self.root);
            fs::create_dir_all(dir)?;
            tmp.persist(&dest).map_err(|e| StoreError::Io(e.error))?;
            sync_dir(dir)?;
        }
        Ok(BlobInfo { sha256, size })
    }

    fn open(&self, sha256: &str) -> StoreResult<Option<Box<dyn Read + Send>>> {
        match File::open(self.path_of(sha256)?) {
            Ok(f) => Ok(Some(Box::new(BufReader::new(f)))),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    fn open_range(&self, sha256: &str, start: u64, len: u64) -> StoreResult<Option<Box<dyn Read + Send>>> {
        let mut f = match File::open(self.path_of(sha256)?) {
            Ok(f) => f,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e.into()),
        };
        f.seek(SeekFrom::Start(start))?;
        Ok(Some(Box::new(BufReader::new(f).take(len))))
    }

    fn size(&self, sha256: &str) -> StoreResult<Option<u64>> {
        match fs::metadata(self.path_of(sha256)?) {
            Ok(m) => Ok(Some(m.len())),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    fn delete(&self, sha256: &str) -> StoreResult<()> {
        match fs::remove_file(self.path_of(sha256)?) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(e.into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blobs_round_trip_by_content_address() {
        let dir = tempfile::tempdir().unwrap();
        let store = LocalBlobStore::open_dir(dir.path()).unwrap();
        let data: Vec<u8> = (0..300_000u32).map(|i| (i % 251) as u8).collect();
        let info = store.put(&mut data.as_slice()).unwrap();
        assert_eq!(info.size, data.len() as u64);
        assert_eq!(info.sha256, hex::encode(Sha256::digest(&data)));
        let again = store.put(&mut data.as_slice()).unwrap();
        assert_eq!(again, info);
        let mut back = Vec::new();
        store
            .open(&info.sha256)
            .unwrap()
            .unwrap()
            .read_to_end(&mut back)
            .unwrap();
        assert_eq!(back, data);
        assert_eq!(store.size(&info.sha256).unwrap(), Some(data.len() as u64));
        store.delete(&info.sha256).unwrap();
        assert!(store.open(&info.sha256).unwrap().is_none());
        assert!(store.open("../../etc/passwd").is_err());
        // No temporary files are left behind.
        assert_eq!(fs::read_dir(dir.path().join("tmp")).unwrap().count(), 0);
    }

    /// A backend that can only stream from the start, so `open_range` takes the default.
    struct StreamOnly(LocalBlobStore);

    impl BlobStore for StreamOnly {
        fn put(&self, content: &mut dyn Read) -> StoreResult<BlobInfo> {
            self.0.put(content)
        }
        fn open(&self, sha256: &str) -> StoreResult<Option<Box<dyn Read + Send>>> {
            self.0.open(sha256)
        }
        fn size(&self, sha256: &str) -> StoreResult<Option<u64>> {
            self.0.size(sha256)
        }
        fn delete(&self, sha256: &str) -> StoreResult<()> {
            self.0.delete(sha256)
        }
    }

    fn range(store: &dyn BlobStore, sha256: &str, start: u64, len: u64) -> Vec<u8> {
        let mut out = Vec::new();
        store
            .open_range(sha256, start, len)
            .unwrap()
            .unwrap()
            .read_to_end(&mut out)
            .unwrap();
        out
    }

    #[test]
    fn ranges_read_part_of_a_blob_seeking_or_skipping() {
        let dir = tempfile::tempdir().unwrap();
        let local = LocalBlobStore::open_dir(dir.path()).unwrap();
        let data: Vec<u8> = (0..200_000u32).map(|i| (i % 253) as u8).collect();
        let info = local.put(&mut data.as_slice()).unwrap();
        let skipping = StreamOnly(local.clone());
        for store in [&local as &dyn BlobStore, &skipping] {
            assert_eq!(range(store, &info.sha256, 0, 10), data[..10]);
            assert_eq!(
                range(store, &info.sha256, 150_000, 70_000),
                data[150_000..200_000]
            );
            assert_eq!(range(store, &info.sha256, 199_999, 1), data[199_999..]);
            assert_eq!(range(store, &info.sha256, 65_530, 100), data[65_530..65_630]);
            assert!(range(store, &info.sha256, 200_000, 5).is_empty());
            assert!(range(store, &info.sha256, 300_000, 5).is_empty());
            let absent = "0".repeat(64);
            assert!(store.open_range(&absent, 0, 1).unwrap().is_none());
            assert!(store.open_range("../x", 0, 1).is_err());
        }
    }
}
