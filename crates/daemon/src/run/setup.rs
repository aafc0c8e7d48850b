//! What is running: the plan read from the configuration, the index of every
//! interface it names, and the kernel forms (addresses, routes, rules) of what it
//! configures.
use crate::plan::{plan, Effects, Plan};
use anyhow::{anyhow, Result};
use keepup_config::model::ipspec::Broadcast;
use keepup_config::model::{Config, VirtualAddress};
use keepup_config::{LoadOptions, Verdict};
use keepup_sys::{Address, Netlink};
use keepup_vrrp::InstanceId;
use std::collections::{BTreeSet, HashMap};
use std::net::{IpAddr, Ipv4Addr};
use std::path::Path;
use tracing::error;

pub struct Setup {
    pub plan: Plan,
    /// Interface name -> index, for every interface the plan names.
    pub ifindex: HashMap<String, u32>,
    /// A digest of the configuration running (scripts vetted), to tell whether a
    /// reload changes anything; the model itself is not kept.
    pub digest: u64,
}

/// Read and plan a configuration: the setup, and the model it came from (for the
/// trackers and the notifier). What the reader found is printed (to stderr, as
/// `keepup check` prints it) and returned in `findings`; an error when keepup cannot
/// run it.
pub async fn load(
    file: &Path,
    config_id: Option<&str>,
    vrrp: bool,
    nl: &Netlink,
    vmacs: &mut super::vmac::Vmacs,
    findings: &mut String,
) -> Result<(Setup, Config)> {
    let mut lo = LoadOptions::for_this_host();
    if let Some(id) = config_id {
        lo.preprocess.config_id = id.to_string();
    }
    // Interface names are checked against this host by the plan (with the index).
    lo.interfaces = None;
    lo.check_scripts = false;
    lo.disable_refused_scripts = true;
    let loaded = keepup_config::load_file(file, &lo);
    if !loaded.diagnostics.is_empty() {
        *findings = loaded.render();
        eprint!("{findings}");
    }
    if loaded.verdict() == Verdict::Refused {
        return Err(anyhow!(
            "{}: keepup refuses to run this configuration (see above)",
            file.display()
        ));
    }
    for line in &loaded.refused_scripts {
        error!("{line}");
    }
    let mut config = loaded.config;
    if !vrrp {
        // `-C`: the checkers only; the instances are read (and checked) but not run.
        config.vrrp_instances.clear();
        config.vrrp_sync_groups.clear();
    }
    let mut names = BTreeSet::new();
    for vi in &config.vrrp_instances {
        names.extend(vi.interface.clone());
        for a in vi
            .virtual_ipaddress
            .iter()
            .chain(&vi.virtual_ipaddress_excluded)
        {
            names.extend(a.dev.clone());
        }
    }
    // The VMACs are made before the plan, which runs an instance on its VMAC only
    // when it is there.
    names.extend(vmacs.ensure(nl, &config).await);
    let mut ifindex = HashMap::new();
    for n in names {
        if let Ok(i) = nl.ifindex(&n).await {
            ifindex.insert(n, i);
        }
    }
    let plan = plan(&config, &|n| ifindex.get(n).copied())
        .map_err(|e| anyhow!("{}: {}", file.display(), e.join("; ")))?;
    let setup = Setup {
        plan,
        ifindex,
        digest: digest(&config),
    };
    Ok((setup, config))
}

/// Our pid in each pid file (keepalived's `-p`, `-r`, and our own).
pub fn write_pid_files(files: &[std::path::PathBuf]) -> Result<()> {
    use anyhow::Context;
    let pid = std::process::id();
    for f in files {
        std::fs::write(f, format!("{pid}\n"))
            .with_context(|| format!("cannot write pid file {}", f.display()))?;
    }
    Ok(())
}

/// A digest of a configuration model, to tell two of them apart. It hashes the
/// model's serde form, which carries no source position (every `span` of the model
/// is `serde(skip)`): moving lines, comments or includes around changes nothing.
/// The serde form is streamed into the hasher (through a buffer), never held whole: it
/// is megabytes for a configuration of 10,000 real servers.
fn digest(config: &Config) -> u64 {
    use std::hash::Hasher;
    struct Feed<'a>(&'a mut std::collections::hash_map::DefaultHasher);
    impl std::io::Write for Feed<'_> {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.0.write(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let mut h = std::collections::hash_map::DefaultHasher::new();
    {
        let mut w = std::io::BufWriter::with_capacity(16 * 1024, Feed(&mut h));
        // Writing into a hasher cannot fail; a model serde refuses hashes as far as it got.
        let _ = serde_json::to_writer(&mut w, config);
        let _ = std::io::Write::flush(&mut w);
    }
    h.finish()
}

