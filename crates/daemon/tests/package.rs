//! The Debian package (`scripts/deb`): built from this build's binary, installed with
//! dpkg next to keepalived, used (`keepup --version`, `man keepup`, completions,
//! genhash, the unit verified), and purged, leaving keepalived as it was. Root only;
//! it changes the machine's packages for its duration, so it refuses to run where a
//! keepup package is installed already.
#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::process::Command;

fn sh(cmd: &str) -> (bool, String) {
    let out = Command::new("sh").args(["-c", cmd]).output().unwrap();
    (
        out.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

/// Purges the package however the test ends.
struct Installed;

impl Drop for Installed {
    fn drop(&mut self) {
        let _ = sh("dpkg --purge keepup >/dev/null 2>&1");
    }
}

#[test]
fn netns_package_installs_beside_keepalived() {
    if !keepup_testkit::lab::root_or_skip("netns_package_installs_beside_keepalived") {
        return;
    }
    let (installed, _) = sh("dpkg -s keepup >/dev/null 2>&1");
    assert!(
        !installed,
        "a keepup package is installed on this machine; this test would replace it"
    );
    let (ka, who) = sh("dpkg -S /usr/bin/genhash");
    assert!(
        ka && who.starts_with("keepalived:"),
        "keepalived's genhash: {who}"
    );
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let dir: PathBuf = std::env::temp_dir().join(format!("keepup-deb-{}", std::process::id()));
    let build = Command::new(repo.join("scripts/deb"))
        .env("KEEPUP_BIN", env!("CARGO_BIN_EXE_keepup"))
        .env("KEEPUP_DEB_DIR", &dir)
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&build.stdout).into_owned();
    assert!(
        build.status.success(),
        "scripts/deb: {said}{}",
        String::from_utf8_lossy(&build.stderr)
    );
    let deb = said.lines().last().unwrap().to_string();
    assert!(deb.ends_with(".deb"), "{said}");

    let _guard = Installed;
    let (ok, out) = sh(&format!("dpkg -i {deb}"));
    assert!(ok, "dpkg -i: {out}");

    let (ok, out) = sh("/usr/sbin/keepup --version");
    assert!(ok && out.contains(env!("CARGO_PKG_VERSION")), "{out}");
    let (ok, out) = sh("MANPAGER=cat MANWIDTH=80 man keepup");
    assert!(ok && out.contains("keepalived.conf"), "man keepup: {out}");
    let (ok, out) = sh("MANPAGER=cat man keepup-run");
    assert!(
        ok && out.contains("--metrics-listen"),
        "man keepup-run: {out}"
    );
    let (ok, out) = sh("MANPAGER=cat man 5 keepup.conf");
    assert!(
        ok && out.contains("WHAT KEEPUP ACCEPTS"),
        "man 5 keepup.conf: {out}"
    );
    let (ok, out) =
        sh("bash -c '. /usr/share/bash-completion/completions/keepup && complete -p keepup'");
    assert!(ok && out.contains("keepup"), "bash completion: {out}");
    // genhash: keepup's, called so; keepalived's /usr/bin/genhash stays its own.
    let (_, out) = sh("/usr/lib/keepup/genhash --help");
    assert!(out.contains("-s") && out.contains("-u"), "genhash: {out}");
    let (ok, who) = sh("dpkg -S /usr/bin/genhash && readlink /usr/bin/genhash || true");
    assert!(
        ok && who.starts_with("keepalived:") && !who.contains("/usr/lib/keepup"),
        "{who}"
    );
    let (ok, out) = sh("keepalived --version");
    assert!(ok, "keepalived after installing keepup: {out}");
    // The unit as installed, man pages and all.
    let (ok, out) = sh("systemd-analyze verify /lib/systemd/system/keepup.service");
    assert!(ok && out.trim().is_empty(), "systemd-analyze verify: {out}");

    let (ok, out) = sh("dpkg --purge keepup");
    assert!(ok, "dpkg --purge: {out}");
    assert!(!Path::new("/usr/sbin/keepup").exists());
    let (ok, out) = sh("keepalived --version && dpkg -S /usr/bin/genhash");
    assert!(
        ok && out.contains("keepalived:"),
        "keepalived after purging keepup: {out}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
