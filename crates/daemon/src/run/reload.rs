//! Where reload decides what changed: a pure comparison of the running plan and
//! the new one, instance by instance (matched by name). An instance whose only
//! change is its addresses is kept (its state, its VIPs; only the difference is
//! applied); any other change restarts it; one that is gone resigns.
use crate::plan::{Effects, Plan};
use keepup_config::model::VirtualAddress;
use keepup_vrrp::InstanceConfig;
use std::collections::BTreeSet;

/// What becomes of one instance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    Unchanged,
    /// Only its addresses changed: kept, the difference applied.
    Addresses {
        added: Vec<String>,
        removed: Vec<String>,
    },
    /// Kept; only settings that take effect without a restart changed (notify
    /// scripts, `auth_hmac`: a key rotation must not flap), named.
    Kept(&'static str),
    /// Restarted (in Initialize, then as configured), and why.
    Restarted(Vec<String>),
    Added,
    Removed,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    /// Per instance, new ones in the new plan's order, then the removed ones.
    pub changes: Vec<(String, Change)>,
    /// The same in plain words, one line each, for the log and `keepup reload`.
    pub lines: Vec<String>,
}

impl Decision {
    /// Whether the engine keeps the running instance `name` (its state and VIPs).
    pub fn keeps(&self, name: &str) -> bool {
        self.changes.iter().any(|(n, c)| {
            n == name
                && matches!(
                    c,
                    Change::Unchanged | Change::Kept(_) | Change::Addresses { .. }
                )
        })
    }
}

fn address(a: &VirtualAddress) -> String {
    format!("{}/{}", a.address, a.prefix_len)
}

/// What differs between two instances besides their addresses, in plain words
/// (empty: only addresses, if anything).
fn restart_reasons(
    a: &InstanceConfig,
    ea: &Effects,
    b: &InstanceConfig,
    eb: &Effects,
) -> Vec<String> {
    let mut why = Vec::new();
    let mut field = |name: &str, x: String, y: String| {
        if x != y {
            why.push(format!("{name} {x} -> {y}"));
        }
    };
    field("interface", ea.interface.clone(), eb.interface.clone());
    field("virtual_router_id", a.vrid.to_string(), b.vrid.to_string());
    field("priority", a.priority.to_string(), b.priority.to_string());
    field(
        "advert_int",
        format!("{:?}", a.advert_int),
        format!("{:?}", b.advert_int),
    );
    field(
        "version",
        format!("{:?}", a.version),
        format!("{:?}", b.version),
    );
    field("state", format!("{:?}", a.state), format!("{:?}", b.state));
    field("preempt", a.preempt.to_string(), b.preempt.to_string());
    if !ea.same_routing(eb) {
        why.push("virtual_routes or virtual_rules".into());
    }
    // Anything else the engine runs on (auth, unicast peers, timers, ...).
    let mut x = a.clone();
    x.vips.clone_from(&b.vips);
    // auth_hmac takes effect in place (the engine keeps the instance).
    x.auth_hmac.clone_from(&b.auth_hmac);
    let named = [
        x.interface == b.interface,
        x.vrid == b.vrid,
        x.priority == b.priority,
        x.advert_int == b.advert_int,
        x.version == b.version,
        x.state == b.state,
        x.preempt == b.preempt,
    ];
    if x != *b && named.iter().all(|same| *same) {
        why.push("other vrrp_instance settings".into());
    }
    why
}

/// Compare the running plan with the new one.
pub fn decide(old: &Plan, new: &Plan) -> Decision {
    let mut changes = Vec::new();
    for (n, ne) in new.instances.iter().zip(&new.effects) {
        let Some(i) = old.instances.iter().position(|o| o.name == n.name) else {
            changes.push((n.name.clone(), Change::Added));
            continue;
        };
        let (o, oe) = (&old.instances[i], &old.effects[i]);
        let why = restart_reasons(o, oe, n, ne);
        let change = if !why.is_empty() {
            Change::Restarted(why)
        } else {
            let before: Vec<&VirtualAddress> = oe.addresses().collect();
            let after: Vec<&VirtualAddress> = ne.addresses().collect();
            let added: Vec<String> = after
                .iter()
                .filter(|a| !before.contains(a))
                .map(|a| address(a))
                .collect();
            let removed: Vec<String> = before
                .iter()
                .filter(|b| !after.contains(b))
                .map(|a| address(a))
                .collect();
            if !added.is_empty() || !removed.is_empty() || o.vips != n.vips {
                Change::Addresses { added, removed }
            } else {
                match (oe.notify != ne.notify, o.auth_hmac != n.auth_hmac) {
                    (true, true) => Change::Kept("notify and auth_hmac settings changed"),
                    (true, false) => Change::Kept("notify settings changed"),
                    (false, true) => Change::Kept("auth_hmac settings changed"),
                    (false, false) => Change::Unchanged,
                }
            }
        };
        changes.push((n.name.clone(), change));
    }
    let names: BTreeSet<&str> = new.instances.iter().map(|c| c.name.as_str()).collect();
    for o in &old.instances {
        if !names.contains(o.name.as_str()) {
            changes.push((o.name.clone(), Change::Removed));
        }
    }
    let lines = changes.iter().map(|(n, c)| line(n, c)).collect();
    Decision { changes, lines }
}

