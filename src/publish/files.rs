//! Private files: outbox entries carry alerts that go out under wardwatch's broker login,
//! and snapshots show people. Both are created with fixed modes whatever the umask
//! (the permissions are set explicitly after creation, which the umask does not touch).
//!
//! | what | file | directory |
//! |---|---|---|
//! | outbox | `0600` | `0700` |
//! | snapshots | `0640` | `0750` |

use std::fs::{self, File, OpenOptions};
use std::io;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::Path;

pub const OUTBOX_FILE: u32 = 0o600;
pub const OUTBOX_DIR: u32 = 0o700;
pub const SNAPSHOT_FILE: u32 = 0o640;
pub const SNAPSHOT_DIR: u32 = 0o750;

/// `mkdir -p` with `mode` for every directory it creates, then `chmod mode` on `dir`
/// itself (also when it already existed: it is wardwatch's own directory).
pub fn create_dir(dir: &Path, mode: u32) -> io::Result<()> {
    fs::DirBuilder::new()
        .recursive(true)
        .mode(mode)
        .create(dir)?;
    fs::set_permissions(dir, fs::Permissions::from_mode(mode))
}

/// Create (or truncate) `path` for writing with exactly `mode`.
pub fn create_file(path: &Path, mode: u32) -> io::Result<File> {
    let f = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(mode)
        .open(path)?;
    f.set_permissions(fs::Permissions::from_mode(mode))?;
    Ok(f)
}

/// Open `path` for writing without truncating it, creating it with exactly `mode`.
pub fn open_file(path: &Path, mode: u32) -> io::Result<File> {
    let f = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(false)
        .mode(mode)
        .open(path)?;
    f.set_permissions(fs::Permissions::from_mode(mode))?;
    Ok(f)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modes_are_exact() {
        let tmp = tempfile::tempdir().unwrap();
        let d = tmp.path().join("a/b");
        create_dir(&d, OUTBOX_DIR).unwrap();
        let f = d.join("x");
        create_file(&f, OUTBOX_FILE).unwrap();
        let mode = |p: &Path| fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&d), 0o700);
        assert_eq!(mode(&tmp.path().join("a")), 0o700);
        assert_eq!(mode(&f), 0o600);
    }
}
