//! `nftables_ipvs`: the nftables table that marks a virtual server group's traffic, so
//! that IPVS holds one firewall-mark service per group and protocol instead of one
//! service per address and port.
//!
//! keepalived 2.2.7's shape (check_nftables.c, and what it leaves in a 6.1 kernel),
//! restated in our terms:
//!
//! - One table per address family that has entries, `ip NAME` and `ip6 NAME` (NAME:
//!   `nftables_ipvs [TABLE]`, default `keepalived_ipvs`).
//! - In it one map per protocol in use, `tcp_map`, `udp_map`, `sctp_map`: key
//!   `address . port`, value the mark, with interval flags so that an address range is
//!   one element (`10.1.4.10-10.1.4.12 . 8080 : 1000`). An entry without a port has
//!   port 0 there (only traffic to port 0 matches it: keepalived's behaviour, kept).
//! - One base chain `in`: filter, hook input, priority `nftables_ipvs_priority`
//!   (default -1, just before the filter chains), policy accept; one rule per map,
//!   in the order the maps were first used: `meta mark set ip daddr . tcp dport map
//!   @tcp_map return`. Under `nftables_counters` each map counts per element
//!   (`counter` in its declaration) and each rule has a `counter` before `return`.
//!
//! keepup writes the whole table as one `nft -f` transaction that first removes any
//! table of that name, so a start after a crash, a reload and a hand edit all end in
//! the same table ([`NftIpvs::script`]); [`NftIpvs::delete_script`] removes it.
use std::fmt::Write as _;
use std::net::IpAddr;

use serde::Serialize;

use crate::table::{Family, Protocol};

/// keepalived's table name when `nftables_ipvs` has none.
pub const DEFAULT_TABLE: &str = "keepalived_ipvs";
/// keepalived's chain priority when `nftables_ipvs_priority` is not set.
pub const DEFAULT_PRIORITY: i32 = -1;
/// The base chain's name.
pub const CHAIN: &str = "in";

/// The nftables side of `nftables_ipvs`: what keepup wants in the kernel.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NftIpvs {
    /// The table's name (the same in both families).
    pub table: String,
    /// The base chain's priority.
    pub priority: i32,
    /// `nftables_counters`: a counter in each rule and on each map's elements.
    pub counters: bool,
    /// The families with entries, IPv4 first; none when no group is marked.
    pub families: Vec<NftFamily>,
}

/// One family's table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NftFamily {
    pub family: Family,
    /// The maps, in the order their rules are in the chain.
    pub maps: Vec<NftMap>,
}

/// One protocol's map: `address . port : mark`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NftMap {
    pub protocol: Protocol,
    pub elements: Vec<NftElement>,
}

/// One element: an address (or range of addresses) and a port, and its mark.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct NftElement {
    pub first: IpAddr,
    pub last: IpAddr,
    pub port: u16,
    pub mark: u32,
}

impl NftIpvs {
    /// An empty description for `table` (nothing marked yet).
    pub fn new(table: &str, priority: i32, counters: bool) -> NftIpvs {
        NftIpvs {
            table: table.to_owned(),
            priority,
            counters,
            families: Vec::new(),
        }
    }

    /// Whether any group is marked: without, keepup has no table to make.
    pub fn is_empty(&self) -> bool {
        self.families.is_empty()
    }

    /// Adds an element to the map of its family and `protocol`, creating it (its rule
    /// after those already there) on first use.
    pub fn add(&mut self, protocol: Protocol, element: NftElement) {
        let family = Family::of(&element.first);
        let at = match self.families.iter().position(|f| f.family == family) {
            Some(i) => i,
            None => {
                self.families.push(NftFamily {
                    family,
                    maps: Vec::new(),
                });
                self.families.sort_by_key(|f| f.family);
                self.families
                    .iter()
                    .position(|f| f.family == family)
                    .unwrap_or_default()
            }
        };
        let maps = &mut self.families[at].maps;
        match maps.iter_mut().find(|m| m.protocol == protocol) {
            Some(m) => m.elements.push(element),
            None => maps.push(NftMap {
                protocol,
                elements: vec![element],
            }),
        }
    }