fn line(name: &str, c: &Change) -> String {
    match c {
        Change::Unchanged => format!("{name}: unchanged"),
        Change::Kept(what) => format!("{name}: kept ({what})"),
        Change::Addresses { added, removed } => {
            let mut d: Vec<String> = added.iter().map(|a| format!("+{a}")).collect();
            d.extend(removed.iter().map(|a| format!("-{a}")));
            if d.is_empty() {
                d.push("order".into());
            }
            format!("{name}: addresses changed ({}), state kept", d.join(" "))
        }
        Change::Restarted(why) => format!("{name}: restarted ({})", why.join("; ")),
        Change::Added => format!("{name}: added"),
        Change::Removed => format!("{name}: removed (resigned, its addresses released)"),
    }
}

/// Whether two plans run the same (the configuration's digest covers the rest:
/// scripts, trackers, notify settings).
pub fn same_plan(old: &Plan, new: &Plan) -> bool {
    new.instances == old.instances
        && new.groups == old.groups
        && new
            .effects
            .iter()
            .zip(&old.effects)
            .all(|(a, b)| a.same_as(b))
}

/// The answer to a reload of an unchanged file.
pub fn unchanged(plan: &Plan) -> Vec<String> {
    let mut lines: Vec<String> = plan
        .instances
        .iter()
        .map(|c| format!("{}: unchanged", c.name))
        .collect();
    lines.push("configuration unchanged".into());
    lines
}

