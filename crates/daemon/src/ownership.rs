//! Address ownership (RFC 5798 §5.2.4, ledger OWN-01): the router whose interface
//! really holds a virtual address is its owner and uses priority 255; every other
//! router stays within 1-254.
//!
//! keepalived never looks: a priority-100 instance whose VIP is a real address of its
//! interface has that address removed at start ("removing VIPs"), and a priority 255
//! without the address runs as owner anyway. keepup does the same at run time (a
//! drop-in must not change which addresses a host holds) but says so: `keepup check`
//! compares the config with this host's addresses, and `keepup run` names what it
//! removes and a 255 that owns nothing.
use keepup_config::diag::{Diagnostic, Severity};
use keepup_config::model::Config;
use std::collections::BTreeSet;
use std::fmt;
use std::net::IpAddr;

/// One disagreement between an instance's priority and the addresses of its interface.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Finding {
    /// A VIP is already an address of the instance's interface, but the priority is
    /// not 255: the address is removed at start, and the host loses it while Backup.
    OwnedButNotOwner {
        instance: String,
        interface: String,
        address: IpAddr,
        priority: u8,
    },
    /// Priority 255 claims ownership, but no VIP is an address of the interface.
    OwnerWithoutAddress { instance: String, interface: String },
}

impl Finding {
    /// A short name for `keepup check`'s output.
    pub fn code(&self) -> &'static str {
        match self {
            Finding::OwnedButNotOwner { .. } => "vip-is-local",
            Finding::OwnerWithoutAddress { .. } => "owner-without-address",
        }
    }
}

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Finding::OwnedButNotOwner {
                instance,
                interface,
                address,
                priority,
            } => write!(
                f,
                "({instance}) {address} is already an address of {interface}, but the \
                 priority is {priority}: it is removed at start and held only while MASTER \
                 (as keepalived does). If this router owns the address, give {instance} \
                 priority 255; if keepalived or keepup put it there, ignore this"
            ),
            Finding::OwnerWithoutAddress {
                instance,
                interface,
            } => write!(
                f,
                "({instance}) priority 255 says this router owns its virtual addresses, but \
                 none of them is an address of {interface}; it runs as the owner anyway (as \
                 keepalived does), so it preempts and answers on the VIPs in every mode"
            ),
        }
    }
}

/// The findings for `config` on a host whose interface `name` holds `addresses(name)`
/// (the kernel's addresses, without any that keepup itself added).
pub fn findings(config: &Config, addresses: &dyn Fn(&str) -> BTreeSet<IpAddr>) -> Vec<Finding> {
    let mut out = Vec::new();
    for vi in &config.vrrp_instances {
        let Some(interface) = vi.interface.as_deref() else {
            continue;
        };
        let held = addresses(interface);
        let on_interface = vi
            .virtual_ipaddress
            .iter()
            .filter(|a| a.dev.as_deref().is_none_or(|d| d == interface));
        let owned: Vec<IpAddr> = on_interface
            .map(|a| a.address)
            .filter(|a| held.contains(a))
            .collect();
        if vi.priority == 255 {
            if owned.is_empty() && !vi.virtual_ipaddress.is_empty() {
                out.push(Finding::OwnerWithoutAddress {
                    instance: vi.name.clone(),
                    interface: interface.to_string(),
                });
            }
        } else {
            out.extend(owned.into_iter().map(|address| Finding::OwnedButNotOwner {
                instance: vi.name.clone(),
                interface: interface.to_string(),
                address,
                priority: vi.priority,
            }));
        }
    }
    out
}

/// This host's addresses by interface name (`getifaddrs`), without those `skip` names
/// (what a running keepup recorded as its own).
pub fn host_addresses(skip: &BTreeSet<(String, IpAddr)>) -> Vec<(String, IpAddr)> {
    let Ok(list) = nix::ifaddrs::getifaddrs() else {
        return Vec::new();
    };
    list.filter_map(|i| {
        let a = i.address?;
        let ip = if let Some(v4) = a.as_sockaddr_in() {
            IpAddr::V4(v4.ip())
        } else {
            IpAddr::V6(a.as_sockaddr_in6()?.ip())
        };
        Some((i.interface_name, ip))
    })
    .filter(|x| !skip.contains(x))
    .collect()
}

