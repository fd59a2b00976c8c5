//! Process hardening done once at start: no core dumps, owner-only files.
//!
//! The process holds the SSWS token, OAuth keys and hook secrets in memory and
//! spools raw Okta events to disk, so (1) it never leaves a core dump (an
//! abort would write those secrets into it, even under systemd-coredump, which
//! honours `RLIMIT_CORE`), and (2) everything it writes is readable by its own
//! user only, whatever umask it was started with. The systemd unit does the
//! same (`LimitCORE=0`, `UMask=0077`, `StateDirectoryMode=0700`); this covers
//! every other way of starting it.

use std::io;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

/// No core dumps: the process is made non-dumpable (`PR_SET_DUMPABLE` 0, which
/// also makes its `/proc/<pid>/` files root-owned and keeps same-user processes
/// from attaching to it) and its core size limit, soft and hard, is set to 0
/// (a non-dumpable process still dumps when `fs.suid_dumpable` is 2, as
/// systemd sets it; systemd-coredump then skips a process whose limit is 0).
pub fn no_core_dumps() -> io::Result<()> {
    // SAFETY: plain syscalls with constant, valid arguments.
    if unsafe { libc::prctl(libc::PR_SET_DUMPABLE, 0, 0, 0, 0) } != 0 {
        return Err(io::Error::last_os_error());
    }
    let none = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
    let mut now = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
    // SAFETY: `now` and `none` are valid rlimit structs for the duration of the calls.
    let already = unsafe { libc::getrlimit(libc::RLIMIT_CORE, &mut now) } == 0 && now.rlim_max == 0;
    if !already && unsafe { libc::setrlimit(libc::RLIMIT_CORE, &none) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Every file and directory the process creates from now on is owner-only:
/// umask 077 (files 0600, directories 0700).
pub fn private_files() {
    // SAFETY: umask cannot fail.
    unsafe {
        libc::umask(0o077);
    }
}

/// The first of `dir` and its entries (one level: the cache is flat) that is
/// writable by group or others or owned by another user; None when all are private.
fn writable_by_others(dir: &Path) -> Option<PathBuf> {
    use std::os::unix::fs::MetadataExt;
    // SAFETY: geteuid cannot fail.
    let me = unsafe { libc::geteuid() };
    let open = |p: &Path| std::fs::symlink_metadata(p).is_ok_and(|m| m.mode() & 0o022 != 0 || m.uid() != me);
    if !dir.exists() {
        return None;
    }
    if open(dir) {
        return Some(dir.to_path_buf());
    }
    std::fs::read_dir(dir).ok()?.flatten().map(|e| e.path()).find(|p| open(p))
}

/// What [`make_private`] changed.
#[derive(Debug, Default)]
pub struct Tightened {
    /// Entries (the folder included) that had group or other permissions; now owner-only.
    pub changed: usize,
    /// Entries whose mode could not be changed (not ours, or vanished), with why.
    pub failed: Vec<(PathBuf, io::Error)>,
}

/// Takes group and other permissions off `dir` and everything below it
/// (0755 → 0700, 0644 → 0600), for a state folder made by an older version or
/// under a looser umask. Symbolic links are neither followed nor changed.
pub fn make_private(dir: &Path) -> Tightened {
    let mut done = Tightened::default();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(path) = todo.pop() {
        let meta = match std::fs::symlink_metadata(&path) {
            Ok(m) => m,
            Err(e) => {
                done.failed.push((path, e));
                continue;
            }
        };
        if meta.file_type().is_symlink() {
            continue;
        }
        let mode = meta.permissions().mode() & 0o7777;
        if mode & 0o077 != 0 {
            match std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode & !0o077)) {
                Ok(()) => done.changed += 1,
                Err(e) => done.failed.push((path.clone(), e)),
            }
        }
        if meta.is_dir() {
            match std::fs::read_dir(&path) {
                Ok(rd) => todo.extend(rd.flatten().map(|e| e.path())),
                Err(e) => done.failed.push((path, e)),
            }
        }
    }
    done
}

