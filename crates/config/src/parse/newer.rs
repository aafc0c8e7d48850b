//! Keywords keepalived added after 2.2.7, in one table.
//!
//! keepup reads keepalived.conf as keepalived 2.2.7 does, and also the keywords of
//! 2.2.8, 2.3.x and 2.4.x, so a configuration written for a newer keepalived is not
//! met with "unknown keyword" as if it were a typo. Each keyword below is in its
//! section's keyword table, where its handler stores the value in the model; for the
//! ones keepup does not act on yet, the handler also calls [`not_yet`], which names
//! the keyword, the release that added it and what running without it means.
//!
//! Sources (read for names, sections and releases): keepalived's release notes for
//! 2.2.8 to 2.4.3, its keepalived.conf(5) of 2.4.x compared with 2.2.7's
//! (`../shared/keepalived-doc/`), and its `vrrp_parser.c` of the 2.2.8/2.3 era.

use super::Ctx;
use crate::diag::{Diagnostic, Severity};
use crate::tree::Stmt;

/// Whether keepup acts on a newer keyword.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Support {
    /// Read and acted on.
    Done,
    /// Read, stored in the model, and not acted on yet: [`not_yet`] says so with this
    /// severity and this consequence.
    NotYet {
        severity: Severity,
        consequence: &'static str,
    },
}

/// One keyword added to keepalived after 2.2.7.
#[derive(Debug)]
pub struct Newer {
    pub keyword: &'static str,
    /// The block it belongs in, as keepalived.conf(5) names it.
    pub section: &'static str,
    /// The keepalived release that added it.
    pub release: &'static str,
    pub support: Support,
    /// A line using it (for tests and the manual).
    pub sample: &'static str,
}

const fn done(
    keyword: &'static str,
    section: &'static str,
    release: &'static str,
    sample: &'static str,
) -> Newer {
    Newer {
        keyword,
        section,
        release,
        support: Support::Done,
        sample,
    }
}

const fn not_yet_warn(
    keyword: &'static str,
    section: &'static str,
    release: &'static str,
    consequence: &'static str,
    sample: &'static str,
) -> Newer {
    Newer {
        keyword,
        section,
        release,
        support: Support::NotYet {
            severity: Severity::Warning,
            consequence,
        },
        sample,
    }
}

/// SNMP and DBus are not served by keepup at all; their 2.2.7 keywords are notes
/// ("not-served"), and so are the newer ones: the setting changes nothing keepup does.
const fn not_served(
    keyword: &'static str,
    release: &'static str,
    consequence: &'static str,
    sample: &'static str,
) -> Newer {
    Newer {
        keyword,
        section: "global_defs",
        release,
        support: Support::NotYet {
            severity: Severity::Note,
            consequence,
        },
        sample,
    }
}

