//! Re-captures the fixtures in `fixtures/ipvsadm.txt` from a real kernel (the qemu VM):
//! `cargo test -p keepup-lvs --test capture qemu_capture -- --ignored --nocapture`.
//! Ignored by default: the fixtures are committed, and the tests decode those.
use std::path::Path;
use std::time::Duration;

use keepup_testkit::vm::VmJob;

#[test]
#[ignore = "rewrites the committed fixtures; run by hand"]
fn qemu_capture_ipvsadm_fixtures() {
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures");
    let job = VmJob::new("capture").expect("job dir");
    let script = fixtures.join("capture.py");
    let out = job.path().join("ipvsadm.txt");
    let run = job
        .run(
            &format!("/usr/bin/python3 {} {}", script.display(), out.display()),
            Duration::from_secs(300),
        )
        .expect("boot");
    assert_eq!(run.rc, 0, "{}\n{}", run.output, run.console);
    println!("{}", run.output);
    std::fs::copy(&out, fixtures.join("ipvsadm.txt")).expect("copy");
}
