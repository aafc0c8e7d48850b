//! IPVS in a real kernel (the qemu VM of keepup_testkit::vm): keepup and keepalived 2.2.7
//! read the same configurations and must leave the same table in the kernel, as
//! `ipvsadm -Sn` prints it (sorted; scheduler, flags, persistence, engine, forwarding,
//! tunnels and weights appear there) plus each destination's thresholds. One boot runs every case for both
//! daemons. Differences that are keepalived's bugs are listed in KNOWN with the reason.
//!
//! For keepup, `keepup status` must show the same table as `ipvsadm -Ln --sort`.
//!
//! Each daemon is also sent SIGUSR1 once its table is complete: the keepalived_check.data
//! each writes (virtual servers, real servers, checkers and their start states) must
//! be the same, but for what [`check_data`] leaves out, with its reasons.
//!
//! Checkers cannot reach any real server in the VM (a dummy interface carries the default
//! route, so their connections time out): each table is read as soon as it is complete
//! and stable, before the first check could fail, so both daemons show their start table.
#![allow(clippy::unwrap_used)]

use std::collections::BTreeSet;
use std::path::Path;
use std::time::Duration;

use keepup_testkit::vm::VmJob;

const KEEPUP: &str = env!("CARGO_BIN_EXE_keepup");

/// A configuration of our own, named for what it covers.
struct Case {
    name: String,
    conf: String,
}

fn case(name: &str, conf: &str) -> Case {
    Case {
        name: name.to_owned(),
        conf: conf.to_owned(),
    }
}

/// Every scheduler the kernel package has, one service each.
fn scheduler_cases() -> Vec<Case> {
    let mut conf = String::new();
    let scheds = [
        "rr", "wrr", "lc", "wlc", "lblc", "lblcr", "dh", "sh", "sed", "nq", "fo", "ovf", "mh",
    ];
    for (i, s) in scheds.iter().enumerate() {
        conf.push_str(&format!(
            "virtual_server 10.1.0.{n} 80 {{\n  lb_algo {s}\n  lb_kind NAT\n  protocol TCP\n  \
             real_server 10.2.0.1 8080 {{ weight {w} }}\n  real_server 10.2.0.2 8080 {{ }}\n}}\n",
            n = i + 1,
            w = i + 1
        ));
    }
    vec![case("schedulers", &conf)]
}