/// What a reload did (its lines) or why it was refused: the answer for `keepup
/// reload` (ending `ok` or an `error:` line) and the outcome the status shows.
pub fn report(result: Result<Vec<String>, String>) -> (String, String) {
    match result {
        Ok(lines) => {
            let summary = lines.last().cloned().unwrap_or_default();
            (
                format!("{}\nok\n", lines.join("\n")),
                format!("ok: {summary}"),
            )
        }
        Err(why) => {
            tracing::error!("reload refused, the running configuration stays: {why}");
            let last = why.lines().last().unwrap_or_default();
            (
                format!("error: reload refused, the running configuration stays: {why}\n"),
                format!("refused: {last}"),
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan(text: &str) -> Plan {
        let opts = keepup_config::LoadOptions {
            interfaces: None,
            check_scripts: false,
            ..keepup_config::LoadOptions::for_this_host()
        };
        let cfg = keepup_config::load_str("test.conf", text, &opts).config;
        let ifindex = |n: &str| match n {
            "eth0" => Some(2),
            "eth1" => Some(3),
            _ => None,
        };
        crate::plan::plan(&cfg, &ifindex).unwrap()
    }

    fn conf(name: &str, prio: u8, vips: &str, extra: &str) -> String {
        format!(
            "vrrp_instance {name} {{\n interface eth0\n virtual_router_id 51\n priority {prio}\n advert_int 1\n{extra} virtual_ipaddress {{\n{vips} }}\n}}\n"
        )
    }

    #[test]
    fn the_same_file_moved_around_is_unchanged() {
        let a = plan(&conf("VI_1", 100, "  10.0.0.1/24\n", ""));
        // Comments and blank lines move every position; nothing else changes.
        let b = plan(&format!(
            "# a comment\n\n{}",
            conf("VI_1", 100, "  10.0.0.1/24\n", "")
        ));
        let d = decide(&a, &b);
        assert_eq!(d.changes, vec![("VI_1".into(), Change::Unchanged)]);
        assert_eq!(d.lines, vec!["VI_1: unchanged"]);
        assert!(d.keeps("VI_1"));
    }

    #[test]
    fn addresses_only_keep_the_instance_and_name_the_difference() {
        let a = plan(&conf("VI_1", 100, "  10.0.0.1/24\n  10.0.0.2/24\n", ""));
        let b = plan(&conf("VI_1", 100, "  10.0.0.1/24\n  10.0.0.3/24\n", ""));
        let d = decide(&a, &b);
        assert_eq!(
            d.changes,
            vec![(
                "VI_1".into(),
                Change::Addresses {
                    added: vec!["10.0.0.3/24".into()],
                    removed: vec!["10.0.0.2/24".into()],
                }
            )]
        );
        assert_eq!(
            d.lines,
            vec!["VI_1: addresses changed (+10.0.0.3/24 -10.0.0.2/24), state kept"]
        );
        assert!(d.keeps("VI_1"));
        // A label is part of the address: a new label is a changed address.
        let c = plan(&conf(
            "VI_1",
            100,
            "  10.0.0.1/24 label eth0:x\n  10.0.0.2/24\n",
            "",
        ));
        assert!(matches!(
            decide(&a, &c).changes[0].1,
            Change::Addresses { .. }
        ));
    }

    #[test]
    fn other_changes_restart_and_say_why() {
        let a = plan(&conf("VI_1", 100, "  10.0.0.1/24\n", ""));
        let b = plan(&conf("VI_1", 150, "  10.0.0.1/24\n", " nopreempt\n"));
        let d = decide(&a, &b);
        assert_eq!(
            d.lines,
            vec!["VI_1: restarted (priority 100 -> 150; preempt true -> false)"]
        );
        assert!(!d.keeps("VI_1"));
        let c = plan(&conf(
            "VI_1",
            100,
            "  10.0.0.1/24\n",
            " authentication {\n  auth_type PASS\n  auth_pass secret\n }\n",
        ));
        assert_eq!(
            decide(&a, &c).lines,
            vec!["VI_1: restarted (other vrrp_instance settings)"]
        );
        let r = plan(&conf(
            "VI_1",
            100,
            "  10.0.0.1/24\n",
            " virtual_routes {\n  10.50.0.0/24 via 10.0.0.254\n }\n",
        ));
        assert_eq!(
            decide(&a, &r).lines,
            vec!["VI_1: restarted (virtual_routes or virtual_rules)"]
        );
    }

    #[test]
    fn instances_come_and_go_by_name() {
        let a = plan(&conf("VI_1", 100, "  10.0.0.1/24\n", ""));
        let b = plan(&conf("VI_2", 100, "  10.0.0.1/24\n", ""));
        let d = decide(&a, &b);
        assert_eq!(
            d.changes,
            vec![
                ("VI_2".into(), Change::Added),
                ("VI_1".into(), Change::Removed)
            ]
        );
        assert!(!d.keeps("VI_1"));
    }

    #[test]
    fn notify_changes_restart_nothing() {
        let a = plan(&conf("VI_1", 100, "  10.0.0.1/24\n", ""));
        let b = plan(&conf(
            "VI_1",
            100,
            "  10.0.0.1/24\n",
            " notify_master /bin/true\n",
        ));
        let d = decide(&a, &b);
        assert_eq!(
            d.changes,
            vec![("VI_1".into(), Change::Kept("notify settings changed"))]
        );
        assert!(d.keeps("VI_1"));
    }

    /// A key rotation (`active_key` moved, a key added) keeps the instance: no
    /// resignation, no flap; the line says what changed.
    #[test]
    fn auth_hmac_changes_keep_the_instance() {
        let keys = " auth_hmac {\n  key 1 abcdefghijklmnopqrstuvwxyz012345\n  key 2 ABCDEFGHIJKLMNOPQRSTUVWXYZ012345\n  active_key 1\n }\n";
        let a = plan(&conf("VI_1", 100, "  10.0.0.1/24\n", keys));
        let b = plan(&conf(
            "VI_1",
            100,
            "  10.0.0.1/24\n",
            &keys.replace("active_key 1", "active_key 2"),
        ));
        let d = decide(&a, &b);
        assert_eq!(
            d.changes,
            vec![("VI_1".into(), Change::Kept("auth_hmac settings changed"))]
        );
        assert!(d.keeps("VI_1"));
        assert_eq!(
            d.lines,
            vec!["VI_1: kept (auth_hmac settings changed)".to_string()]
        );
        assert!(!same_plan(&a, &b), "a rotation is not an unchanged reload");
    }
}
