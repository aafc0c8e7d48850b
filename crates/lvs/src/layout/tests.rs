//! A layout gives what `desired` gives, for any pools: on configurations that
//! exercise every rule of the builder, and on keepalived's own samples when they are
//! there (../shared/keepalived-samples).
use std::path::Path;

use proptest::prelude::*;

use super::*;
use crate::desired;

/// Two virtual servers in one service (the first one's settings and destinations win),
/// a sorry server that is also a real server, groups with ranges and fwmarks, tunnels,
/// a server of the other family, thresholds, inhibit. (What the parser refuses, such
/// as a gue tunnel without a port, never reaches the builder.)
const RULES: &str = r#"
virtual_server_group g1 {
  10.9.0.1-3 80
  fwmark 7
}
virtual_server_group g6 {
  fd00::1 443
}
virtual_server 10.0.0.1 80 {
  lb_algo wrr
  lb_kind NAT
  protocol TCP
  sorry_server 10.0.1.2 8080
  real_server 10.0.1.1 8080 {
    weight 2
    uthreshold 100
    lthreshold 10
  }
  real_server 10.0.1.2 8080 { weight 3 }
  real_server 10.0.1.3 80 { }
}
virtual_server 10.0.0.1 80 {
  lb_algo rr
  lb_kind DR
  protocol TCP
  real_server 10.0.1.1 80 { weight 5 }
  real_server 10.0.1.3 80 { inhibit_on_failure }
}
virtual_server group g1 {
  lb_algo sh
  lb_kind TUN
  protocol TCP
  persistence_timeout 30
  real_server 10.0.2.1 { }
  real_server 10.0.2.2 { lvs_method TUN type gue port 6080 }
  real_server 10.0.2.3 { lvs_method TUN type gre csum }
  real_server 10.0.2.4 { lvs_method NAT }
}
virtual_server group g6 {
  lb_kind DR
  protocol TCP
  real_server fd00::2 443 { }
  real_server 10.0.3.1 443 { }
}
virtual_server fwmark 9 {
  lb_kind NAT
  sorry_server 10.0.4.9 80
  real_server 10.0.4.1 { }
  real_server 10.0.4.9 { weight 4 }
}
"#;

fn load(text: &str) -> Config {
    keepup_config::load_str("t.conf", text, &Default::default()).config
}

/// Random pools for `config`: each member in or out, at a weight from 0 to 4, in the
/// checkers' order (real servers by index, then the sorry server).
fn pools_for(config: &Config) -> impl Strategy<Value = Pools> {
    let shape: Vec<(usize, bool)> = config
        .virtual_servers
        .iter()
        .map(|v| (v.real_servers.len(), v.sorry_server.is_some()))
        .collect();
    let n: usize = shape.iter().map(|(r, s)| r + usize::from(*s)).sum();
    proptest::collection::vec(proptest::option::of(0u32..5), n).prop_map(move |picks| {
        let mut picks = picks.into_iter();
        let mut pools = Pools::new();
        for (vs, &(reals, sorry)) in shape.iter().enumerate() {
            let members = (0..reals)
                .map(Member::Real)
                .chain(sorry.then_some(Member::Sorry));
            let pool: Vec<(Member, u32)> = members
                .filter_map(|m| picks.next().flatten().map(|w| (m, w)))
                .collect();
            pools.insert(vs, pool);
        }
        pools
    })
}

fn same(config: &Config, layout: &Layout, pools: &Pools) -> Result<(), TestCaseError> {
    let want = desired(config, pools);
    let got = layout.desired(pools);
    prop_assert_eq!(&got.table, &want.table);
    prop_assert_eq!(&got.origins, &want.origins);
    prop_assert_eq!(&got.nft, &want.nft);
    prop_assert_eq!(&got.marks, &want.marks);
    Ok(())
}

/// RULES under `nftables_ipvs`: group g6 is marked (g1 has a fwmark entry).
fn marked_rules() -> String {
    format!("global_defs {{\n nftables_ipvs\n}}\n{RULES}")
}

