//! tcpdump in a lab namespace, writing a pcap file in the lab's directory.
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::pcap::{self, Packet};
use super::process::Proc;
use super::{Error, Inner, Result};

/// A running capture. [`Capture::stop`] ends tcpdump and returns what it saw; dropping
/// it just ends tcpdump (the file stays until the lab is dropped).
#[derive(Debug)]
pub struct Capture {
    proc: Proc,
    file: PathBuf,
}

impl Capture {
    /// `tcpdump -i IFACE -n -U --immediate-mode -s 2048 -B 16384 -Z root -w FILE
    /// FILTER` in `ns`; returns once tcpdump says it is listening (so nothing sent
    /// after this is missed).
    ///
    /// The snap length covers any frame of the lab (MTU 1500) and the buffer is 16 MiB:
    /// in immediate mode each slot of the ring is one snap length, and with `-s 0`
    /// (256 KiB) the default 2 MiB ring held 8 frames, so a burst of 1000 gratuitous
    /// ARPs lost most of them in the capture ("packets dropped by kernel").
    pub(crate) fn start(lab: &Inner, ns: &str, iface: &str, filter: &str) -> Result<Capture> {
        let stem = format!(
            "{}-{iface}",
            ns.strip_prefix(&format!("{}-", lab.prefix)).unwrap_or(ns)
        );
        let file = lab.unique_file(&format!("{stem}.pcap"));
        let log = lab.unique_file(&format!("{stem}.tcpdump.log"));
        let mut args: Vec<String> = [
            "-i",
            iface,
            "-n",
            "-U",
            "--immediate-mode",
            "-s",
            "2048",
            "-B",
            "16384",
            "-Z",
            "root",
            "-w",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        args.push(file.display().to_string());
        if !filter.trim().is_empty() {
            args.push(filter.to_owned());
        }
        let proc = lab.spawn(ns, "tcpdump", &args, log)?;
        let listening = proc.wait_for_log("listening on", Duration::from_secs(5));
        if listening.is_err() || !proc.is_running() {
            return Err(Error::Invalid(format!(
                "tcpdump in {ns} on {iface} did not start: {}",
                proc.log().trim()
            )));
        }
        Ok(Capture { proc, file })
    }

    /// The pcap file being written.
    pub fn path(&self) -> &Path {
        &self.file
    }

    /// The packets written so far (tcpdump runs with `-U`, so whole packets reach the
    /// file as they are captured).
    pub fn packets(&self) -> Result<Vec<Packet>> {
        Ok(pcap::read(&self.file)?.packets)
    }

    /// End tcpdump (SIGTERM: it flushes and closes the file) and read the capture.
    pub fn stop(self) -> Result<Vec<Packet>> {
        self.proc.terminate(Duration::from_secs(3));
        let p = pcap::read(&self.file)?;
        if p.linktype != pcap::LINKTYPE_ETHERNET {
            return Err(Error::Parse {
                what: self.file.display().to_string(),
                detail: format!("link type {} (not Ethernet)", p.linktype),
            });
        }
        Ok(p.packets)
    }
}