fn own_cases() -> Vec<Case> {
    let mut cases = scheduler_cases();
    cases.push(case(
        "methods",
        r#"
virtual_server 10.1.1.1 80 {
  lb_algo wlc
  lb_kind DR
  protocol TCP
  real_server 10.2.1.1 80 { }
  real_server 10.2.1.2 80 { lvs_method NAT }
  real_server 10.2.1.3 80 { lvs_method TUN }
  real_server 10.2.1.4 80 { lvs_method TUN type ipip }
  real_server 10.2.1.5 80 { lvs_method TUN type gue port 6080 }
  real_server 10.2.1.6 80 { lvs_method TUN type gue port 6081 csum }
  real_server 10.2.1.7 80 { lvs_method TUN type gue port 6082 remcsum }
  real_server 10.2.1.8 80 { lvs_method TUN type gre }
  real_server 10.2.1.9 80 { lvs_method TUN type gre csum }
  real_server 10.2.1.10 80 { lvs_method TUN type gue port 6083 nocsum }
}
virtual_server 10.1.1.2 80 {
  lb_kind TUN
  protocol TCP
  real_server 10.2.1.1 80 { weight 7 }
}
"#,
    ));
    cases.push(case(
        "protocols-persistence-flags",
        r#"
virtual_server 10.1.2.1 53 {
  lb_algo rr
  protocol UDP
  ops
  real_server 10.2.2.1 53 { }
}
virtual_server 10.1.2.2 3868 {
  lb_algo rr
  protocol SCTP
  real_server 10.2.2.1 3868 { }
}
virtual_server 10.1.2.3 80 {
  lb_algo sh
  protocol TCP
  sh-port
  sh-fallback
  persistence_timeout 300
  persistence_granularity 255.255.255.0
  real_server 10.2.2.1 80 { }
}
virtual_server 10.1.2.4 5060 {
  lb_algo rr
  protocol UDP
  persistence_engine sip
  persistence_timeout 60
  real_server 10.2.2.1 5060 { }
}
virtual_server 10.1.2.5 80 {
  lb_algo mh
  protocol TCP
  mh-port
  mh-fallback
  persistence_timeout
  real_server 10.2.2.1 80 { }
}
virtual_server 10.1.2.6 80 {
  lb_algo wrr
  protocol TCP
  hashed
  flag-1
  flag-3
  real_server 10.2.2.1 80 {
    uthreshold 100
    lthreshold 10
  }
  real_server 10.2.2.2 80 { weight 0 }
}
virtual_server 10.1.2.7 {
  lb_algo rr
  protocol TCP
  persistence_timeout 30
  real_server 10.2.2.1 { }
}
"#,
    ));
    cases.push(case(
        "fwmark-ipv6",
        r#"
virtual_server fwmark 5 {
  lb_algo rr
  lb_kind DR
  persistence_timeout 100
  real_server 10.2.3.1 { }
  real_server 10.2.3.2 { weight 2 }
}
virtual_server fwmark 6 {
  lb_algo rr
  lb_kind DR
  real_server fc00:2:3::1 { }
}
virtual_server fc00:1:3::1 443 {
  lb_algo wlc
  lb_kind NAT
  protocol TCP
  persistence_timeout 50
  persistence_granularity 64
  real_server fc00:2:3::1 8443 { }
  real_server fc00:2:3::2 8443 { weight 3 }
}
"#,
    ));
    cases.push(case(
        "groups",
        r#"
virtual_server_group web {
  10.1.4.1 80
  10.1.4.10-12 8080
  10.1.4.20/30 81
  fwmark 9
}
virtual_server_group web6 {
  fc00:1:4::1-3 80
  fwmark 10 inet6
}
virtual_server group web {
  lb_algo rr
  lb_kind DR
  protocol TCP
  real_server 10.2.4.1 80 { }
  real_server 10.2.4.2 { }
}
virtual_server group web6 {
  lb_algo rr
  lb_kind DR
  protocol TCP
  real_server fc00:2:4::1 80 { }
}
"#,
    ));
    cases.push(case(
        "sorry-inhibit-alpha",
        r#"
virtual_server 10.1.5.1 80 {
  lb_algo rr
  protocol TCP
  quorum 10
  sorry_server 10.2.5.9 80
  real_server 10.2.5.1 80 { }
}
virtual_server 10.1.5.2 80 {
  lb_algo rr
  protocol TCP
  quorum 10
  sorry_server 10.2.5.9 80
  sorry_server_inhibit
  sorry_server_lvs_method DR
  real_server 10.2.5.1 80 { }
}
virtual_server 10.1.5.3 80 {
  lb_algo rr
  protocol TCP
  alpha
  inhibit_on_failure
  real_server 10.2.5.1 80 {
    TCP_CHECK { connect_timeout 10 }
  }
  real_server 10.2.5.2 80 {
    inhibit_on_failure
    weight 4
    TCP_CHECK { connect_timeout 10 }
  }
}
virtual_server 10.1.5.4 80 {
  lb_algo rr
  protocol TCP
  alpha
  real_server 10.2.5.1 80 {
    TCP_CHECK { connect_timeout 10 }
  }
  real_server 10.2.5.2 80 { }
}
"#,
    ));
    cases
}

