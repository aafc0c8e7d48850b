//! keepalived's dump files, asked for by signal: `keepalived.data` (SIGUSR1),
//! `keepalived.stats` (SIGUSR2; STATS_CLEAR writes it, then clears the counters) and
//! `keepalived.json` (SIGJSON), in keepalived's layouts, for exporters and scripts
//! that read them.
//!
//! The files are made from two read-only parts: the status snapshot the loop
//! publishes (states, priorities, counters) and a [`DumpConfig`] built once per
//! (re)load from the configuration (what only the configuration says: garp
//! settings, scripts, addresses, trackers). Both are shared as `Arc`s, so asking for
//! a dump copies nothing the loop owns; the file is written on a blocking thread
//! (scripts' paths are resolved there too), never on the loop, atomically (a
//! temporary file renamed over the old one, so a reader never sees half a file),
//! mode 0600 as keepalived's `fopen_safe` creates it.
//!
//! Where (keepalived 2.2.7's rules, found by running it): in `$TMPDIR` (else `/tmp`);
//! with `data_use_instance` the data file is `keepalived.<net_namespace>_<instance>.data`
//! (either part alone when only one is set; `-i` plays no part). Later keepalived's
//! `state_file_location`, `stats_file_location` and `json_file_location` move a file:
//! a path ending in `/` is a directory for the usual name, anything else the file's
//! full name.
mod check;
mod format;
mod json;
#[cfg(test)]
mod tests;
mod text;

use crate::plan::Plan;
use crate::status::{InstanceStatus, Snapshot};
use keepup_config::model::track::ParamMatch;
use keepup_config::model::vrrp::{AuthType, Family, VrrpInstance};
use keepup_config::model::{Config, GlobalDefs, Script};
use std::io::Write as _;
use std::os::unix::fs::{OpenOptionsExt as _, PermissionsExt as _};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tracing::{info, warn};

pub use json::state_number;

/// Which file a signal asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dump {
    /// SIGUSR1: keepalived.data.
    Data,
    /// SIGUSR2: keepalived.stats.
    Stats,
    /// SIGJSON (SIGRTMIN+2): keepalived.json.
    Json,
    /// STATS_CLEAR (SIGRTMAX-1): keepalived.stats, then every counter back to zero.
    StatsClear,
}

impl Dump {
    /// keepalived's log line for it (operators grep for these).
    fn log_line(self) -> String {
        let what = match self {
            Dump::Data => "Printing VRRP data",
            Dump::Stats => "Printing VRRP stats",
            Dump::Json => "Printing VRRP as json",
            Dump::StatsClear => "Printing and clearing VRRP stats",
        };
        format!("{what} for process({}) on signal", std::process::id())
    }
}

/// Where each file goes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Files {
    pub data: PathBuf,
    /// keepalived_check.data: beside the data file.
    pub check_data: PathBuf,
    pub stats: PathBuf,
    pub json: PathBuf,
}

impl Files {
    /// keepalived's places for `g`, with `tmpdir` as `$TMPDIR`.
    pub fn new(g: &GlobalDefs, tmpdir: Option<&std::ffi::OsStr>) -> Files {
        let tmp = tmpdir
            .filter(|t| !t.is_empty())
            .map_or_else(|| PathBuf::from("/tmp"), PathBuf::from);
        let data_name = if g.data_use_instance {
            let parts: Vec<&str> = [g.net_namespace.as_deref(), g.instance.as_deref()]
                .into_iter()
                .flatten()
                .collect();
            if parts.is_empty() {
                "keepalived.data".to_string()
            } else {
                format!("keepalived.{}.data", parts.join("_"))
            }
        } else {
            "keepalived.data".to_string()
        };
        let place = |location: &Option<String>, name: &str| match location.as_deref() {
            None | Some("") => tmp.join(name),
            Some(l) if l.ends_with('/') => Path::new(l).join(name),
            Some(l) => PathBuf::from(l),
        };
        let data = place(&g.state_file_location, &data_name);
        Files {
            check_data: data.with_file_name("keepalived_check.data"),
            data,
            stats: place(&g.stats_file_location, "keepalived.stats"),
            json: place(&g.json_file_location, "keepalived.json"),
        }
    }
}