/// `keepup check`'s findings for this host, at the instance or address they concern.
pub fn diagnostics(config: &Config, runtime_dir: &std::path::Path) -> Vec<Diagnostic> {
    let (record, _) = crate::state::StateFile::load(runtime_dir);
    let ours: BTreeSet<(String, IpAddr)> = record
        .addresses
        .iter()
        .map(|r| (r.interface.clone(), r.address))
        .collect();
    let host = host_addresses(&ours);
    // On a host where keepalived runs (a switch being prepared), its VIPs are on the
    // interfaces: say it, but as a note.
    let keepalived = keepalived_running();
    let of = |name: &str| -> BTreeSet<IpAddr> {
        host.iter()
            .filter(|(n, _)| n == name)
            .map(|(_, a)| *a)
            .collect()
    };
    findings(config, &of)
        .into_iter()
        .map(|f| {
            let (name, address) = match &f {
                Finding::OwnedButNotOwner {
                    instance, address, ..
                } => (instance, Some(*address)),
                Finding::OwnerWithoutAddress { instance, .. } => (instance, None),
            };
            let vi = config.vrrp_instances.iter().find(|v| &v.name == name);
            let span = vi.map(|v| {
                v.virtual_ipaddress
                    .iter()
                    .find(|a| Some(a.address) == address)
                    .map_or(v.span, |a| a.span)
            });
            match (&f, keepalived) {
                (Finding::OwnedButNotOwner { .. }, true) => Diagnostic::new(
                    Severity::Note,
                    f.code(),
                    format!("{f} (keepalived runs on this host: it may be its VIP)"),
                ),
                _ => Diagnostic::new(Severity::Warning, f.code(), f.to_string()),
            }
            .at_opt(span)
        })
        .collect()
}

/// Whether a process named `keepalived` runs in this network namespace (one in
/// another namespace puts no address here).
fn keepalived_running() -> bool {
    let Some(here) = std::fs::read_link("/proc/self/ns/net").ok() else {
        return false;
    };
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return false;
    };
    dir.filter_map(|e| e.ok())
        .filter(|e| {
            e.file_name()
                .to_string_lossy()
                .bytes()
                .all(|b| b.is_ascii_digit())
        })
        .any(|e| {
            std::fs::read_to_string(e.path().join("comm"))
                .is_ok_and(|c| c.trim_end() == "keepalived")
                && std::fs::read_link(e.path().join("ns/net")).is_ok_and(|n| n == here)
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use keepup_config::{load_str, LoadOptions};

    fn config(text: &str) -> Config {
        load_str("test.conf", text, &LoadOptions::default()).config
    }

    fn instance(priority: u8) -> String {
        format!(
            "vrrp_instance VI_1 {{\n interface eth0\n virtual_router_id 51\n priority {priority}\n \
             virtual_ipaddress {{\n  10.0.0.1/24\n  10.0.1.1/24 dev eth1\n }}\n}}\n"
        )
    }

    /// Ledger: OWN-01
    /// A VIP that is a real address of the instance's interface belongs to an owner:
    /// below 255 it is named (it would be removed at start); a 255 that holds none of
    /// its VIPs is named too. A VIP on another `dev` is not the interface's.
    #[test]
    fn ownership_is_compared_with_the_interface_addresses() {
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        let holds = |list: &'static [&'static str]| {
            move |name: &str| -> BTreeSet<IpAddr> {
                if name == "eth0" {
                    list.iter().map(|s| s.parse().unwrap()).collect()
                } else {
                    BTreeSet::new()
                }
            }
        };
        let c = config(&instance(100));
        let f = findings(&c, &holds(&["10.0.0.1", "10.0.1.1"]));
        assert_eq!(
            f,
            vec![Finding::OwnedButNotOwner {
                instance: "VI_1".into(),
                interface: "eth0".into(),
                address: ip("10.0.0.1"),
                priority: 100,
            }]
        );
        assert!(f[0].to_string().contains("give VI_1 priority 255"));
        assert!(findings(&c, &holds(&["10.0.0.2"])).is_empty());

        let c = config(&instance(255));
        assert!(findings(&c, &holds(&["10.0.0.1"])).is_empty());
        let f = findings(&c, &holds(&["10.0.0.2"]));
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].code(), "owner-without-address");
    }
}