/// Every configuration keyword keepalived added after 2.2.7 that keepup knows of.
///
/// `release` is the release whose notes name the keyword; "newer than 2.2.7" where
/// only the manual shows it (in 2.4.x's, not in 2.2.7's) and no release note does.
///
/// Not keywords, so not here: options added inside an existing keyword's line
/// (`use_vmac`/`use_ipvlan` `name`, `group` and `netlink_notify_msg`, which are read
/// with `use_vmac`'s own "not supported yet" warning; `auth_hmac`'s `mode
/// receive-only`, 2.4.2), `${_ENV NAME}` (2.4.0, the preprocessor), the `:group`
/// spelling of script users and millisecond `vrrp_script` intervals (2.3.2).
pub static NEWER: &[Newer] = &[
    // ---- global_defs
    done(
        "v3_checksum_as_v2",
        "global_defs",
        "2.2.8",
        "v3_checksum_as_v2",
    ),
    done("json_version", "global_defs", "2.2.8", "json_version 2"),
    not_served(
        "snmp_vs_stats_update_interval",
        "2.3.0",
        "keepup does not serve SNMP; use `keepup status` or its metrics",
        "snmp_vs_stats_update_interval 2",
    ),
    not_served(
        "snmp_rs_stats_update_interval",
        "2.3.0",
        "keepup does not serve SNMP; use `keepup status` or its metrics",
        "snmp_rs_stats_update_interval 2",
    ),
    not_served(
        "dbus_no_interface_name",
        "2.3.0",
        "keepup does not serve DBus",
        "dbus_no_interface_name none",
    ),
    // keepup runs a script by the path as written, never resolving a symbolic link
    // first: what this keyword asks for.
    done(
        "use_symlink_paths",
        "global_defs",
        "2.3.0",
        "use_symlink_paths",
    ),
    not_yet_warn(
        "set_supplementary_groups",
        "global_defs",
        "newer than 2.2.7",
        "scripts run as their user with only its primary group, as keepalived does \
         without this keyword: a script that relies on one of the user's supplementary \
         groups for access is refused it",
        "set_supplementary_groups",
    ),
    done(
        "state_file_location",
        "global_defs",
        "newer than 2.2.7",
        "state_file_location /run/keepalived/",
    ),
    done(
        "stats_file_location",
        "global_defs",
        "newer than 2.2.7",
        "stats_file_location /run/keepalived/",
    ),
    done(
        "json_file_location",
        "global_defs",
        "newer than 2.2.7",
        "json_file_location /run/keepalived/",
    ),
    not_yet_warn(
        "iproute_usr_dir",
        "global_defs",
        "2.3.2",
        "keepup reads route table names from /etc/iproute2 and /usr/share/iproute2 \
         only: a name defined only in this directory is reported where it is used",
        "iproute_usr_dir /usr/lib/iproute2",
    ),
    not_yet_warn(
        "iproute_etc_dir",
        "global_defs",
        "2.3.2",
        "keepup reads route table names from /etc/iproute2 and /usr/share/iproute2 \
         only: a name defined only in this directory is reported where it is used",
        "iproute_etc_dir /etc/iproute2",
    ),
    done(
        "vrrp_delay_after_boot",
        "global_defs",
        "2.4.0",
        "vrrp_delay_after_boot 15",
    ),
    // ---- vrrp_instance
    // Silences the no-VIP warning. With VRRPv3 keepalived also sends adverts with no
    // address; keepup refuses that case with its own `unsupported` (parse/vrrp.rs).
    done(
        "no_virtual_ipaddress",
        "vrrp_instance",
        "2.2.8",
        "no_virtual_ipaddress",
    ),
    done(
        "v3_checksum_as_v2",
        "vrrp_instance",
        "2.2.8",
        "v3_checksum_as_v2",
    ),
    not_yet_warn(
        "timer_expired_backup",
        "vrrp_instance",
        "2.2.8",
        "after a stall (keepup not run in time), a Master does not step back to Backup \
         on its own: it sends its next advert and the usual election decides, which can \
         mean one more change of Master than keepalived would make with nopreempt",
        "timer_expired_backup 200",
    ),
    not_yet_warn(
        "thread_timer_expired",
        "vrrp_instance",
        "2.3.2",
        "it is keepalived's other name for timer_expired_backup (write that instead); \
         after a stall a Master does not step back to Backup on its own: it sends its \
         next advert and the usual election decides",
        "thread_timer_expired",
    ),
    done(
        "auth_hmac",
        "vrrp_instance",
        "2.4.0",
        "auth_hmac {\n  key 1 hex:000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f\n }",
    ),
    // ---- bfd_instance
    not_yet_warn(
        "multihop",
        "bfd_instance",
        "2.2.8",
        "keepup runs no BFD session yet (a bfd_instance is read, not run); a multihop \
         session would use port 4784 (RFC 5883)",
        "multihop",
    ),
    // ---- SSL_GET (and HTTP_GET) checkers
    not_yet_warn(
        "tls_compliant",
        "SSL_GET",
        "2.2.8",
        "keepup ends an SSL_GET connection without a TLS close_notify alert, as \
         keepalived does without this keyword; the check's verdict is the same",
        "tls_compliant",
    ),
    done("sni_name", "SSL_GET", "newer than 2.2.7", "sni_name www.example.com"),
];

/// The entry for `keyword` in `section`.
pub fn lookup(keyword: &str, section: &str) -> Option<&'static Newer> {
    NEWER
        .iter()
        .find(|n| n.keyword == keyword && n.section == section)
}

