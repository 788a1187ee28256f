//! Blob storage: content kept outside the database, addressed by the sha256 of its bytes.
//!
//! [`BlobStore`] is the seam an S3 backend plugs into. [`LocalBlobStore`] keeps blobs in a
//! directory as `ab/cd/abcd…` (the hex sha256), written atomically: streamed into a temporary
//! file in the same directory while hashing, fsynced, then renamed into place, and the directory
//! fsynced. Nothing is ever held whole in memory.

use std::fs::{self, File};
use std::io::{self, BufReader, Read, Write};
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
}
