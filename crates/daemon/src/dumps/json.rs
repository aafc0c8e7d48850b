//! `keepalived.json` (SIGJSON): keepalived's `vrrp_json.c` field for field, in its
//! order and number formats, written the way its small JSON writer writes (no
//! spaces, `/` escaped as `\/`, a newline at the end).
//!
//! - `json_version 1` (the default, and all keepalived 2.2.7 knows): a top-level array
//!   with one `{"data":{...},"stats":{...}}` per instance.
//! - `json_version 2` (later keepalived): `{"vrrp":[...]}` with the same objects, each
//!   `data` also listing its `track_process` names, and a top-level `track_process`
//!   array describing each tracked process when there is any.
//!
//! Numbers: `state`/`wantstate` as keepalived's numbers (INIT 0, BACKUP 1, MASTER 2,
//! FAULT 3, STOP 98); `garp_delay`, `adver_int`, `master_adver_int` and the process
//! delays through printf's `%g`; `last_transition` through `%f`; the rest as integers,
//! keepalived's flags as 0/1 where it writes integers and as true/false where it
//! writes booleans. Lists keepalived leaves out when empty (`vips`, `evips`,
//! `vroutes`, `vrules`, `track_ifp`, `track_script`, `track_process`) are left out,
//! and so are absent notify scripts and `auth_data` without authentication.
use super::format::{cmd_str, f, g};
use super::{DumpConfig, InstanceConf};
use crate::status::{InstanceStatus, ProcessStatus, Snapshot};
use std::fmt::Write as _;

/// keepalived's JSON writer: commas between members, nothing else added.
struct Writer {
    out: String,
    /// A member was written at this depth: the next one needs a comma.
    sep: bool,
}

impl Writer {
    fn new() -> Writer {
        Writer {
            out: String::new(),
            sep: false,
        }
    }

    fn comma(&mut self) {
        if self.sep {
            self.out.push(',');
        }
        self.sep = true;
    }

    fn begin(&mut self, c: char) {
        self.comma();
        self.out.push(c);
        self.sep = false;
    }

    fn end(&mut self, c: char) {
        self.out.push(c);
        self.sep = true;
    }

    fn name(&mut self, name: &str) {
        self.comma();
        self.string_raw(name);
        self.out.push(':');
        self.sep = false;
    }

    /// A string as keepalived's `jsonw_puts` escapes it: the C escapes, `"` and `/`.
    /// A backslash comes out as `\n`: keepalived 2.2.7's writer maps it so (a slip in
    /// its table; kept, so the file reads as keepalived's does). Other control
    /// characters, which keepalived copies raw into an invalid file, are written as
    /// `\u00XX`.
    fn string_raw(&mut self, s: &str) {
        self.out.push('"');
        for c in s.chars() {
            match c {
                '\t' => self.out.push_str("\\t"),
                '\n' => self.out.push_str("\\n"),
                '\r' => self.out.push_str("\\r"),
                '\u{c}' => self.out.push_str("\\f"),
                '\u{8}' => self.out.push_str("\\b"),
                '\\' => self.out.push_str("\\n"),
                '"' => self.out.push_str("\\\""),
                '/' => self.out.push_str("\\/"),
                c if (c as u32) < 0x20 => {
                    let _ = write!(self.out, "\\u{:04x}", c as u32);
                }
                c => self.out.push(c),
            }
        }
        self.out.push('"');
    }

    fn string(&mut self, s: &str) {
        self.comma();
        self.string_raw(s);
    }

    fn raw(&mut self, v: &str) {
        self.comma();
        self.out.push_str(v);
    }

    fn str_field(&mut self, name: &str, v: &str) {
        self.name(name);
        self.string(v);
    }

    fn uint(&mut self, name: &str, v: u64) {
        self.name(name);
        self.raw(&v.to_string());
    }

    fn int(&mut self, name: &str, v: i64) {
        self.name(name);
        self.raw(&v.to_string());
    }

