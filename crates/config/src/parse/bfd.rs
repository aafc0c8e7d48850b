//! `bfd_instance NAME { ... }`.
//!
//! keepalived 2.2.7 drops a bfd_instance whose name is longer than 31 characters,
//! that repeats an earlier name or neighbor, that has no (or a malformed) neighbor,
//! or whose source and neighbor addresses are of different families. Each drop is
//! an Error here naming the instance.

use super::{dispatch, kw, values, Ctx, Kw};
use crate::diag::{Diagnostic, Severity};
use crate::model::{BfdInstance, Config, Secs};
use crate::tree::Stmt;
use std::net::IpAddr;

/// Longest bfd_instance name keepalived accepts.
const MAX_NAME: usize = 31;

/// Working state for one block: the instance and whether it must be dropped.
struct Build {
    bfd: BfdInstance,
    /// Set when the neighbor address was given but could not be read.
    bad_neighbor: bool,
}

/// A millisecond interval with microsecond resolution in `[min, max]` ms.
fn millis(s: &Stmt, min: f64, max: f64, cx: &mut Ctx) -> Option<Secs> {
    let t = values::one(s, cx)?;
    match t.text.parse::<f64>() {
        Ok(v) if v.is_finite() && v >= min && v <= max => Some(Secs::from_secs_f64(v / 1000.0)),
        _ => {
            cx.push(
                Diagnostic::new(
                    Severity::Error,
                    "out-of-range",
                    format!(
                        "{} '{}' is not a number of milliseconds in [{min}, {max}]; the line is ignored",
                        s.keyword().text,
                        t.text
                    ),
                )
                .at(t.span)
                .help("milliseconds, with up to 3 decimals (microseconds), e.g. 10 or 3.312"),
            );
            None
        }
    }
}

fn neighbor(b: &mut Build, s: &Stmt, cx: &mut Ctx) {
    let Some(t) = values::one(s, cx) else { return };
    match values::ip_tok(t, cx) {
        Some(ip) => {
            b.bfd.neighbor_ip = Some(ip);
            b.bad_neighbor = false;
        }
        None => b.bad_neighbor = true,
    }
}

fn weight(b: &mut Build, s: &Stmt, cx: &mut Ctx) {
    if !values::arity(s, 1, 2, cx) {
        return;
    }
    let a = s.args();
    let Some(w) = values::int_tok::<i32>(&a[0], -253, 253, cx) else {
        return;
    };
    let mut reverse = false;
    if let Some(r) = a.get(1) {
        if values::choice_tok(r, &["reverse"], false, cx).is_none() {
            return;
        }
        reverse = true;
    }
    b.bfd.weight = w;
    b.bfd.weight_reverse = reverse;
}

static BFD: &[Kw<Build>] = &[
    kw("neighbor_ip", neighbor),
    kw("neighbour_ip", neighbor),
    kw("source_ip", |b, s, cx| {
        if let Some(ip) = values::ip(s, cx) {
            b.bfd.source_ip = Some(ip);
        }
    }),
    kw("min_rx", |b, s, cx| {
        if let Some(v) = millis(s, 1.0, 4294967.0, cx) {
            b.bfd.min_rx = v;
        }
    }),
    kw("min_tx", |b, s, cx| {
        if let Some(v) = millis(s, 1.0, 4294967.0, cx) {
            b.bfd.min_tx = v;
        }
    }),
    kw("idle_tx", |b, s, cx| {
        if let Some(v) = millis(s, 1000.0, 4294967.0, cx) {
            b.bfd.idle_tx = v;
        }
    }),
    kw("multiplier", |b, s, cx| {
        if let Some(v) = values::int(s, 1, 255, cx) {
            b.bfd.multiplier = v;
        }
    }),
    kw("passive", |b, s, cx| {
        if values::arity(s, 0, 0, cx) {
            b.bfd.passive = true;
        }
    }),
    kw("ttl", |b, s, cx| {
        if let Some(v) = values::int(s, 1, 255, cx) {
            b.bfd.ttl = v;
        }
    }),
    kw("hoplimit", |b, s, cx| {
        if let Some(v) = values::int(s, 1, 255, cx) {
            b.bfd.hoplimit = v;
        }
    }),
    kw("max_hops", |b, s, cx| {
        if let Some(v) = values::int(s, -1, 255, cx) {
            b.bfd.max_hops = v;
        }
    }),
    kw("weight", weight),
    kw("vrrp", |b, s, cx| {
        if values::arity(s, 0, 0, cx) {
            b.bfd.vrrp = true;
        }
    }),
    kw("checker", |b, s, cx| {
        if values::arity(s, 0, 0, cx) {
            b.bfd.checker = true;
        }
    }),
    kw("multihop", |b, s, cx| {
        super::newer::not_yet(s, "bfd_instance", Some(&b.bfd.name), cx);
        if let Some(v) = values::flag(s, cx) {
            b.bfd.multihop = v;
        }
    }),
];

