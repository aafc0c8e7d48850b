//! `keepup handover` / `--resume` requests: which instances they name, and the
//! answer, sent once every named instance has let go of its VIPs (or is Master
//! again because nobody took over).
use super::setup::Setup;
use crate::control::{answer, Verb};
use keepup_vrrp::{Event, InstanceId, Router, State};
use std::collections::HashMap;

/// A request answered once none of `ids` holds its VIPs any more.
struct Pending {
    reply: tokio::net::UnixStream,
    ids: Vec<InstanceId>,
    /// How each instance let go (the engine's handover event), as it happened.
    how: HashMap<InstanceId, String>,
}

#[derive(Default)]
pub struct Handovers {
    pending: Vec<Pending>,
}

impl Handovers {
    /// A request for `names` (none: every instance). The instances to feed
    /// `Input::Yield { on }` to, or `None` when a name is unknown (the request is
    /// answered with the error).
    pub fn request(
        &mut self,
        setup: &Setup,
        verb: Verb,
        names: &[String],
        reply: tokio::net::UnixStream,
    ) -> Option<(Vec<InstanceId>, bool)> {
        let mut ids = Vec::new();
        for n in names {
            match setup.ids().find(|&i| setup.name(i) == n) {
                Some(id) => ids.push(id),
                None => {
                    answer(reply, format!("error: no vrrp_instance {n}\n"));
                    return None;
                }
            }
        }
        if ids.is_empty() {
            ids = setup.ids().collect();
        }
        let on = verb == Verb::Handover;
        let names: Vec<&str> = ids.iter().map(|&i| setup.name(i)).collect();
        let what = if on { "handover" } else { "resume" };
        tracing::info!("control: {what} for {}", names.join(", "));
        self.pending.push(Pending {
            reply,
            ids: ids.clone(),
            how: HashMap::new(),
        });
        Some((ids, on))
    }

    pub fn waiting(&self) -> bool {
        !self.pending.is_empty()
    }

    /// An engine event: a handover's outcome is kept for the answer.
    pub fn event(&mut self, e: &Event) {
        if let Event::HandedOver { instance, .. } = e {
            for p in &mut self.pending {
                p.how.insert(*instance, e.to_string());
            }
        }
    }

    /// Answer the requests whose instances all let go (or are Master again because
    /// nobody took over).
    pub fn answer_done(&mut self, router: &Router, setup: &Setup) {
        let mut i = 0;
        while i < self.pending.len() {
            if self.pending[i].ids.iter().any(|&id| router.is_holding(id)) {
                i += 1;
                continue;
            }
            let p = self.pending.swap_remove(i);
            let mut text = String::new();
            for &id in &p.ids {
                text.push_str(&outcome(router, setup.name(id), id, p.how.get(&id)));
                text.push('\n');
            }
            text.push_str("ok\n");
            answer(p.reply, text);
        }
    }
}

/// One instance's line in the answer.
fn outcome(router: &Router, name: &str, id: InstanceId, how: Option<&String>) -> String {
    let state = router.state(id);
    match (state, how, router.is_yielded(id)) {
        (State::Backup, Some(how), true) => {
            format!("{name}: handed over ({how}); BACKUP, not preempting")
        }
        (_, _, true) => format!(
            "{name}: {}, not preempting until `keepup handover --resume`",
            state.keepalived_name()
        ),
        (State::Master, _, false) => {
            format!("{name}: MASTER (nobody took over within the down interval)")
        }
        _ => format!(
            "{name}: {}, preempting as configured",
            state.keepalived_name()
        ),
    }
}