/// A tracked object as an instance binds it: its name and the weight that counts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tracked {
    pub name: String,
    pub weight: i32,
}

/// A tracked `vrrp_script`: its command as words (quoted and resolved when written).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrackedScript {
    pub name: String,
    pub weight: i32,
    pub argv: Vec<String>,
}

/// A notify script, under keepalived's JSON key and data-file label.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotifyScript {
    pub json: &'static str,
    pub label: &'static str,
    pub argv: Vec<String>,
    /// `user [group]` it runs as (root when none).
    pub user: Option<(String, Option<String>)>,
}

impl NotifyScript {
    /// The uid and gid it runs as (0:0 when no user is named or the name is unknown).
    fn uid_gid(&self) -> (u32, u32) {
        self.user
            .as_ref()
            .and_then(|(u, g)| keepup_sys::script::resolve_user(u, g.as_deref()).ok())
            .unwrap_or((0, 0))
    }
}

/// A `vrrp_track_process` (for JSON version 2).
#[derive(Debug, Clone, PartialEq)]
pub struct ProcessConf {
    pub name: String,
    pub process: String,
    pub parameters: Vec<String>,
    pub param_match: &'static str,
    pub min_processes: u32,
    pub max_processes: Option<u32>,
    /// Negative with `weight N reverse`.
    pub weight: i32,
    pub terminate_delay: Duration,
    pub fork_delay: Duration,
    pub full_command: bool,
}

/// One `vrrp_instance` as its configuration describes it, under keepalived's JSON
/// names where it has them.
#[derive(Debug, Clone, PartialEq)]
pub struct InstanceConf {
    pub iname: String,
    pub dont_track_primary: bool,
    pub skip_check_adv_addr: bool,
    pub strict_mode: bool,
    pub vmac_ifname: String,
    pub ifp_ifname: String,
    /// The interface's index (keepalived names it beside an IPv6 multicast group).
    pub ifindex: u32,
    pub garp_delay: Duration,
    pub garp_refresh: Duration,
    pub garp_rep: u32,
    pub garp_refresh_rep: u32,
    pub garp_lower_prio_delay: Duration,
    pub garp_lower_prio_rep: u32,
    pub lower_prio_no_advert: bool,
    pub higher_prio_send_advert: bool,
    pub vrid: u8,
    pub base_priority: u8,
    pub promote_secondaries: bool,
    pub adver_int: Duration,
    pub accept: bool,
    pub nopreempt: bool,
    pub preempt_delay: Duration,
    pub version: u8,
    pub smtp_alert: bool,
    pub notify_deleted: bool,
    pub notify_priority_changes: bool,
    /// In keepalived's order: backup, master, fault, stop, deleted, generic, master rx
    /// lower priority.
    pub scripts: Vec<NotifyScript>,
    /// Formatted as keepalived formats addresses, without the ` set` of an installed
    /// one.
    pub vips: Vec<String>,
    pub evips: Vec<String>,
    pub vroutes: Vec<String>,
    pub vrules: Vec<String>,
    pub track_ifp: Vec<Tracked>,
    pub track_script: Vec<TrackedScript>,
    pub track_file: Vec<Tracked>,
    pub track_process: Vec<Tracked>,
    /// 0 none, 1 PASS, 2 AH.
    pub auth_type: u8,
    pub auth_data: Option<String>,
    pub v6: bool,
    pub src_from_config: bool,
    pub mcast_group: Option<std::net::IpAddr>,
    pub unicast_peers: Vec<(std::net::IpAddr, u8, u8)>,
    pub unicast_ttl: u8,
    pub check_unicast_src: bool,
    pub down_timer_adverts: u32,
}