    fn flag(&mut self, name: &str, v: bool) {
        self.uint(name, u64::from(v));
    }

    fn bool(&mut self, name: &str, v: bool) {
        self.name(name);
        self.raw(if v { "true" } else { "false" });
    }

    fn float(&mut self, name: &str, v: f64) {
        self.name(name);
        self.raw(&g(v));
    }

    /// An array of strings, left out when empty (keepalived's `vrrp_json_array_dump`).
    fn strings(&mut self, name: &str, items: &[String]) {
        if items.is_empty() {
            return;
        }
        self.name(name);
        self.begin('[');
        for i in items {
            self.string(i);
        }
        self.end(']');
    }
}

/// keepalived's state numbers.
pub fn state_number(state: &str) -> u64 {
    match state {
        "INIT" => 0,
        "BACKUP" => 1,
        "MASTER" => 2,
        "FAULT" => 3,
        "STOP" => 98,
        _ => 0,
    }
}

/// The file's text, or None when there is no instance (keepalived then writes
/// nothing). Resolves script paths: call it off the daemon's loop.
pub fn render(snapshot: &Snapshot, conf: &DumpConfig) -> Option<String> {
    let pairs = super::pairs(snapshot, conf);
    if pairs.is_empty() {
        return None;
    }
    let v2 = conf.json_version >= 2;
    let mut w = Writer::new();
    if v2 {
        w.begin('{');
        w.name("vrrp");
    }
    w.begin('[');
    for (s, c) in pairs {
        w.begin('{');
        data(&mut w, s, c, v2);
        stats(&mut w, s);
        w.end('}');
    }
    w.end(']');
    if v2 {
        let tracked: Vec<(&super::ProcessConf, Option<&ProcessStatus>)> = conf
            .processes
            .iter()
            .map(|p| {
                let now = snapshot.track_processes.iter().find(|x| x.name == p.name);
                (p, now)
            })
            .collect();
        if !tracked.is_empty() {
            w.name("track_process");
            w.begin('[');
            for (p, now) in tracked {
                process(&mut w, p, now);
            }
            w.end(']');
        }
        w.end('}');
    }
    w.out.push('\n');
    Some(w.out)
}

fn data(w: &mut Writer, s: &InstanceStatus, c: &InstanceConf, v2: bool) {
    let state = state_number(&s.state);
    w.name("data");
    w.begin('{');
    w.str_field("iname", &c.iname);
    w.flag("dont_track_primary", c.dont_track_primary);
    w.flag("skip_check_adv_addr", c.skip_check_adv_addr);
    w.flag("strict_mode", c.strict_mode);
    w.str_field("vmac_ifname", &c.vmac_ifname);
    w.str_field("ifp_ifname", &c.ifp_ifname);
    w.uint("master_priority", u64::from(s.master_priority.unwrap_or(0)));
    w.name("last_transition");
    w.raw(&f(s.last_transition.unwrap_or(0.0)));
    w.float("garp_delay", c.garp_delay.as_secs_f64());
    w.uint("garp_refresh", c.garp_refresh.as_secs());
    w.uint("garp_rep", u64::from(c.garp_rep));
    w.uint("garp_refresh_rep", u64::from(c.garp_refresh_rep));
    w.uint("garp_lower_prio_delay", c.garp_lower_prio_delay.as_secs());
    w.uint("garp_lower_prio_rep", u64::from(c.garp_lower_prio_rep));
    w.flag("lower_prio_no_advert", c.lower_prio_no_advert);
    w.flag("higher_prio_send_advert", c.higher_prio_send_advert);
    w.uint("vrid", u64::from(c.vrid));
    w.uint("base_priority", u64::from(c.base_priority));
    w.uint("effective_priority", u64::from(s.effective_priority));
    w.bool("vipset", s.vipset);
    w.bool("promote_secondaries", c.promote_secondaries);
    w.float("adver_int", c.adver_int.as_secs_f64());
    w.float("master_adver_int", s.master_adver_int);
    w.flag("accept", c.accept);
    w.bool("nopreempt", c.nopreempt);
    w.uint("preempt_delay", c.preempt_delay.as_secs());
    w.uint("state", state);
    // keepup has no separate wanted state: the state it is in is the one it wants.
    w.uint("wantstate", state);
    w.uint("version", u64::from(c.version));
    w.bool("smtp_alert", c.smtp_alert);
    w.bool("notify_deleted", c.notify_deleted);
    for n in &c.scripts {
        w.str_field(n.json, &cmd_str(&n.argv));
    }
    let set = |list: &[String]| -> Vec<String> {
        list.iter()
            .map(|a| {
                if s.vipset {
                    format!("{a} set")
                } else {
                    a.clone()
                }
            })
            .collect()
    };
    w.strings("vips", &set(&c.vips));
    w.strings("evips", &set(&c.evips));
    w.strings("vroutes", &c.vroutes);
    w.strings("vrules", &c.vrules);
    let names = |l: &[super::Tracked]| l.iter().map(|t| t.name.clone()).collect::<Vec<_>>();
    w.strings("track_ifp", &names(&c.track_ifp));
    let scripts: Vec<String> = c.track_script.iter().map(|t| cmd_str(&t.argv)).collect();
    w.strings("track_script", &scripts);
    if v2 {
        w.strings("track_process", &names(&c.track_process));
    }
    w.uint("auth_type", u64::from(c.auth_type));
    if c.auth_type != 0 {
        if let Some(d) = &c.auth_data {
            w.str_field("auth_data", d);
        }
    }
    w.end('}');
}

