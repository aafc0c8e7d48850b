//! The `no_accept` filter: an nftables table that drops what is addressed to the VIPs of
//! a non-owner Master that does not accept them (RFC 3768 and RFC 9568 §6.4.3; keepalived
//! KA-16), and what the host would send from them.
//!
//! keepalived 2.2.7 keeps one table per family (`ip keepalived` and `ip6 keepalived`)
//! with a set `vips`, base chains `in` and `out` at priority -1 that drop `daddr @vips`
//! (`saddr` going out), Neighbor Solicitations and Advertisements accepted first (RFC
//! 9568 §6.4.3: the filter never drops them), and link-local VIPs keyed by address and
//! interface. keepup writes the same rules in one `inet` table of its own name (default
//! [`DEFAULT_TABLE`], so that keepalived's and keepup's tables can live side by side),
//! with a counter on each drop rule:
//!
//! ```text
//! table inet keepup {
//!     set vips4        { type ipv4_addr }
//!     set vips6        { type ipv6_addr }
//!     set vips6_link   { type ipv6_addr . ifname }
//!     set backup_vmacs { type ifname }
//!     chain in  { type filter hook input priority -1; policy accept;
//!                 icmpv6 type { nd-neighbor-solicit, nd-neighbor-advert } accept
//!                 ip daddr @vips4 counter drop ... }
//!     chain out { ... saddr ... }
//!     chain vmac_fwd { type filter hook forward priority -1; policy accept;
//!                 iifname @backup_vmacs counter drop }
//! }
//! ```
//!
//! The same table keeps a Backup from routing what is sent to its virtual MAC
//! (Ledger: BKP-04) over IPv6, which has no per-interface switch for it: the VMACs of
//! the instances that are not Master are in `backup_vmacs`, and what comes in on them
//! is not forwarded (keepalived routes it).
//!
//! Reconcile, don't replay: [`VipFilter::script`] replaces the whole table (a leftover
//! from a killed keepup included) in one transaction; [`VipFilter::sets_script`] makes
//! the three sets exactly the wanted ones in one transaction and keeps the chains (and
//! their counters).
use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use crate::nft::{nft_apply, NftError};

/// The table's name when the configuration names none (`nftables NAME` names one).
pub const DEFAULT_TABLE: &str = "keepup";

/// The addresses to drop, and the table they are dropped by.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VipFilter {
    table: String,
    priority: i32,
    v4: BTreeSet<Ipv4Addr>,
    v6: BTreeSet<Ipv6Addr>,
    /// Link-local VIPs exist per interface: (address, interface name).
    v6_link: BTreeSet<(Ipv6Addr, String)>,
    /// The VMACs whose traffic is not forwarded (their instance is not Master).
    backup_vmacs: BTreeSet<String>,
}

impl VipFilter {
    /// An empty filter (nothing dropped) in table `inet TABLE` at hook `priority`.
    /// A name nft would not read as one is replaced by [`DEFAULT_TABLE`].
    pub fn new(table: &str, priority: i32) -> VipFilter {
        let table = if keepup_lvs::nft::valid_table_name(table) {
            table
        } else {
            DEFAULT_TABLE
        };
        VipFilter {
            table: table.to_owned(),
            priority,
            v4: BTreeSet::new(),
            v6: BTreeSet::new(),
            v6_link: BTreeSet::new(),
            backup_vmacs: BTreeSet::new(),
        }
    }

    pub fn table(&self) -> &str {
        &self.table
    }

    /// Drop what is addressed to `addr` (added on interface `ifname`). A link-local
    /// address on an interface whose name nft cannot quote is left out (`false`).
    pub fn insert(&mut self, addr: IpAddr, ifname: &str) -> bool {
        match addr {
            IpAddr::V4(a) => {
                self.v4.insert(a);
            }
            IpAddr::V6(a) if is_link_local(a) => {
                if ifname.is_empty() || ifname.contains(['"', '\\']) {
                    return false;
                }
                self.v6_link.insert((a, ifname.to_owned()));
            }
            IpAddr::V6(a) => {
                self.v6.insert(a);
            }
        }
        true
    }

    /// Forward nothing that comes in on interface `ifname` (a Backup's VMAC). A name
    /// nft cannot quote is left out (`false`).
    pub fn no_forwarding(&mut self, ifname: &str) -> bool {
        if ifname.is_empty() || ifname.contains(['"', '\\']) {
            return false;
        }
        self.backup_vmacs.insert(ifname.to_owned());
        true
    }

