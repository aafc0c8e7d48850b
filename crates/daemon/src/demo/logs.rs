//! Reading what the lab says: timestamps, daemon logs, `ip monitor`.
use std::net::Ipv4Addr;
use std::path::Path;
use std::time::Duration;
use time::format_description::BorrowedFormatItem;
use time::macros::format_description;
use time::{OffsetDateTime, PrimitiveDateTime};

/// A UTC timestamp as the daemon logs it (`2026-11-22T00:17:07.842274Z`) or as
/// `TZ=UTC ip -ts monitor` prints it (`[2026-11-22T00:16:30.555100]`), as time
/// since the epoch.
pub fn parse_utc(s: &str) -> Option<Duration> {
    // Exactly these two shapes: RFC 3339's parser would also take a space or any
    // other character between date and time, and an offset, which neither writer uses.
    const SHAPE: &[BorrowedFormatItem<'_>] = format_description!(
        "[year]-[month]-[day]T[hour]:[minute]:[second][optional [.[subsecond]]]"
    );
    let s = s.trim_start_matches('[').trim_end_matches(']');
    let s = s.strip_suffix('Z').unwrap_or(s);
    let at = PrimitiveDateTime::parse(s, SHAPE).ok()?.assume_utc();
    let since = at - OffsetDateTime::UNIX_EPOCH;
    Duration::try_from(since).ok()
}

/// A router's state as the demo shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RouterState {
    /// Started, nothing logged yet.
    Starting,
    Backup,
    Master,
    Fault,
    Stop,
    /// Killed by the demo.
    Down,
}

impl RouterState {
    pub fn label(self) -> &'static str {
        match self {
            RouterState::Starting => "-",
            RouterState::Backup => "BACKUP",
            RouterState::Master => "MASTER",
            RouterState::Fault => "FAULT",
            RouterState::Stop => "STOP",
            RouterState::Down => "down",
        }
    }
}

/// `(when, state)` from a daemon's log line `<UTC time>  INFO (VI_1) Entering MASTER
/// STATE` (also `... BACKUP STATE (init)`).
pub fn parse_state_line(line: &str) -> Option<(Duration, RouterState)> {
    let ts = parse_utc(line.split_whitespace().next()?)?;
    let (_, rest) = line.split_once(") Entering ")?;
    let state = match rest.split_whitespace().next()? {
        "MASTER" => RouterState::Master,
        "BACKUP" => RouterState::Backup,
        "FAULT" => RouterState::Fault,
        "STOP" => RouterState::Stop,
        _ => return None,
    };
    Some((ts, state))
}

/// `(when, added)` from a line of `TZ=UTC ip -ts monitor address` about `vip`:
/// `[2026-11-22T00:16:30.558343] 2: eth0    inet 10.51.0.100/24 scope global secondary eth0`,
/// with `Deleted ` before the index when it is removed.
pub fn parse_addr_event(line: &str, vip: Ipv4Addr) -> Option<(Duration, bool)> {
    let (ts, rest) = line.strip_prefix('[')?.split_once(']')?;
    let ts = parse_utc(ts)?;
    let rest = rest.trim_start();
    let (added, rest) = match rest.strip_prefix("Deleted ") {
        Some(r) => (false, r),
        None => (true, rest),
    };
    let mut words = rest.split_whitespace();
    words.find(|w| *w == "inet")?;
    let addr = words.next()?;
    let ip = addr.split('/').next()?;
    (ip.parse::<Ipv4Addr>().ok()? == vip).then_some((ts, added))
}

/// The complete lines of a growing file from byte `offset` on; moves `offset` past
/// them (a line still being written is left for the next call).
pub(super) fn new_lines(path: &Path, offset: &mut usize) -> Vec<String> {
    let Ok(bytes) = std::fs::read(path) else {
        return vec![];
    };
    let Some(fresh) = bytes.get(*offset..) else {
        return vec![];
    };
    let Some(end) = fresh.iter().rposition(|&b| b == b'\n') else {
        return vec![];
    };
    *offset += end + 1;
    String::from_utf8_lossy(&fresh[..end])
        .lines()
        .map(str::to_owned)
        .collect()
}

/// A daemon log's state changes, each line once.
pub(super) fn log_lines_matching(path: &Path, needle: &str) -> Option<Duration> {
    let text = std::fs::read_to_string(path).ok()?;
    text.lines()
        .find(|l| l.contains(needle))
        .and_then(|l| parse_utc(l.split_whitespace().next()?))
}
