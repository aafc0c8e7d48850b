//! The qemu VM: a real kernel with IPVS for the tests that need one (this machine's kernel
//! has none, and KVM is not usable, so qemu emulates: about 4 s to a shell).
//!
//! The guest runs the host's own userland with its own kernel, Debian's `linux-image-amd64`:
//! the host's root is shared read-only over 9p under a writable overlay in memory (with
//! fresh `/tmp`, `/run`, `/var/log`), so keepalived, ipvsadm, nginx and the keepup binary
//! under test are the very files the host has, at the same paths, without copying. A job directory (under `/tmp` on the
//! host) is shared read-write and mounted at the same path in the guest: a test writes its
//! configurations there, the guest runs the job's `run.sh` and leaves its output beside it.
//!
//! - `scripts/vm-kernel` prepares the kernel (downloaded and unpacked, module index built)
//!   and the initramfs (static busybox, the 9p modules, `crates/testkit/vm/init`); installs
//!   qemu, busybox-static, ipvsadm and kmod when missing. [`GuestKernel::ensure`] runs it.
//! - In the guest, `/lib/modules/<release>` is the kernel package's: `modprobe ip_vs` works,
//!   and so do the kernel's own requests (`ip link add ... type veth`, a scheduler).
//! - Batch many checks into one boot: a boot costs seconds, a check in it milliseconds.
//!
//! ```no_run
//! use keepup_testkit::vm::VmJob;
//! use std::time::Duration;
//! let job = VmJob::new("ipvs").unwrap();
//! let run = job.run("modprobe ip_vs && ipvsadm -Ln", Duration::from_secs(120)).unwrap();
//! assert_eq!(run.rc, 0, "{}", run.output);
//! ```
use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// What can go wrong preparing or booting the VM.
#[derive(Debug, thiserror::Error)]
pub enum VmError {
    #[error("preparing the VM kernel (scripts/vm-kernel) failed: {0}")]
    Prepare(String),
    #[error("{what}: {source}")]
    Io {
        what: String,
        #[source]
        source: io::Error,
    },
    #[error("the VM did not finish within {0:?}; its console:\n{1}")]
    Timeout(Duration, String),
    #[error("the VM stopped before its job finished; its console:\n{0}")]
    NoResult(String),
}

fn io_err(what: impl Into<String>) -> impl FnOnce(io::Error) -> VmError {
    let what = what.into();
    move |source| VmError::Io { what, source }
}

/// The guest kernel: Debian's kernel package, unpacked, and the initramfs built for it.
#[derive(Debug, Clone)]
pub struct GuestKernel {
    /// The unpacked package (`boot/`, `lib/modules/<version>/`).
    pub root: PathBuf,
    /// The kernel release, `6.1.0-57-amd64`.
    pub version: String,
}

impl GuestKernel {
    /// Prepares the kernel once per process (`scripts/vm-kernel`, which is idempotent and
    /// installs what is missing) and returns it.
    pub fn ensure() -> Result<&'static GuestKernel, VmError> {
        static KERNEL: OnceLock<Result<GuestKernel, String>> = OnceLock::new();
        KERNEL
            .get_or_init(|| Self::prepare().map_err(|e| e.to_string()))
            .as_ref()
            .map_err(|e| VmError::Prepare(e.clone()))
    }

    fn prepare() -> Result<GuestKernel, VmError> {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/vm-kernel");
        let out = Command::new("bash")
            .arg(&script)
            .stderr(Stdio::inherit())
            .output()
            .map_err(io_err(format!("running {}", script.display())))?;
        if !out.status.success() {
            return Err(VmError::Prepare(format!(
                "{} exited with {}",
                script.display(),
                out.status
            )));
        }
        let dir = String::from_utf8_lossy(&out.stdout);
        let root = PathBuf::from(dir.lines().last().unwrap_or_default().trim());
        let version = root
            .file_name()
            .and_then(|n| n.to_str())
            .map(str::to_owned)
            .ok_or_else(|| VmError::Prepare(format!("unexpected output {dir:?}")))?;
        let kernel = GuestKernel { root, version };
        for f in [kernel.vmlinuz(), kernel.initrd()] {
            if !f.is_file() {
                return Err(VmError::Prepare(format!("{} is missing", f.display())));
            }
        }
        Ok(kernel)
    }

    pub fn vmlinuz(&self) -> PathBuf {
        self.root
            .join("boot")
            .join(format!("vmlinuz-{}", self.version))
    }

    pub fn initrd(&self) -> PathBuf {
        self.root.join("initrd.cpio")
    }
}

