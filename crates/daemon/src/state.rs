//! The record of every address keepup added, so that a daemon that died without
//! cleaning up (SIGKILL, OOM, power loss of the process) removes them on its next
//! start, before its first advert. Written atomically (temporary file + rename), so a
//! crash mid-write leaves the previous record.
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;
use std::io;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

/// One address as added: where, and with which prefix.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Recorded {
    pub interface: String,
    pub address: IpAddr,
    pub prefix_len: u8,
}

/// `<runtime-dir>/addresses.json`.
#[derive(Debug)]
pub struct StateFile {
    path: PathBuf,
    pub addresses: BTreeSet<Recorded>,
}

#[derive(Serialize, Deserialize, Default)]
struct OnDisk {
    addresses: BTreeSet<Recorded>,
}

impl StateFile {
    /// Read the record; a missing file is an empty record, an unreadable one is
    /// reported and treated as empty (the config's own VIPs are still cleaned).
    pub fn load(dir: &Path) -> (StateFile, Option<String>) {
        let path = dir.join("addresses.json");
        let (addresses, problem) = match std::fs::read(&path) {
            Ok(bytes) => match serde_json::from_slice::<OnDisk>(&bytes) {
                Ok(d) => (d.addresses, None),
                Err(e) => (
                    BTreeSet::new(),
                    Some(format!("{}: unreadable, ignored: {e}", path.display())),
                ),
            },
            Err(e) if e.kind() == io::ErrorKind::NotFound => (BTreeSet::new(), None),
            Err(e) => (BTreeSet::new(), Some(format!("{}: {e}", path.display()))),
        };
        (StateFile { path, addresses }, problem)
    }

    /// Write the record atomically.
    pub fn save(&self) -> io::Result<()> {
        let tmp = self.path.with_extension("json.tmp");
        let body = serde_json::to_vec_pretty(&OnDisk {
            addresses: self.addresses.clone(),
        })
        .map_err(io::Error::other)?;
        std::fs::write(&tmp, body)?;
        std::fs::rename(&tmp, &self.path)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_corrupt_file() {
        let dir = std::env::temp_dir().join(format!("keepup-state-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let (mut s, p) = StateFile::load(&dir);
        assert!(p.is_none() && s.addresses.is_empty());
        s.addresses.insert(Recorded {
            interface: "eth0".into(),
            address: "10.0.0.100".parse().unwrap(),
            prefix_len: 24,
        });
        s.save().unwrap();
        let (s2, _) = StateFile::load(&dir);
        assert_eq!(s2.addresses, s.addresses);
        std::fs::write(s.path(), b"{not json").unwrap();
        let (s3, p) = StateFile::load(&dir);
        assert!(s3.addresses.is_empty());
        assert!(p.unwrap().contains("unreadable"));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