/// [`make_private`] on the state folder, with a warning when it was open to others.
pub fn private_state_dir(dir: &Path) {
    // Compiled detections are code: a cache that others could write may hold
    // theirs. Tightening its mode would bless that code, so it goes instead
    // (it is only derived data: every detection is compiled anew).
    let cache = dir.join("cache");
    if let Some(open) = writable_by_others(&cache) {
        match std::fs::remove_dir_all(&cache) {
            Ok(()) => tracing::warn!(
                "compile cache {}: {} was writable by group or others or not ours, so its code cannot be trusted: removed; detections are compiled anew",
                cache.display(),
                open.display()
            ),
            Err(e) => tracing::warn!("compile cache {}: open to others and cannot be removed ({e}); the loader will not use it", cache.display()),
        }
    }
    let t = make_private(dir);
    if t.changed > 0 {
        tracing::warn!(
            "state dir {}: {} entr{} readable or writable by group or others (raw Okta events, cursors, detection state): \
             made owner-only (directories 0700, files 0600)",
            dir.display(),
            t.changed,
            if t.changed == 1 { "y was" } else { "ies were" }
        );
    }
    for (path, e) in t.failed.iter().take(5) {
        tracing::warn!("state dir: cannot make {} owner-only: {e}", path.display());
    }
    if t.failed.len() > 5 {
        tracing::warn!("state dir: {} more entries could not be made owner-only", t.failed.len() - 5);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mode(p: &Path) -> u32 {
        std::fs::symlink_metadata(p).unwrap().permissions().mode() & 0o7777
    }

    #[test]
    fn an_open_tree_is_made_owner_only() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("state");
        std::fs::create_dir_all(root.join("orgs/a/spool")).unwrap();
        let seg = root.join("orgs/a/spool/00000001.seg");
        std::fs::write(&seg, b"x").unwrap();
        let exe = root.join("orgs/a/run.sh");
        std::fs::write(&exe, b"x").unwrap();
        let outside = dir.path().join("outside");
        std::fs::write(&outside, b"x").unwrap();
        std::os::unix::fs::symlink(&outside, root.join("link")).unwrap();
        let (orgs, a, spool) = (root.join("orgs"), root.join("orgs/a"), root.join("orgs/a/spool"));
        for (p, m) in [(&root, 0o755), (&orgs, 0o777), (&a, 0o700), (&spool, 0o750), (&seg, 0o644), (&exe, 0o755), (&outside, 0o644)] {
            std::fs::set_permissions(p, std::fs::Permissions::from_mode(m)).unwrap();
        }
        let t = make_private(&root);
        assert!(t.failed.is_empty(), "{:?}", t.failed);
        assert_eq!(t.changed, 5, "root, orgs, spool, the segment and run.sh were open; orgs/a was not");
        for (p, m) in [(&root, 0o700), (&orgs, 0o700), (&a, 0o700), (&spool, 0o700)] {
            assert_eq!(mode(p), m, "{}", p.display());
        }
        assert_eq!(mode(&seg), 0o600);
        assert_eq!(mode(&exe), 0o700);
        assert_eq!(mode(&outside), 0o644, "a symlink's target outside the folder is left alone");
        let again = make_private(&root);
        assert_eq!((again.changed, again.failed.len()), (0, 0), "a private tree is left as it is");
    }

    #[test]
    fn no_core_dumps_makes_the_process_non_dumpable_with_no_core_limit() {
        // (This makes the unit-test process itself non-dumpable, which changes nothing for the other tests.)
        no_core_dumps().unwrap();
        // SAFETY: PR_GET_DUMPABLE takes no pointer arguments; `lim` is a valid rlimit.
        assert_eq!(unsafe { libc::prctl(libc::PR_GET_DUMPABLE, 0, 0, 0, 0) }, 0);
        let mut lim = libc::rlimit { rlim_cur: 1, rlim_max: 1 };
        assert_eq!(unsafe { libc::getrlimit(libc::RLIMIT_CORE, &mut lim) }, 0);
        assert_eq!((lim.rlim_cur, lim.rlim_max), (0, 0));
        no_core_dumps().expect("a second call (limit already 0) succeeds too");
    }
}