/// The guest's size: 2 CPUs (qemu's multi-threaded emulation uses both host cores).
const GUEST_CPUS: u32 = 2;
const GUEST_MEMORY_MB: u32 = 2048;

/// The top directory under /tmp of the running test binary, if it lives there.
fn tmp_checkout() -> Option<PathBuf> {
    let exe = std::env::current_exe().ok()?;
    let mut parts = exe.strip_prefix("/tmp").ok()?.components();
    let top = parts.next()?;
    Some(Path::new("/tmp").join(top))
}

/// One boot's job directory, `/tmp/keepup-vm-<pid>-<n>-<tag>`, shared with the guest at the
/// same path. Removed on drop unless `KEEPUP_KEEP_LAB=1`.
pub struct VmJob {
    dir: PathBuf,
}

/// What a boot left: the job's exit status and output, and the guest's console.
#[derive(Debug)]
pub struct VmRun {
    /// `run.sh`'s exit status in the guest.
    pub rc: i32,
    /// `run.sh`'s stdout and stderr.
    pub output: String,
    /// The guest's serial console (kernel messages), for diagnosis.
    pub console: String,
    /// From qemu's start to its exit.
    pub elapsed: Duration,
}

impl VmJob {
    pub fn new(tag: &str) -> Result<VmJob, VmError> {
        static N: AtomicU32 = AtomicU32::new(0);
        let n = N.fetch_add(1, Ordering::Relaxed);
        // Under /tmp always: the guest mounts the share at the same path, and only its
        // /tmp (a tmpfs) lets it make the mount point.
        let dir = PathBuf::from(format!("/tmp/keepup-vm-{}-{n}-{tag}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).map_err(io_err(format!("creating {}", dir.display())))?;
        Ok(VmJob { dir })
    }

    /// The job directory, the same path on the host and in the guest.
    pub fn path(&self) -> &Path {
        &self.dir
    }

    /// Writes a file into the job directory and returns its path.
    pub fn write(&self, name: &str, contents: impl AsRef<[u8]>) -> Result<PathBuf, VmError> {
        let path = self.dir.join(name);
        if let Some(parent) = path.parent() {
            fs::create_dir_all(parent).map_err(io_err(format!("creating {}", parent.display())))?;
        }
        fs::write(&path, contents).map_err(io_err(format!("writing {}", path.display())))?;
        Ok(path)
    }

    /// Reads a file the guest left in the job directory.
    pub fn read(&self, name: &str) -> Result<String, VmError> {
        let path = self.dir.join(name);
        fs::read_to_string(&path).map_err(io_err(format!("reading {}", path.display())))
    }

    /// Boots the VM, runs `script` with /bin/sh in the guest (in the job directory, with
    /// `set -e` off: the script decides), and returns when the guest has powered off.
    /// The guest is killed (by its PID) if it has not finished within `timeout`.
    pub fn run(&self, script: &str, timeout: Duration) -> Result<VmRun, VmError> {
        let kernel = GuestKernel::ensure()?;
        for stale in ["rc", "out.log"] {
            let _ = fs::remove_file(self.dir.join(stale));
        }
        self.write(
            "run.sh",
            format!("# written by keepup_testkit::vm\nexport KEEPUP_VM=1\n{script}\n"),
        )?;
        let console = self.dir.join("console.log");
        let mut append = format!(
            "console=ttyS0 quiet panic=-1 keepup.job={} keepup.kroot={}",
            self.dir.display(),
            kernel.root.display()
        );
        // The guest's /tmp is fresh: a checkout under the host's /tmp (its test
        // binaries) is shown through it.
        if let Some(dir) = tmp_checkout() {
            append.push_str(&format!(" keepup.bind={}", dir.display()));
        }
        let start = Instant::now();
        let child = Command::new("qemu-system-x86_64")
            .args([
                "-nodefaults",
                "-no-reboot",
                "-display",
                "none",
                "-monitor",
                "none",
            ])
            .args([
                "-machine",
                "q35",
                "-cpu",
                "max",
                "-accel",
                "tcg,thread=multi",
            ])
            .args([
                "-smp",
                &GUEST_CPUS.to_string(),
                "-m",
                &GUEST_MEMORY_MB.to_string(),
            ])
            .arg("-kernel")
            .arg(kernel.vmlinuz())
            .arg("-initrd")
            .arg(kernel.initrd())
            .args(["-append", &append])
            .args(["-serial", &format!("file:{}", console.display())])
            .args([
                "-virtfs",
                "local,path=/,mount_tag=hostroot,security_model=none,readonly=on,multidevs=remap",
            ])
            .arg("-virtfs")
            .arg(format!(
                "local,path={},mount_tag=job,security_model=none",
                self.dir.display()
            ))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(io_err("starting qemu-system-x86_64"))?;
        let mut qemu = Qemu(child);
        let deadline = start + timeout;
        loop {
            match qemu.0.try_wait().map_err(io_err("waiting for qemu"))? {
                Some(_) => break,
                None if Instant::now() >= deadline => {
                    qemu.kill();
                    return Err(VmError::Timeout(timeout, read_lossy(&console)));
                }
                None => std::thread::sleep(Duration::from_millis(50)),
            }
        }
        let elapsed = start.elapsed();
        let console = read_lossy(&console);
        let rc = match fs::read_to_string(self.dir.join("rc")) {
            Ok(rc) => rc.trim().parse().unwrap_or(-1),
            Err(_) => {
                let mut stderr = String::new();
                if let Some(mut e) = qemu.0.stderr.take() {
                    let _ = io::Read::read_to_string(&mut e, &mut stderr);
                }
                return Err(VmError::NoResult(format!("{console}\n{stderr}")));
            }
        };
        let output = read_lossy(&self.dir.join("out.log"));
        Ok(VmRun {
            rc,
            output,
            console,
            elapsed,
        })
    }
}

impl VmJob {
    /// Runs one test of the calling test binary inside the guest: `setup` (shell), then
    /// the very same binary (`std::env::current_exe()`, visible in the guest at the same
    /// path) with `--exact test --ignored --nocapture` and `KEEPUP_VM_GUEST=1`, so the
    /// guest-side test (marked `#[ignore]`, returning at once without [`in_guest`]) runs
    /// against the guest's kernel.
    pub fn run_test(&self, setup: &str, test: &str, timeout: Duration) -> Result<VmRun, VmError> {
        let exe = std::env::current_exe().map_err(io_err("finding the test binary"))?;
        self.run(
            &format!(
                "{setup}\nKEEPUP_VM_GUEST=1 RUST_BACKTRACE=1 {} --exact {test} --ignored --nocapture --test-threads=1 2>&1\n",
                exe.display()
            ),
            timeout,
        )
    }
}

/// [`VmJob::run_test`] in a fresh job directory, for a host-side test: prints the
/// guest's output, and panics with it (and the console) unless the guest test passed.
pub fn guest_test(tag: &str, setup: &str, test: &str, timeout: Duration) -> VmRun {
    let job = match VmJob::new(tag) {
        Ok(j) => j,
        Err(e) => panic!("{tag}: {e}"),
    };
    let run = match job.run_test(setup, test, timeout) {
        Ok(r) => r,
        Err(e) => panic!("{tag}: {e}"),
    };
    println!("{}", run.output);
    assert!(
        run.rc == 0 && run.output.contains("1 passed"),
        "{test} failed in the guest (exit {}):\n{}\nconsole:\n{}",
        run.rc,
        run.output,
        run.console
    );
    run
}

/// Whether this process is a test re-run inside the guest by [`VmJob::run_test`].
pub fn in_guest() -> bool {
    std::env::var_os("KEEPUP_VM_GUEST").is_some()
}

impl Drop for VmJob {
    fn drop(&mut self) {
        if std::env::var_os("KEEPUP_KEEP_LAB").is_none() {
            let _ = fs::remove_dir_all(&self.dir);
        }
    }
}

/// qemu, killed by its PID if the harness gives up on it (or unwinds).
struct Qemu(Child);

impl Qemu {
    fn kill(&mut self) {
        if let Ok(None) = self.0.try_wait() {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
}

impl Drop for Qemu {
    fn drop(&mut self) {
        self.kill();
    }
}

fn read_lossy(path: &Path) -> String {
    fs::read(path)
        .map(|b| String::from_utf8_lossy(&b).into_owned())
        .unwrap_or_default()
}