    /// Whether nothing is dropped.
    pub fn is_empty(&self) -> bool {
        self.v4.is_empty()
            && self.v6.is_empty()
            && self.v6_link.is_empty()
            && self.backup_vmacs.is_empty()
    }

    /// Whether `addr` is dropped (on any interface, for a link-local one).
    pub fn contains(&self, addr: IpAddr) -> bool {
        match addr {
            IpAddr::V4(a) => self.v4.contains(&a),
            IpAddr::V6(a) => self.v6.contains(&a) || self.v6_link.iter().any(|(l, _)| *l == a),
        }
    }

    /// The script that replaces any table of this name with this one, in one
    /// transaction.
    pub fn script(&self) -> String {
        let t = &self.table;
        let mut s = delete_script(t);
        let _ = writeln!(s, "table inet {t} {{");
        for (name, ty, elements) in self.sets() {
            let _ = writeln!(s, "\tset {name} {{");
            let _ = writeln!(s, "\t\ttype {ty}");
            if !elements.is_empty() {
                let _ = writeln!(s, "\t\telements = {{ {} }}", elements.join(", "));
            }
            let _ = writeln!(s, "\t}}");
        }
        for (chain, hook, dir, ifdir) in [
            ("in", "input", "daddr", "iifname"),
            ("out", "output", "saddr", "oifname"),
        ] {
            let _ = writeln!(s, "\tchain {chain} {{");
            let _ = writeln!(
                s,
                "\t\ttype filter hook {hook} priority {}; policy accept;",
                self.priority
            );
            // RFC 9568 §6.4.3: Neighbor Solicitations and Advertisements for the VIPs
            // are never dropped (MST-05).
            let _ = writeln!(
                s,
                "\t\ticmpv6 type {{ nd-neighbor-solicit, nd-neighbor-advert }} accept"
            );
            let _ = writeln!(s, "\t\tip {dir} @vips4 counter drop");
            let _ = writeln!(s, "\t\tip6 {dir} @vips6 counter drop");
            let _ = writeln!(s, "\t\tip6 {dir} . {ifdir} @vips6_link counter drop");
            let _ = writeln!(s, "\t}}");
        }
        let _ = writeln!(s, "\tchain vmac_fwd {{");
        let _ = writeln!(
            s,
            "\t\ttype filter hook forward priority {}; policy accept;",
            self.priority
        );
        let _ = writeln!(s, "\t\tiifname @backup_vmacs counter drop");
        let _ = writeln!(s, "\t}}");
        let _ = writeln!(s, "}}");
        s
    }

    /// The script that makes the table's sets exactly these addresses, in one
    /// transaction; it fails (and changes nothing) when the table is not there.
    pub fn sets_script(&self) -> String {
        let t = &self.table;
        let mut s = String::new();
        for (name, _, elements) in self.sets() {
            let _ = writeln!(s, "flush set inet {t} {name}");
            if !elements.is_empty() {
                let _ = writeln!(
                    s,
                    "add element inet {t} {name} {{ {} }}",
                    elements.join(", ")
                );
            }
        }
        s
    }

    fn sets(&self) -> [(&'static str, &'static str, Vec<String>); 4] {
        [
            (
                "vips4",
                "ipv4_addr",
                self.v4.iter().map(ToString::to_string).collect(),
            ),
            (
                "vips6",
                "ipv6_addr",
                self.v6.iter().map(ToString::to_string).collect(),
            ),
            (
                "vips6_link",
                "ipv6_addr . ifname",
                self.v6_link
                    .iter()
                    .map(|(a, i)| format!("{a} . \"{i}\""))
                    .collect(),
            ),
            (
                "backup_vmacs",
                "ifname",
                self.backup_vmacs
                    .iter()
                    .map(|i| format!("\"{i}\""))
                    .collect(),
            ),
        ]
    }

    /// Writes the sets into the table when it is there (`fresh` false: its chains and
    /// counters are kept), else the whole table.
    pub fn apply(&self, fresh: bool) -> Result<(), NftError> {
        if !fresh && nft_apply(&self.sets_script()).is_ok() {
            return Ok(());
        }
        nft_apply(&self.script())
    }
}

/// The script that removes the table `inet TABLE`, whether it is there or not.
pub fn delete_script(table: &str) -> String {
    format!("table inet {table}\ndelete table inet {table}\n")
}