proptest! {
    #[test]
    fn a_layout_gives_the_table_desired_gives(pools in pools_for(&load(RULES))) {
        let config = load(RULES);
        same(&config, &Layout::new(&config), &pools)?;
    }

    #[test]
    fn a_layout_gives_the_table_desired_gives_with_nftables_ipvs(
        pools in pools_for(&load(&marked_rules()))
    ) {
        let config = load(&marked_rules());
        let layout = Layout::new(&config);
        prop_assert!(layout.desired(&pools).nft.is_some_and(|n| !n.is_empty()));
        same(&config, &layout, &pools)?;
    }
}

#[test]
fn the_rules_configuration_exercises_the_builder() {
    let config = load(RULES);
    let full: Pools = (0..config.virtual_servers.len())
        .map(|vs| {
            let v = &config.virtual_servers[vs];
            let members = (0..v.real_servers.len())
                .map(Member::Real)
                .chain(v.sorry_server.iter().map(|_| Member::Sorry));
            (vs, members.map(|m| (m, 1)).collect())
        })
        .collect();
    let problems = desired(&config, &full).problems;
    for wanted in ["ServiceConflict", "FamilyMismatch", "DestConflict"] {
        assert!(
            problems
                .iter()
                .any(|p| format!("{p:?}").starts_with(wanted)),
            "{wanted} not among {problems:#?}"
        );
    }
    assert!(desired(&config, &full).table.services.len() >= 7);
}

#[test]
fn pools_naming_what_is_not_there_are_problems() {
    let config = load(RULES);
    let layout = Layout::new(&config);
    let pools: Pools = [
        (0, vec![(Member::Real(9), 1)]),
        (1, vec![(Member::Sorry, 1)]),
        (42, vec![]),
    ]
    .into_iter()
    .collect();
    let got = layout.desired(&pools).problems;
    for p in [
        Problem::UnknownRealServer { vs: 0, rs: 9 },
        Problem::NoSorryServer { vs: 1 },
        Problem::UnknownVirtualServer { vs: 42 },
    ] {
        assert!(got.contains(&p), "{p:?} not in {got:#?}");
    }
}

/// keepalived's samples with virtual servers, each with a few random pools.
#[test]
fn the_samples_agree_too() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/keepalived-samples");
    let Ok(dirs) = std::fs::read_dir(&root) else {
        eprintln!(
            "no samples at {}; the rules configuration covers the builder",
            root.display()
        );
        return;
    };
    let mut files = Vec::new();
    let mut stack: Vec<_> = dirs.flatten().map(|e| e.path()).collect();
    while let Some(p) = stack.pop() {
        if p.is_dir() {
            stack.extend(
                std::fs::read_dir(&p)
                    .into_iter()
                    .flatten()
                    .flatten()
                    .map(|e| e.path()),
            );
        } else if std::fs::read_to_string(&p).is_ok_and(|t| t.contains("virtual_server")) {
            files.push(p);
        }
    }
    let mut runner = proptest::test_runner::TestRunner::deterministic();
    let mut checked = 0;
    for f in &files {
        let config = keepup_config::load_file(f, &Default::default()).config;
        if config.virtual_servers.is_empty() {
            continue;
        }
        let layout = Layout::new(&config);
        runner
            .run(&pools_for(&config), |pools| same(&config, &layout, &pools))
            .unwrap_or_else(|e| panic!("{}: {e}", f.display()));
        checked += 1;
    }
    assert!(
        checked > 0,
        "no sample with virtual servers under {}",
        root.display()
    );
}

#[test]
fn problems_name_their_virtual_servers() {
    let config = load(RULES);
    let layout = Layout::new(&config);
    let names: Vec<String> = config
        .virtual_servers
        .iter()
        .map(|v| format!("[{}]", v.address))
        .collect();
    let d = layout.desired(&Pools::new());
    let conflict = d
        .problems
        .iter()
        .find(|p| matches!(p, Problem::ServiceConflict { .. }))
        .expect("the two virtual servers of 10.0.0.1:80");
    assert_eq!(
        conflict.named(&names).to_string(),
        format!(
            "virtual servers {} and {} both define TCP 10.0.0.1:80 with other settings; the first one's are used",
            names[0], names[1]
        )
    );
    // Without names, the index.
    assert!(conflict
        .to_string()
        .starts_with("virtual servers #0 and #1 both define"));
}