/// Reports a newer keyword that keepup reads but does not act on yet. `section` is
/// its block kind as in [`NEWER`]; `owner` names the object (`VI_1`) when there is one.
pub fn not_yet(s: &Stmt, section: &str, owner: Option<&str>, cx: &mut Ctx) {
    let word = s.keyword().text.as_str();
    let Some(n) = lookup(word, section) else {
        return;
    };
    let Support::NotYet {
        severity,
        consequence,
    } = n.support
    else {
        return;
    };
    let who = owner.map(|o| format!("({o}) ")).unwrap_or_default();
    cx.push(
        Diagnostic::new(
            severity,
            "unsupported",
            format!(
                "{who}'{word}' (keepalived {}) is not supported by keepup yet; it is ignored",
                n.release
            ),
        )
        .at(s.keyword().span)
        .note(consequence),
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::{codes, load};

    /// A configuration with `line` in a block of `section`.
    fn in_section(section: &str, line: &str) -> String {
        match section {
            "global_defs" => format!("global_defs {{\n {line}\n}}\n"),
            "vrrp_instance" => format!(
                "vrrp_instance VI_1 {{\n interface eth0\n virtual_router_id 51\n \
                 virtual_ipaddress {{\n  10.0.0.1/24\n }}\n {line}\n}}\n"
            ),
            "bfd_instance" => {
                format!("bfd_instance B1 {{\n neighbor_ip 10.0.0.2\n {line}\n}}\n")
            }
            "SSL_GET" => format!(
                "virtual_server 10.0.0.1 443 {{\n real_server 10.0.0.2 443 {{\n  \
                 SSL_GET {{\n   url {{\n    path /\n    status_code 200\n   }}\n   \
                 {line}\n  }}\n }}\n}}\n"
            ),
            other => panic!("no test wrapper for section {other}"),
        }
    }

    /// Every newer keyword is read in its section: the ones keepup does not act on
    /// are named `unsupported` with their release, and none is an unknown keyword.
    #[test]
    fn every_newer_keyword_is_read_in_its_section() {
        for n in NEWER {
            let text = in_section(n.section, n.sample);
            let l = load(&text);
            let c = codes(&l);
            assert!(
                !c.contains(&"unknown-keyword"),
                "{} in {}: {}",
                n.keyword,
                n.section,
                l.render()
            );
            let said: Vec<_> = l
                .diagnostics
                .iter()
                .filter(|d| d.code == "unsupported")
                .collect();
            match n.support {
                Support::Done => assert!(
                    said.is_empty(),
                    "{} in {}: {}",
                    n.keyword,
                    n.section,
                    l.render()
                ),
                Support::NotYet { severity, .. } => {
                    assert_eq!(
                        said.len(),
                        1,
                        "{} in {}: {}",
                        n.keyword,
                        n.section,
                        l.render()
                    );
                    assert_eq!(said[0].severity, severity, "{}", n.keyword);
                    let wanted = format!("'{}' (keepalived {})", n.keyword, n.release);
                    assert!(said[0].message.contains(&wanted), "{}", said[0].message);
                }
            }
        }
    }

    #[test]
    fn the_instance_is_named() {
        let l = load(&in_section("vrrp_instance", "timer_expired_backup"));
        let d = l
            .diagnostics
            .iter()
            .find(|d| d.code == "unsupported")
            .expect("said");
        assert_eq!(d.severity, Severity::Warning);
        assert!(
            d.message.starts_with(
                "(VI_1) 'timer_expired_backup' (keepalived 2.2.8) is not supported by keepup yet"
            ),
            "{}",
            d.message
        );
        // Read all the same: the model keeps it (for reload diffs and dumps).
        assert_eq!(l.config.vrrp_instances[0].timer_expired_backup, Some(254));
        let l = load(&in_section("vrrp_instance", "thread_timer_expired 100"));
        assert_eq!(l.config.vrrp_instances[0].timer_expired_backup, Some(100));
    }

    /// A typo is still a typo.
    #[test]
    fn a_typo_is_still_unknown() {
        for (section, typo) in [
            ("global_defs", "use_symlink_path"),
            ("vrrp_instance", "timer_expired_bakup"),
            ("bfd_instance", "multi_hop"),
            ("SSL_GET", "tls_complaint"),
        ] {
            let l = load(&in_section(section, typo));
            assert!(
                codes(&l).contains(&"unknown-keyword"),
                "{typo}: {}",
                l.render()
            );
            assert!(
                !codes(&l).contains(&"unsupported"),
                "{typo}: {}",
                l.render()
            );
        }
    }

    /// The table has each (keyword, section) once.
    #[test]
    fn no_duplicates() {
        for (i, a) in NEWER.iter().enumerate() {
            for b in &NEWER[i + 1..] {
                assert!(
                    !(a.keyword == b.keyword && a.section == b.section),
                    "{} in {} twice",
                    a.keyword,
                    a.section
                );
            }
        }
    }
}