    /// Whether `e` would share an address and port with an element of the map of its
    /// family and `protocol` (nft refuses overlapping intervals).
    pub fn overlaps(&self, protocol: Protocol, e: &NftElement) -> bool {
        let family = Family::of(&e.first);
        self.families
            .iter()
            .filter(|f| f.family == family)
            .flat_map(|f| &f.maps)
            .filter(|m| m.protocol == protocol)
            .flat_map(|m| &m.elements)
            .any(|o| o.port == e.port && num(o.first) <= num(e.last) && num(e.first) <= num(o.last))
    }

    /// The `nft -f` script that makes the kernel's tables of this name exactly these,
    /// in one transaction: each family's table is declared (so that deleting it cannot
    /// fail), deleted, and written again when it has entries.
    pub fn script(&self) -> String {
        let mut s = Self::delete_script(&self.table);
        for f in &self.families {
            let (fam, ip, key) = match f.family {
                Family::V4 => ("ip", "ip", "ipv4_addr"),
                Family::V6 => ("ip6", "ip6", "ipv6_addr"),
            };
            let _ = writeln!(s, "table {fam} {} {{", self.table);
            for m in &f.maps {
                let _ = writeln!(s, "\tmap {} {{", map_name(m.protocol));
                let _ = writeln!(s, "\t\ttype {key} . inet_service : mark");
                let _ = writeln!(s, "\t\tflags interval");
                if self.counters {
                    let _ = writeln!(s, "\t\tcounter");
                }
                let elements: Vec<String> = m.elements.iter().map(element).collect();
                let _ = writeln!(s, "\t\telements = {{ {} }}", elements.join(", "));
                let _ = writeln!(s, "\t}}");
            }
            let _ = writeln!(s, "\tchain {CHAIN} {{");
            let _ = writeln!(
                s,
                "\t\ttype filter hook input priority {}; policy accept;",
                self.priority
            );
            for m in &f.maps {
                let proto = m.protocol.name().to_ascii_lowercase();
                let counter = if self.counters { " counter" } else { "" };
                let _ = writeln!(
                    s,
                    "\t\tmeta mark set {ip} daddr . {proto} dport map @{}{counter} return",
                    map_name(m.protocol)
                );
            }
            let _ = writeln!(s, "\t}}");
            let _ = writeln!(s, "}}");
        }
        s
    }

    /// The `nft -f` script that removes both families' tables named `table`, whether
    /// they exist or not.
    pub fn delete_script(table: &str) -> String {
        let mut s = String::new();
        for fam in ["ip", "ip6"] {
            let _ = writeln!(s, "table {fam} {table}");
            let _ = writeln!(s, "delete table {fam} {table}");
        }
        s
    }
}

/// keepalived's map name for a protocol.
pub fn map_name(p: Protocol) -> &'static str {
    match p {
        Protocol::Tcp => "tcp_map",
        Protocol::Udp => "udp_map",
        Protocol::Sctp => "sctp_map",
    }
}

/// Whether nft takes `name` as a table name without quoting: a letter, then letters,
/// digits, `_`, `.`, `-` and `/` (nft's identifier), at most 255 bytes. keepalived
/// takes any word; keepup refuses what nft's syntax would read otherwise.
pub fn valid_table_name(name: &str) -> bool {
    let mut chars = name.chars();
    name.len() < 256
        && chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-' | '/'))
        && !is_keyword(name)
}

/// nft words that cannot name a table unquoted (the ones a user might try).
fn is_keyword(name: &str) -> bool {
    matches!(
        name,
        "table" | "chain" | "map" | "set" | "ip" | "ip6" | "inet" | "arp" | "bridge" | "netdev"
    )
}

fn num(a: IpAddr) -> u128 {
    match a {
        IpAddr::V4(a) => u128::from(u32::from(a)),
        IpAddr::V6(a) => u128::from(a),
    }
}