/// Removes the table `inet TABLE` (there or not).
pub fn delete_vip_filter(table: &str) -> Result<(), NftError> {
    if !keepup_lvs::nft::valid_table_name(table) {
        return Ok(());
    }
    nft_apply(&delete_script(table))
}

fn is_link_local(a: Ipv6Addr) -> bool {
    a.segments()[0] & 0xffc0 == 0xfe80
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().expect("address")
    }

    #[test]
    fn whole_table_in_one_transaction() {
        let mut f = VipFilter::new(DEFAULT_TABLE, -1);
        assert!(f.is_empty());
        assert!(f.insert(ip("10.9.0.102"), "eth0"));
        assert!(f.insert(ip("10.9.0.101"), "eth1"));
        assert!(f.insert(ip("fd00::5"), "eth0"));
        assert!(f.insert(ip("fe80::5"), "eth0"));
        assert!(f.no_forwarding("vrrp.61"));
        assert!(f.contains(ip("fe80::5")) && f.contains(ip("10.9.0.101")));
        assert!(!f.contains(ip("10.9.0.1")));
        assert_eq!(
            f.script(),
            "table inet keepup\n\
             delete table inet keepup\n\
             table inet keepup {\n\
             \tset vips4 {\n\
             \t\ttype ipv4_addr\n\
             \t\telements = { 10.9.0.101, 10.9.0.102 }\n\
             \t}\n\
             \tset vips6 {\n\
             \t\ttype ipv6_addr\n\
             \t\telements = { fd00::5 }\n\
             \t}\n\
             \tset vips6_link {\n\
             \t\ttype ipv6_addr . ifname\n\
             \t\telements = { fe80::5 . \"eth0\" }\n\
             \t}\n\
             \tset backup_vmacs {\n\
             \t\ttype ifname\n\
             \t\telements = { \"vrrp.61\" }\n\
             \t}\n\
             \tchain in {\n\
             \t\ttype filter hook input priority -1; policy accept;\n\
             \t\ticmpv6 type { nd-neighbor-solicit, nd-neighbor-advert } accept\n\
             \t\tip daddr @vips4 counter drop\n\
             \t\tip6 daddr @vips6 counter drop\n\
             \t\tip6 daddr . iifname @vips6_link counter drop\n\
             \t}\n\
             \tchain out {\n\
             \t\ttype filter hook output priority -1; policy accept;\n\
             \t\ticmpv6 type { nd-neighbor-solicit, nd-neighbor-advert } accept\n\
             \t\tip saddr @vips4 counter drop\n\
             \t\tip6 saddr @vips6 counter drop\n\
             \t\tip6 saddr . oifname @vips6_link counter drop\n\
             \t}\n\
             \tchain vmac_fwd {\n\
             \t\ttype filter hook forward priority -1; policy accept;\n\
             \t\tiifname @backup_vmacs counter drop\n\
             \t}\n\
             }\n"
        );
    }

    #[test]
    fn empty_sets_have_no_elements_line() {
        let f = VipFilter::new("kup", 5);
        let s = f.script();
        assert!(
            s.contains("\tset vips4 {\n\t\ttype ipv4_addr\n\t}\n"),
            "{s}"
        );
        assert!(s.contains("priority 5; policy accept;"), "{s}");
        assert_eq!(
            f.sets_script(),
            "flush set inet kup vips4\nflush set inet kup vips6\nflush set inet kup vips6_link\n\
             flush set inet kup backup_vmacs\n"
        );
    }

    #[test]
    fn sets_are_replaced_not_appended() {
        let mut f = VipFilter::new("t", -1);
        f.insert(ip("10.0.0.1"), "eth0");
        assert_eq!(
            f.sets_script(),
            "flush set inet t vips4\nadd element inet t vips4 { 10.0.0.1 }\n\
             flush set inet t vips6\nflush set inet t vips6_link\nflush set inet t backup_vmacs\n"
        );
    }

    #[test]
    fn unquotable_names_are_refused() {
        let mut f = VipFilter::new("bad name", -1);
        assert_eq!(f.table(), DEFAULT_TABLE);
        assert!(!f.insert(ip("fe80::1"), "a\"b"));
        assert!(!f.insert(ip("fe80::1"), ""));
        assert!(!f.no_forwarding("a\"b"));
        assert!(f.is_empty());
        // A global IPv6 address needs no interface.
        assert!(f.insert(ip("fd00::1"), ""));
        assert_eq!(delete_script("t"), "table inet t\ndelete table inet t\n");
    }
}