/// What the dump files need from the configuration, built once per (re)load.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DumpConfig {
    pub json_version: u8,
    pub files: Files,
    pub instances: Vec<InstanceConf>,
    pub processes: Vec<ProcessConf>,
    /// keepalived_check.data's configuration part (None: no checker side runs).
    pub check: Option<check::CheckConf>,
}

fn duration(s: keepup_config::model::Secs) -> Duration {
    Duration::from_micros(s.micros)
}

fn argv(s: &Script) -> Vec<String> {
    keepup_sys::script::script_argv(&s.command)
}

impl DumpConfig {
    /// `checkers`: whether the checker side runs (virtual servers, and no `-P`).
    pub fn new(cfg: &Config, plan: &Plan, checkers: bool) -> DumpConfig {
        let g = &cfg.global_defs;
        let instances = plan
            .instances
            .iter()
            .zip(&plan.effects)
            .filter_map(|(c, e)| {
                let vi = cfg.vrrp_instances.iter().find(|v| v.name == c.name)?;
                Some(instance(cfg, vi, c, e))
            })
            .collect();
        let processes = cfg
            .track_processes
            .iter()
            .filter_map(|p| {
                let (name, params) = p.process.split_first()?;
                Some(ProcessConf {
                    name: p.name.clone(),
                    process: name.clone(),
                    parameters: params.to_vec(),
                    param_match: match p.param_match {
                        None if params.is_empty() => "none",
                        None | Some(ParamMatch::Full) => "exact",
                        Some(ParamMatch::Partial) => "partial",
                        Some(ParamMatch::Initial) => "initial",
                    },
                    min_processes: p.quorum,
                    max_processes: p.quorum_max,
                    weight: if p.weight_reverse {
                        -p.weight
                    } else {
                        p.weight
                    },
                    terminate_delay: p.terminate_delay.map(duration).unwrap_or_default(),
                    fork_delay: p.fork_delay.map(duration).unwrap_or_default(),
                    full_command: p.full_command,
                })
            })
            .collect();
        DumpConfig {
            json_version: g.json_version,
            files: Files::new(g, std::env::var_os("TMPDIR").as_deref()),
            instances,
            processes,
            check: checkers.then(|| check::CheckConf::new(cfg)),
        }
    }
}