fn element(e: &NftElement) -> String {
    if e.first == e.last {
        format!("{} . {} : {}", e.first, e.port, e.mark)
    } else {
        format!("{}-{} . {} : {}", e.first, e.last, e.port, e.mark)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().expect("address")
    }

    fn el(first: &str, last: &str, port: u16, mark: u32) -> NftElement {
        NftElement {
            first: ip(first),
            last: ip(last),
            port,
            mark,
        }
    }

    #[test]
    fn script_replaces_both_families_in_one_transaction() {
        let mut n = NftIpvs::new(DEFAULT_TABLE, DEFAULT_PRIORITY, false);
        n.add(Protocol::Udp, el("10.1.4.1", "10.1.4.1", 53, 1001));
        n.add(Protocol::Tcp, el("fc00::1", "fc00::3", 80, 1002));
        n.add(Protocol::Tcp, el("10.1.4.10", "10.1.4.12", 8080, 1000));
        assert_eq!(
            n.script(),
            "table ip keepalived_ipvs\n\
             delete table ip keepalived_ipvs\n\
             table ip6 keepalived_ipvs\n\
             delete table ip6 keepalived_ipvs\n\
             table ip keepalived_ipvs {\n\
             \tmap udp_map {\n\
             \t\ttype ipv4_addr . inet_service : mark\n\
             \t\tflags interval\n\
             \t\telements = { 10.1.4.1 . 53 : 1001 }\n\
             \t}\n\
             \tmap tcp_map {\n\
             \t\ttype ipv4_addr . inet_service : mark\n\
             \t\tflags interval\n\
             \t\telements = { 10.1.4.10-10.1.4.12 . 8080 : 1000 }\n\
             \t}\n\
             \tchain in {\n\
             \t\ttype filter hook input priority -1; policy accept;\n\
             \t\tmeta mark set ip daddr . udp dport map @udp_map return\n\
             \t\tmeta mark set ip daddr . tcp dport map @tcp_map return\n\
             \t}\n\
             }\n\
             table ip6 keepalived_ipvs {\n\
             \tmap tcp_map {\n\
             \t\ttype ipv6_addr . inet_service : mark\n\
             \t\tflags interval\n\
             \t\telements = { fc00::1-fc00::3 . 80 : 1002 }\n\
             \t}\n\
             \tchain in {\n\
             \t\ttype filter hook input priority -1; policy accept;\n\
             \t\tmeta mark set ip6 daddr . tcp dport map @tcp_map return\n\
             \t}\n\
             }\n"
        );
    }

    #[test]
    fn counters_and_priority() {
        let mut n = NftIpvs::new("kup", 5, true);
        n.add(Protocol::Sctp, el("10.0.0.1", "10.0.0.1", 3868, 7));
        let s = n.script();
        assert!(s.contains("priority 5; policy accept;"), "{s}");
        assert!(
            s.contains("flags interval\n\t\tcounter\n\t\telements"),
            "{s}"
        );
        assert!(
            s.contains("meta mark set ip daddr . sctp dport map @sctp_map counter return"),
            "{s}"
        );
    }

    #[test]
    fn empty_description_only_removes() {
        let n = NftIpvs::new("t", -1, false);
        assert!(n.is_empty());
        assert_eq!(n.script(), NftIpvs::delete_script("t"));
        assert_eq!(
            NftIpvs::delete_script("t"),
            "table ip t\ndelete table ip t\ntable ip6 t\ndelete table ip6 t\n"
        );
    }

    #[test]
    fn overlapping_elements_are_found() {
        let mut n = NftIpvs::new("t", -1, false);
        n.add(Protocol::Tcp, el("10.0.0.1", "10.0.0.5", 80, 1));
        assert!(n.overlaps(Protocol::Tcp, &el("10.0.0.5", "10.0.0.9", 80, 1)));
        assert!(n.overlaps(Protocol::Tcp, &el("10.0.0.3", "10.0.0.3", 80, 1)));
        assert!(!n.overlaps(Protocol::Tcp, &el("10.0.0.6", "10.0.0.9", 80, 1)));
        assert!(!n.overlaps(Protocol::Tcp, &el("10.0.0.1", "10.0.0.5", 81, 1)));
        assert!(!n.overlaps(Protocol::Udp, &el("10.0.0.1", "10.0.0.5", 80, 1)));
        assert!(!n.overlaps(Protocol::Tcp, &el("::1", "::9", 80, 1)));
    }

    #[test]
    fn table_names() {
        for ok in ["keepalived_ipvs", "kup", "a.b-c/d", "T1"] {
            assert!(valid_table_name(ok), "{ok}");
        }
        for bad in [
            "",
            "1abc",
            "a b",
            "a;b",
            "a\"b",
            "table",
            "ip6",
            &"x".repeat(256),
        ] {
            assert!(!valid_table_name(bad), "{bad}");
        }
    }
}