fn stats(w: &mut Writer, s: &InstanceStatus) {
    let k = &s.stats;
    w.name("stats");
    w.begin('{');
    for (name, v) in [
        ("advert_rcvd", k.advert_rcvd),
        ("advert_sent", k.advert_sent),
        ("become_master", k.become_master),
        ("release_master", k.release_master),
        ("packet_len_err", k.packet_len_err),
        ("advert_interval_err", k.advert_interval_err),
        ("ip_ttl_err", k.ip_ttl_err),
        ("invalid_type_rcvd", k.invalid_type_rcvd),
        ("addr_list_err", k.addr_list_err),
        ("invalid_authtype", k.invalid_authtype),
        ("authtype_mismatch", k.authtype_mismatch),
        ("auth_failure", k.auth_failure),
        ("pri_zero_rcvd", k.pri_zero_rcvd),
        ("pri_zero_sent", k.pri_zero_sent),
    ] {
        w.uint(name, v);
    }
    w.end('}');
}

/// One `vrrp_track_process` (json_version 2), as later keepalived's
/// `vrrp_json_vprocess_dump` writes it.
fn process(w: &mut Writer, p: &super::ProcessConf, now: Option<&ProcessStatus>) {
    w.begin('{');
    w.str_field("process", &p.process);
    if !p.parameters.is_empty() {
        w.str_field("parameters", &p.parameters.join(" "));
    }
    w.str_field("param_match", p.param_match);
    w.uint("min_processes", u64::from(p.min_processes));
    if let Some(max) = p.max_processes {
        w.uint("max_processes", u64::from(max));
    }
    w.uint(
        "current_processes",
        u64::from(now.map_or(0, |n| n.current_processes)),
    );
    w.bool("have_quorum", now.is_some_and(|n| n.have_quorum));
    w.int("weight", i64::from(p.weight));
    w.float("terminate_delay", p.terminate_delay.as_secs_f64());
    w.float("fork_delay", p.fork_delay.as_secs_f64());
    w.bool(
        "fork_delay_timer_running",
        now.is_some_and(|n| n.fork_delay_timer_running),
    );
    w.bool(
        "terminate_delay_timer_running",
        now.is_some_and(|n| n.terminate_delay_timer_running),
    );
    w.bool("full_command", p.full_command);
    w.end('}');
}