fn instance(
    cfg: &Config,
    vi: &VrrpInstance,
    c: &keepup_vrrp::InstanceConfig,
    e: &crate::plan::Effects,
) -> InstanceConf {
    let g = &cfg.global_defs;
    let n = &vi.notifications;
    let user = |s: &Script| s.user.clone().map(|u| (u, s.group.clone()));
    let scripts = [
        ("script_backup", "Backup", &n.notify_backup),
        ("script_master", "Master", &n.notify_master),
        ("script_fault", "Fault", &n.notify_fault),
        ("script_stop", "Stop", &n.notify_stop),
        ("script_deleted", "Deleted", &n.notify_deleted_script),
        ("script", "Generic", &n.notify),
        (
            "script_master_rx_lower_pri",
            "Master rx lower pri",
            &n.notify_master_rx_lower_pri,
        ),
    ]
    .into_iter()
    .filter_map(|(json, label, s)| {
        s.as_ref().map(|s| NotifyScript {
            json,
            label,
            argv: argv(s),
            user: user(s),
        })
    })
    .collect();
    let weight_of = |r: &keepup_config::model::vrrp::TrackRef, own: i32| {
        let w = r.weight.unwrap_or(own);
        if r.reverse {
            -w
        } else {
            w
        }
    };
    let track_script = vi
        .track_script
        .iter()
        .filter_map(|r| {
            let s = cfg.vrrp_scripts.iter().find(|s| s.name == r.name)?;
            let own = if s.weight_reverse {
                -s.weight
            } else {
                s.weight
            };
            Some(TrackedScript {
                name: r.name.clone(),
                weight: weight_of(r, own),
                argv: argv(s.script.as_ref()?),
            })
        })
        .collect();
    let track_file = vi
        .track_file
        .iter()
        .map(|r| Tracked {
            name: r.name.clone(),
            weight: weight_of(r, 0),
        })
        .collect();
    let track_process = vi
        .track_process
        .iter()
        .map(|r| {
            let own = cfg
                .track_processes
                .iter()
                .find(|p| p.name == r.name)
                .map_or(0, |p| {
                    if p.weight_reverse {
                        -p.weight
                    } else {
                        p.weight
                    }
                });
            Tracked {
                name: r.name.clone(),
                weight: weight_of(r, own),
            }
        })
        .collect();
    let v3 = c.version != keepup_wire::vrrp::Version::V2;
    let (auth_type, auth_data) = match (&vi.authentication, v3) {
        (Some(a), false) => match a.auth_type {
            Some(AuthType::Pass) => (1, a.auth_pass.clone()),
            Some(AuthType::Ah) => (2, a.auth_pass.clone()),
            None => (0, None),
        },
        _ => (0, None),
    };
    let v6 = c.is_v6();
    InstanceConf {
        iname: c.name.clone(),
        dont_track_primary: vi.dont_track_primary,
        skip_check_adv_addr: vi.skip_check_adv_addr,
        strict_mode: vi.strict_mode,
        vmac_ifname: vi
            .use_vmac
            .as_ref()
            .map(|v| {
                if v.name.is_empty() {
                    format!("vrrp.{}", c.vrid)
                } else {
                    v.name.clone()
                }
            })
            .unwrap_or_default(),
        ifp_ifname: e.interface.clone(),
        ifindex: c.interface.0,
        garp_delay: c.garp.master_delay,
        garp_refresh: c.garp.master_refresh,
        garp_rep: c.garp.master_repeat,
        garp_refresh_rep: c.garp.master_refresh_repeat,
        garp_lower_prio_delay: c.garp.lower_prio_delay,
        garp_lower_prio_rep: c.garp.lower_prio_repeat,
        lower_prio_no_advert: vi.lower_prio_no_advert,
        higher_prio_send_advert: vi.higher_prio_send_advert,
        vrid: c.vrid,
        base_priority: c.priority,
        promote_secondaries: vi.promote_secondaries,
        adver_int: c.advert_int,
        accept: vi.accept,
        nopreempt: vi.nopreempt,
        preempt_delay: c.preempt_delay,
        version: if v3 { 3 } else { 2 },
        smtp_alert: n
            .smtp_alert
            .or(g.smtp_alert_vrrp)
            .or(g.smtp_alert)
            .unwrap_or(false),
        notify_deleted: n.notify_deleted,
        notify_priority_changes: n.notify_priority_changes.unwrap_or(false),
        scripts,
        vips: e
            .vips
            .iter()
            .map(|a| format::ip_address(a, &e.interface))
            .collect(),
        evips: e
            .excluded
            .iter()
            .map(|a| format::ip_address(a, &e.interface))
            .collect(),
        vroutes: e.routes.iter().map(format::route).collect(),
        vrules: e.rules.iter().map(format::rule).collect(),
        track_ifp: vi
            .track_interface
            .iter()
            .map(|r| Tracked {
                name: r.name.clone(),
                weight: weight_of(r, 0),
            })
            .collect(),
        track_script,
        track_file,
        track_process,
        auth_type,
        auth_data,
        v6,
        src_from_config: c.source.is_some(),
        mcast_group: Some(c.mcast_group.unwrap_or(if v6 {
            g.vrrp_mcast_group6.into()
        } else {
            g.vrrp_mcast_group4.into()
        })),
        unicast_peers: c
            .unicast_peers
            .iter()
            .map(|p| (p.address, p.min_ttl.unwrap_or(0), p.max_ttl.unwrap_or(255)))
            .collect(),
        unicast_ttl: vi.unicast_ttl,
        check_unicast_src: vi.check_unicast_src,
        down_timer_adverts: vi.down_timer_adverts,
    }
    .with_family(vi.family)
}