fn dropped(cx: &mut Ctx, span: crate::source::Span, name: &str, why: String) {
    cx.push(
        Diagnostic::new(
            Severity::Error,
            "bfd-instance-dropped",
            format!("bfd_instance '{name}' {why}; the bfd_instance is ignored"),
        )
        .at(span),
    );
}

pub fn bfd_instance(c: &mut Config, s: &Stmt, cx: &mut Ctx) {
    let Some(name_tok) = values::one(s, cx) else {
        return;
    };
    let Some(block) = cx.block(s) else { return };
    let name = name_tok.text.clone();
    cx.push(
        Diagnostic::new(
            Severity::Warning,
            "bfd-not-run",
            format!(
                "bfd_instance '{name}': keepup runs no BFD sessions yet; nothing is sent to \
                 or heard from this neighbour"
            ),
        )
        .at(name_tok.span),
    );
    if name.chars().count() > MAX_NAME {
        cx.push(
            Diagnostic::new(
                Severity::Error,
                "bfd-instance-dropped",
                format!(
                    "bfd_instance name '{name}' is longer than {MAX_NAME} characters; the bfd_instance is ignored"
                ),
            )
            .at(name_tok.span)
            .help(format!("use a name of at most {MAX_NAME} characters")),
        );
        return;
    }
    if c.bfd_instances.iter().any(|b| b.name == name) {
        cx.error(
            "duplicate",
            name_tok.span,
            format!("bfd_instance '{name}' is already defined; this one is ignored"),
        );
        return;
    }
    let mut b = Build {
        bfd: BfdInstance {
            name: name.clone(),
            span: name_tok.span,
            ..BfdInstance::default()
        },
        bad_neighbor: false,
    };
    dispatch(
        &mut b,
        &block.items,
        BFD,
        &format!("bfd_instance {name}"),
        cx,
    );
    let span = name_tok.span;
    if b.bad_neighbor {
        dropped(cx, span, &name, "has a malformed neighbor_ip".into());
        return;
    }
    let Some(nb) = b.bfd.neighbor_ip else {
        let d = Diagnostic::new(
            Severity::Error,
            "bfd-instance-dropped",
            format!("bfd_instance '{name}' has no neighbor_ip; the bfd_instance is ignored"),
        )
        .at(span)
        .help("add 'neighbor_ip ADDRESS' to the block");
        cx.push(d);
        return;
    };
    if let Some(src) = b.bfd.source_ip {
        if src.is_ipv4() != nb.is_ipv4() {
            let fam = |a: IpAddr| if a.is_ipv4() { "IPv4" } else { "IPv6" };
            dropped(
                cx,
                span,
                &name,
                format!(
                    "has source_ip {src} ({}) and neighbor_ip {nb} ({}) of different families",
                    fam(src),
                    fam(nb)
                ),
            );
            return;
        }
    }
    if let Some(other) = c.bfd_instances.iter().find(|o| o.neighbor_ip == Some(nb)) {
        let other = other.name.clone();
        dropped(
            cx,
            span,
            &name,
            format!("has neighbor_ip {nb}, which bfd_instance '{other}' already uses"),
        );
        return;
    }
    c.bfd_instances.push(b.bfd);
}

/// The checks above need the instance being built, so they run as each block
/// is read; nothing is left for the whole-config pass.
pub fn validate(_c: &Config, _cx: &mut Ctx) {}

#[cfg(test)]
mod tests {
    use crate::model::Secs;
    use crate::testutil::load;
    use crate::Loaded;