impl Setup {
    pub fn name(&self, id: InstanceId) -> &str {
        &self.plan.instances[id.0].name
    }

    pub fn effects(&self, id: InstanceId) -> &Effects {
        &self.plan.effects[id.0]
    }

    pub fn ids(&self) -> impl Iterator<Item = InstanceId> {
        (0..self.plan.instances.len()).map(InstanceId)
    }

    /// The interface an address of `id` is added on: its `dev`, else the instance's.
    pub fn device<'a>(&'a self, id: InstanceId, a: &'a VirtualAddress) -> &'a str {
        a.dev.as_deref().unwrap_or(&self.effects(id).interface)
    }

    /// The kernel form of a configured address.
    pub fn address(&self, id: InstanceId, a: &VirtualAddress) -> Option<Address> {
        let ifindex = *self.ifindex.get(self.device(id, a))?;
        Some(Address {
            ifindex,
            addr: a.address,
            prefix_len: a.prefix_len,
            broadcast: prefix_broadcast(a),
            scope: a.scope.unwrap_or(0),
            label: a.label.clone(),
        })
    }

    /// The kernel form of a `virtual_routes` line of `e` (`None`: no such interface).
    pub fn route(&self, e: &Effects, r: &keepup_config::model::Route) -> Option<keepup_sys::Route> {
        let (dst, prefix_len) = match &r.to {
            Some(p) => (p.address, p.prefix_len),
            None if r.inet6 => (IpAddr::V6(std::net::Ipv6Addr::UNSPECIFIED), 0),
            None => (IpAddr::V4(Ipv4Addr::UNSPECIFIED), 0),
        };
        let dev = r.dev.as_ref().unwrap_or(&e.interface);
        let ifindex = match (r.dev.as_ref(), &r.route_type) {
            (_, Some(t)) if matches!(t.as_str(), "blackhole" | "unreachable" | "prohibit") => None,
            _ => Some(*self.ifindex.get(dev)?),
        };
        Some(keepup_sys::Route {
            dst,
            prefix_len,
            gateway: r.via,
            ifindex,
            src: r.src,
            table: r.table,
            metric: r.metric,
            scope: r.scope,
            kind: r.route_type.clone().filter(|t| t != "unicast"),
        })
    }
}

/// The kernel form of a `virtual_rules` line.
pub fn rule(r: &keepup_config::model::Rule) -> keepup_sys::Rule {
    let p = |x: &Option<keepup_config::model::ipspec::IpPrefix>| {
        x.as_ref().map(|p| (p.address, p.prefix_len))
    };
    let v6 = r.inet6
        || r.from.as_ref().is_some_and(|p| p.address.is_ipv6())
        || r.to.as_ref().is_some_and(|p| p.address.is_ipv6());
    keepup_sys::Rule {
        v6,
        from: p(&r.from),
        to: p(&r.to),
        table: r.table,
        priority: r.priority,
        fwmark: r.fwmark,
        iif: r.iif.clone(),
        oif: r.oif.clone(),
    }
}

fn prefix_broadcast(a: &VirtualAddress) -> Option<Ipv4Addr> {
    let IpAddr::V4(v4) = a.address else {
        return None;
    };
    let host_bits = 32 - u32::from(a.prefix_len.min(32));
    let mask = if host_bits >= 32 {
        0
    } else {
        u32::MAX << host_bits
    };
    match a.broadcast? {
        Broadcast::Address(b) => Some(b),
        Broadcast::SetHostBits => Some(Ipv4Addr::from(u32::from(v4) | !mask)),
        Broadcast::ClearHostBits => Some(Ipv4Addr::from(u32::from(v4) & mask)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn model(text: &str) -> Config {
        let opts = LoadOptions {
            interfaces: None,
            check_scripts: false,
            ..LoadOptions::for_this_host()
        };
        keepup_config::load_str("test.conf", text, &opts).config
    }

    #[test]
    fn the_digest_ignores_positions_and_sees_values() {
        let base = "vrrp_script chk {\n script /bin/true\n}\nvrrp_instance VI_1 {\n interface eth0\n virtual_router_id 51\n virtual_ipaddress {\n  10.0.0.1/24\n }\n track_script {\n  chk\n }\n}\n";
        let moved = format!(
            "# moved down\n\n\n{}",
            base.replace(" interface", "\n   interface")
        );
        assert_eq!(digest(&model(base)), digest(&model(&moved)));
        let changed = base.replace("/bin/true", "/bin/false");
        assert_ne!(digest(&model(base)), digest(&model(&changed)));
    }
}