/// The samples of ../shared/keepalived-samples that declare virtual servers.
fn sample_cases() -> Vec<Case> {
    let root = std::env::var("KEEPUP_SHARED")
        .unwrap_or_else(|_| concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared").to_owned());
    let samples = Path::new(&root).join("keepalived-samples");
    let mut out = Vec::new();
    for dir in ["doc/samples", "historical", "keepalived/etc/keepalived"] {
        let Ok(entries) = std::fs::read_dir(samples.join(dir)) else {
            continue;
        };
        let mut paths: Vec<_> = entries.flatten().map(|e| e.path()).collect();
        paths.sort();
        for p in paths {
            let Ok(conf) = std::fs::read_to_string(&p) else {
                continue;
            };
            if conf
                .lines()
                .any(|l| l.trim_start().starts_with("virtual_server "))
            {
                let name = p.strip_prefix(&samples).unwrap().display().to_string();
                out.push(Case {
                    name: name.replace('/', "_"),
                    conf,
                });
            }
        }
    }
    assert!(
        out.len() >= 10,
        "expected the keepalived samples with virtual servers under {}",
        samples.display()
    );
    out
}

/// keepalived_check.data lines keepalived 2.2.7 writes and keepup does not, by their
/// start (after the indent); the reasons are in crates/daemon/src/dumps/check.rs.
const CHECK_DATA_NOT_WRITTEN: &[&str] = &[
    "Alive: ",
    "reloaded = ",
    "previous effective_weight = ",
    "Current weight = ",
    "Retries iterations = ",
    "Default delay before retry = ",
    "Last ran = ",
    "Last status = ",
];

/// keepalived_check.data as compared: from "LVS Topology" on (keepup writes neither
/// "Global definitions" nor "SSL definitions"), without [`CHECK_DATA_NOT_WRITTEN`].
/// A real server's "Using smtp notification" is left out of both: keepalived 2.2.7
/// prints its "unset" marker (-1) as "yes", keepup the value it acts on. keepup's
/// FILE_CHECK entries are left out (keepalived lists none), and its MISC_CHECKs of a
/// script that does not exist (keepalived drops those checkers).
fn check_data(text: &str, ours: bool) -> Vec<String> {
    let mut out = Vec::new();
    let mut in_rs = false;
    let mut skip_checker = false;
    let mut entry: Vec<String> = Vec::new();
    for l in text
        .lines()
        .skip_while(|l| !l.starts_with("------< LVS Topology"))
    {
        let t = l.trim_start();
        if CHECK_DATA_NOT_WRITTEN.iter().any(|p| t.starts_with(p)) {
            continue;
        }
        if t.starts_with("------< Real server") {
            in_rs = true;
        } else if t.starts_with("------<") || l.starts_with(" VS ") {
            in_rs = false;
        }
        if in_rs && t.starts_with("Using smtp notification") {
            continue;
        }
        // A checker's entry starts at a one-space line after the section header.
        if l.starts_with(' ') && !l.starts_with("  ") && t.contains(" -> ") {
            if !skip_checker {
                out.append(&mut entry);
            }
            entry.clear();
            skip_checker = false;
        }
        if ours && t == "Keepalive method = FILE_CHECK" {
            skip_checker = true;
        }
        // A MISC_CHECK whose script does not exist: keepalived drops the checker at
        // load (its real server then counts as up); keepup keeps it, and it fails.
        if let Some(path) = t
            .strip_prefix("script = '")
            .and_then(|r| r.split('\'').next())
        {
            skip_checker |= ours && !Path::new(path).is_file();
        }
        entry.push(l.to_owned());
    }
    if !skip_checker {
        out.append(&mut entry);
    }
    // The checkers' header with no checker left under it.
    if out
        .last()
        .is_some_and(|l| l.starts_with("------< Health checkers"))
    {
        out.pop();
    }
    out
}

/// Whether keepup's keepalived_check.data has a MISC_CHECK of a script that does not
/// exist (see [`check_data`]).
fn missing_script(text: &str) -> bool {
    text.lines().any(|l| {
        l.trim_start()
            .strip_prefix("script = '")
            .and_then(|r| r.split('\'').next())
            .is_some_and(|p| !Path::new(p).is_file())
    })
}

/// Differences between the two tables that are keepalived 2.2.7's, not ours: (case,
/// the line as keepup has it, as keepalived has it, why).
const KNOWN: &[(&str, &str, &str, &str)] = &[];

/// The guest's script: for each case and daemon, start the daemon (checkers only), read
/// the table once it is complete and stable, stop the daemon, clear the table.
fn guest_script(job: &VmJob, cases: &[Case]) -> String {
    let mut s = String::from(
        r#"
ip link set lo up
ip link add d0 type dummy && ip link set d0 up
ip addr add 10.250.0.1/16 dev d0 && ip route add default dev d0
ip -6 addr add fc00:250::1/64 dev d0 nodad && ip -6 route add default dev d0
modprobe ip_vs
# Waits until the table is non-empty and unchanged over three reads 0.2 s apart.
settle() {
  prev=""; same=0; i=0
  while [ $i -lt 50 ]; do
    cur="$(ipvsadm -Sn | sort)"
    if [ -n "$cur" ] && [ "$cur" = "$prev" ]; then same=$((same+1)); else same=0; fi
    [ $same -ge 2 ] && return 0
    prev="$cur"; i=$((i+1)); sleep 0.2
  done
}
run_case() {  # name conf daemon command...
  name=$1; conf=$2; daemon=$3; shift 3
  "$@" > "$name.$daemon.log" 2>&1 &
  pid=$!
  settle
  { ipvsadm -Sn
    # Thresholds are not in -S: one line per destination, with its service.
    ipvsadm -Ln --thresholds | awk '/^(TCP|UDP|SCTP|FWM)/ {svc=$1" "$2}
      /->/ && $2 != "RemoteAddress:Port" {print "thresholds " svc " -> " $2 " " $3 " " $4}'
  } | sort > "$name.$daemon.table"
  # keepalived_check.data on SIGUSR1 (keepalived writes it in place: a moment more).
  rm -f /tmp/keepalived_check.data
  kill -USR1 $pid
  i=0
  while [ ! -s /tmp/keepalived_check.data ] && [ $i -lt 30 ]; do i=$((i+1)); sleep 0.1; done
  sleep 0.3
  cp /tmp/keepalived_check.data "$name.$daemon.checkdata" 2>/dev/null
  if [ "$daemon" = keepup ]; then
    # keepup status shows the kernel's table as ipvsadm -Ln --sort (read when asked;
    # the retries are for the kernel's counters, which may move between the two reads).
    i=0
    while [ $i -lt 25 ]; do
      "$1" status --runtime-dir "/run/keepup-$name" \
        | sed -n '/^IP Virtual Server/,$p' | grep -v '^  (not keepup' > "$name.status"
      ipvsadm -Ln --sort > "$name.ipvsadm"
      cmp -s "$name.status" "$name.ipvsadm" && break
      i=$((i+1)); sleep 0.2
    done
  fi
  kill -TERM $pid; wait $pid
  ipvsadm -C
}
"#,
    );
    for c in cases {
        let conf = job.write(&format!("{}.conf", c.name), &c.conf).unwrap();
        let conf = conf.display();
        let n = &c.name;
        s.push_str(&format!(
            "run_case {n} {conf} keepalived keepalived -C -n -l -D -f {conf} \
             -p /run/{n}.pid -c /run/{n}.c.pid -r /run/{n}.v.pid\n\
             run_case {n} {conf} keepup {KEEPUP} run -C -f {conf} --runtime-dir /run/keepup-{n}\n"
        ));
    }
    s
}

fn lines(job: &VmJob, name: &str, daemon: &str) -> BTreeSet<String> {
    job.read(&format!("{name}.{daemon}.table"))
        .unwrap_or_default()
        .lines()
        .map(str::to_owned)
        .collect()
}

#[test]
fn qemu_ipvs_tables_match_keepalived() {
    let mut cases = own_cases();
    cases.extend(sample_cases());
    let job = VmJob::new("tables").unwrap();
    let script = guest_script(&job, &cases);
    let run = job.run(&script, Duration::from_secs(900)).unwrap();
    assert_eq!(run.rc, 0, "guest:\n{}", run.output);
    let mut report = String::new();
    for c in &cases {
        let ka = lines(&job, &c.name, "keepalived");
        let ku = lines(&job, &c.name, "keepup");
        let known = |ours: &str, theirs: &str| {
            KNOWN
                .iter()
                .any(|(n, u, k, _)| *n == c.name && (*u == ours || *k == theirs))
        };
        for l in ku.difference(&ka).filter(|l| !known(l, "")) {
            report.push_str(&format!("{}: keepup only:      {l}\n", c.name));
        }
        for l in ka.difference(&ku).filter(|l| !known("", l)) {
            report.push_str(&format!("{}: keepalived only:  {l}\n", c.name));
        }
        let status = job.read(&format!("{}.status", c.name)).unwrap_or_default();
        let ipvsadm = job.read(&format!("{}.ipvsadm", c.name)).unwrap_or_default();
        if status != ipvsadm {
            report.push_str(&format!(
                "{}: keepup status differs from ipvsadm -Ln --sort:\n{status}\n---\n{ipvsadm}\n",
                c.name
            ));
        }
        let ka_data = check_data(
            &job.read(&format!("{}.keepalived.checkdata", c.name))
                .unwrap_or_default(),
            false,
        );
        let ku_text = job
            .read(&format!("{}.keepup.checkdata", c.name))
            .unwrap_or_default();
        let mut ku_data = check_data(&ku_text, true);
        let mut ka_data = ka_data;
        // A MISC_CHECK of a missing script: keepalived dropped the checker, keepup's
        // fails; whether it has failed yet when SIGUSR1 comes is a race, and so is the
        // virtual server's quorum then (an RS's own state is not compared).
        if missing_script(&ku_text) {
            for d in [&mut ka_data, &mut ku_data] {
                d.retain(|l| !l.trim_start().starts_with("quorum_state_up = "));
            }
        }
        if ka_data.is_empty() || ka_data != ku_data {
            let at = ka_data
                .iter()
                .zip(&ku_data)
                .position(|(a, b)| a != b)
                .unwrap_or(ka_data.len().min(ku_data.len()));
            let from = at.saturating_sub(3);
            report.push_str(&format!(
                "{}: keepalived_check.data differs at line {} (of {} / {}):\n  keepalived:\n{}\n  keepup:\n{}\n",
                c.name,
                at + 1,
                ka_data.len(),
                ku_data.len(),
                ka_data.iter().skip(from).take(8).cloned().collect::<Vec<_>>().join("\n"),
                ku_data.iter().skip(from).take(8).cloned().collect::<Vec<_>>().join("\n"),
            ));
        }
        if ka.is_empty() && ku.is_empty() {
            report.push_str(&format!(
                "{}: both tables empty (case proves nothing)\n",
                c.name
            ));
        }
    }
    if !report.is_empty() {
        let logs: String = cases
            .iter()
            .map(|c| {
                format!(
                    "--- {} keepup log:\n{}\n",
                    c.name,
                    job.read(&format!("{}.keepup.log", c.name))
                        .unwrap_or_default()
                )
            })
            .collect();
        panic!("tables differ:\n{report}\n{logs}");
    }
    eprintln!("{} cases, boot and runs {:?}", cases.len(), run.elapsed);
}

/// The kernel refuses one entry (a scheduler this kernel does not have): that virtual
/// server is named in one error line with a hint, and every other entry is programmed.
/// A service someone created before keepup started, which keepup wants, is adopted and
/// corrected (its scheduler edited in place); another tool's service is left alone, at
/// start and at stop.
#[test]
fn qemu_ipvs_kernel_refusals_are_per_entry() {
    let job = VmJob::new("refusals").unwrap();
    let conf = job
        .write(
            "k.conf",
            r#"
virtual_server 10.5.0.1 80 {
  lb_algo twos
  protocol TCP
  real_server 10.6.0.1 80 { }
}
virtual_server 10.5.0.2 80 {
  lb_algo rr
  protocol TCP
  real_server 10.6.0.1 80 { }
  real_server 10.6.0.2 80 { }
}
virtual_server 10.5.0.3 80 {
  lb_algo rr
  protocol TCP
  real_server 10.6.0.3 80 { }
}
"#,
        )
        .unwrap();
    let script = format!(
        r#"
modprobe ip_vs
ip link set lo up
ipvsadm -A -t 10.5.0.3:80 -s wlc
ipvsadm -A -t 10.5.0.9:80 -s rr
{KEEPUP} run -C -f {conf} --runtime-dir /run/k > keepup.log 2>&1 &
pid=$!
i=0
while [ $i -lt 50 ] && ! ipvsadm -Sn | grep -q 'r 10.6.0.3:80'; do i=$((i+1)); sleep 0.2; done
sleep 1
ipvsadm -Sn | sort > during
kill -TERM $pid; wait $pid
ipvsadm -Sn | sort > after
"#,
        conf = conf.display()
    );
    let run = job.run(&script, Duration::from_secs(300)).unwrap();
    assert_eq!(run.rc, 0, "guest:\n{}", run.output);
    let log = job.read("keepup.log").unwrap_or_default();
    let during = job.read("during").unwrap();
    let want = [
        "-A -t 10.5.0.2:80 -s rr",
        "-A -t 10.5.0.3:80 -s rr",
        "-A -t 10.5.0.9:80 -s rr",
        "-a -t 10.5.0.2:80 -r 10.6.0.1:80 -m -w 1",
        "-a -t 10.5.0.2:80 -r 10.6.0.2:80 -m -w 1",
        "-a -t 10.5.0.3:80 -r 10.6.0.3:80 -m -w 1",
    ];
    assert_eq!(during.lines().collect::<Vec<_>>(), want, "log:\n{log}");
    let refused = "IPVS: adding service TCP 10.5.0.1:80 (virtual_server 10.5.0.1:80): \
                   No such file or directory (os error 2); is the scheduler 'twos' \
                   available (module ip_vs_twos)?";
    assert_eq!(log.matches(refused).count(), 1, "{log}");
    assert_eq!(
        log.matches(" ERROR ").count(),
        1,
        "one error line only:\n{log}"
    );
    assert_eq!(
        job.read("after").unwrap().trim(),
        "-A -t 10.5.0.9:80 -s rr",
        "at stop only keepup's entries go:\n{log}"
    );
}