    /// The findings of `l` but the one every bfd_instance gets (keepup runs no BFD),
    /// which `bfd_is_not_run_and_says_so` checks.
    fn codes(l: &Loaded) -> Vec<&'static str> {
        crate::testutil::codes(l)
            .into_iter()
            .filter(|c| *c != "bfd-not-run")
            .collect()
    }

    /// keepup runs no BFD sessions: each bfd_instance and each track_bfd says so
    /// (nothing is silently dropped).
    #[test]
    fn bfd_is_not_run_and_says_so() {
        let l = load(
            "bfd_instance B1 {\n neighbor_ip 10.0.0.2\n}\nvrrp_instance VI_1 {\n interface eth0\n virtual_router_id 51\n virtual_ipaddress {\n  10.0.0.1/24\n }\n track_bfd {\n  B1\n }\n}\n",
        );
        let not_run: Vec<String> = l
            .diagnostics
            .iter()
            .filter(|d| d.code == "bfd-not-run")
            .map(|d| d.message.clone())
            .collect();
        assert_eq!(not_run.len(), 2, "{}", l.render());
        assert!(not_run[0].contains("bfd_instance 'B1': keepup runs no BFD"));
        assert!(not_run[1].contains("(VI_1) track_bfd"), "{not_run:?}");
    }

    #[test]
    fn every_keyword() {
        let l = load(
            "bfd_instance B1 {\n neighbour_ip 10.0.0.2\n source_ip 10.0.0.1\n min_rx 3.312\n min_tx 20\n idle_tx 2000\n multiplier 3\n passive\n ttl 64\n hoplimit 10\n max_hops -1\n weight -10 reverse\n vrrp\n checker\n multihop\n}\n",
        );
        // multihop (keepalived 2.2.8) is read and said not supported yet.
        assert_eq!(codes(&l), ["unsupported"], "{}", l.render());
        assert!(l.render().contains("(B1) 'multihop'"), "{}", l.render());
        let b = &l.config.bfd_instances[0];
        assert_eq!(
            b.neighbor_ip.map(|a| a.to_string()).as_deref(),
            Some("10.0.0.2")
        );
        assert_eq!(b.min_rx, Secs { micros: 3312 });
        assert_eq!(b.min_tx, Secs::from_millis(20));
        assert_eq!(b.idle_tx, Secs::from_millis(2000));
        assert_eq!(
            (b.multiplier, b.ttl, b.hoplimit, b.max_hops),
            (3, 64, 10, -1)
        );
        assert_eq!((b.weight, b.weight_reverse), (-10, true));
        assert!(b.passive && b.vrrp && b.checker && b.multihop);
    }

    #[test]
    fn defaults() {
        let l = load("bfd_instance B {\n neighbor_ip 2001:db8::1\n}\n");
        let b = &l.config.bfd_instances[0];
        assert_eq!(b.min_rx, Secs::from_millis(10));
        assert_eq!(b.idle_tx, Secs::from_millis(1000));
        assert_eq!(
            (b.multiplier, b.ttl, b.hoplimit, b.max_hops, b.weight),
            (5, 255, 64, 0, 0)
        );
    }

    #[test]
    fn ranges() {
        let l = load(
            "bfd_instance B {\n neighbor_ip 10.0.0.2\n min_rx 0.5\n idle_tx 999\n multiplier 0\n ttl 256\n max_hops -2\n weight 254\n weight 1 backwards\n}\n",
        );
        assert_eq!(
            codes(&l),
            vec![
                "out-of-range",
                "out-of-range",
                "out-of-range",
                "out-of-range",
                "out-of-range",
                "out-of-range",
                "bad-value"
            ]
        );
        assert_eq!(l.config.bfd_instances[0].min_rx, Secs::from_millis(10));
    }

    #[test]
    fn dropped_instances() {
        let l = load(
            "bfd_instance A {\n neighbor_ip 10.0.0.2\n}\nbfd_instance A {\n neighbor_ip 10.0.0.3\n}\nbfd_instance B {\n min_rx 5\n}\nbfd_instance C {\n neighbor_ip 10.0.0.2\n}\nbfd_instance D {\n neighbor_ip 2001:db8::2\n source_ip 10.0.0.1\n}\nbfd_instance E {\n neighbor_ip nope\n}\nbfd_instance ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456 {\n neighbor_ip 10.0.0.9\n}\n",
        );
        assert_eq!(
            codes(&l),
            vec![
                "duplicate",
                "bfd-instance-dropped",
                "bfd-instance-dropped",
                "bfd-instance-dropped",
                "bfd-instance-dropped",
                "bad-value",
                "bfd-instance-dropped"
            ]
        );
        let names: Vec<_> = l
            .config
            .bfd_instances
            .iter()
            .map(|b| b.name.as_str())
            .collect();
        assert_eq!(names, vec!["A"]);
    }

    #[test]
    fn unknown_keyword() {
        let l = load("bfd_instance A {\n neighbor_ip 10.0.0.2\n min_rxx 5\n}\n");
        assert_eq!(codes(&l), vec!["unknown-keyword"]);
        let unknown = l.diagnostics.iter().find(|d| d.code == "unknown-keyword");
        assert_eq!(
            unknown.and_then(|d| d.help.as_deref()),
            Some("did you mean 'min_rx'?")
        );
    }
}
