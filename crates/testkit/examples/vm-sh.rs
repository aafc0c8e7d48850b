//! Runs a shell script in the test VM (the kernel with IPVS that the `qemu_` tests use)
//! and prints its output: for looking around in the guest by hand.
//!
//! ```text
//! cargo run -p keepup-testkit --example vm-sh -- 'ipvsadm -Ln; uname -r'
//! cargo run -p keepup-testkit --example vm-sh -- --file script.sh
//! ```
//!
//! The guest sees the host's files read-only (the build's binaries included) and the
//! job directory (printed) read-write; `scripts/vm-kernel` prepares the kernel once.
use std::time::Duration;

use keepup_testkit::vm::VmJob;

fn main() -> std::process::ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let script = match args.as_slice() {
        [flag, path] if flag == "--file" => match std::fs::read_to_string(path) {
            Ok(s) => s,
            Err(e) => {
                eprintln!("vm-sh: reading {path}: {e}");
                return std::process::ExitCode::from(2);
            }
        },
        [] => {
            eprintln!("usage: vm-sh 'SHELL COMMANDS' | vm-sh --file SCRIPT");
            return std::process::ExitCode::from(2);
        }
        words => words.join(" "),
    };
    let job = match VmJob::new("vm-sh") {
        Ok(j) => j,
        Err(e) => {
            eprintln!("vm-sh: {e}");
            return std::process::ExitCode::from(2);
        }
    };
    eprintln!("vm-sh: job directory {}", job.path().display());
    match job.run(&script, Duration::from_secs(1800)) {
        Ok(run) => {
            print!("{}", run.output);
            eprintln!("vm-sh: exit {} after {:.1?}", run.rc, run.elapsed);
            std::process::ExitCode::from(u8::try_from(run.rc).unwrap_or(1))
        }
        Err(e) => {
            eprintln!("vm-sh: {e}");
            std::process::ExitCode::from(2)
        }
    }
}