impl InstanceConf {
    /// keepalived says "Using Native IPv6" for an IPv6 instance however it was
    /// decided.
    fn with_family(mut self, f: Family) -> InstanceConf {
        self.v6 |= f == Family::Ipv6;
        self
    }
}

/// The snapshot's instances with their configuration, by name (an instance missing
/// from either, as for a moment around a reload, is left out).
fn pairs<'a>(s: &'a Snapshot, c: &'a DumpConfig) -> Vec<(&'a InstanceStatus, &'a InstanceConf)> {
    s.instances
        .iter()
        .filter_map(|i| Some((i, c.instances.iter().find(|x| x.iname == i.iname)?)))
        .collect()
}

/// The text of one dump file (None: nothing to write, as keepalived writes no JSON
/// file without instances).
pub fn render(kind: Dump, snapshot: &Snapshot, conf: &DumpConfig) -> Option<String> {
    match kind {
        Dump::Data => Some(text::data(snapshot, conf)),
        Dump::Stats | Dump::StatsClear => Some(text::stats(snapshot)),
        Dump::Json => json::render(snapshot, conf),
    }
}

/// Write `contents` to `path` so that a reader sees the old file or the new one,
/// never part of one: a new file beside it (mode 0600, not following a link), then
/// renamed over it.
pub fn write_atomically(path: &Path, contents: &[u8]) -> std::io::Result<()> {
    static SEQ: AtomicU64 = AtomicU64::new(0);
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let name = path
        .file_name()
        .map_or_else(|| "dump".into(), |n| n.to_string_lossy().into_owned());
    let tmp = dir.join(format!(
        ".{name}.{}.{}",
        std::process::id(),
        SEQ.fetch_add(1, Ordering::Relaxed)
    ));
    let result = (|| {
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .custom_flags(nix::libc::O_NOFOLLOW)
            .open(&tmp)?;
        // The umask may only have taken bits away; keepalived's files are 0600.
        f.set_permissions(std::fs::Permissions::from_mode(0o600))?;
        f.write_all(contents)?;
        drop(f);
        std::fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

/// The loop's part: the configuration side of the dumps, and the writer it starts.
pub struct Dumps {
    conf: Arc<DumpConfig>,
    /// Where keepalived_check.data's states come from (the checker side's moment and
    /// the kernel's table).
    reader: crate::status::Reader,
}

impl Dumps {
    pub fn new(reader: crate::status::Reader) -> Dumps {
        Dumps {
            conf: Arc::default(),
            reader,
        }
    }

    /// After a (re)load: what the files will say of the configuration (`checkers`:
    /// whether the checker side runs).
    pub fn configure(&mut self, cfg: &Config, plan: &Plan, checkers: bool) {
        self.conf = Arc::new(DumpConfig::new(cfg, plan, checkers));
    }

    /// Write the file `kind` asks for from `snapshot`, on a blocking thread: the loop
    /// goes on at once.
    pub fn write(&self, kind: Dump, snapshot: Arc<Snapshot>) {
        info!("{}", kind.log_line());
        let conf = self.conf.clone();
        let reader = self.reader.clone();
        if kind == Dump::Data && conf.check.is_some() {
            info!(
                "Printing checker data for process({}) on signal",
                std::process::id()
            );
        }
        tokio::task::spawn_blocking(move || {
            if let (Dump::Data, Some(check)) = (kind, &conf.check) {
                let text = check::render(check, &reader.checkers(), reader.ipvs().as_ref());
                let path = &conf.files.check_data;
                if let Err(e) = write_atomically(path, text.as_bytes()) {
                    warn!("Can't open {} ({e})", path.display());
                }
            }
            let path = match kind {
                Dump::Data => &conf.files.data,
                Dump::Stats | Dump::StatsClear => &conf.files.stats,
                Dump::Json => &conf.files.json,
            };
            let Some(text) = render(kind, &snapshot, &conf) else {
                return;
            };
            if let Err(e) = write_atomically(path, text.as_bytes()) {
                warn!("Can't open {} ({e})", path.display());
            }
        });
    }
}
