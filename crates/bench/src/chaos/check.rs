//! The soak's invariants as pure functions over the samplers' timelines, so each
//! rule is a unit test.
use crate::chaos::watch::RouterView;
use crate::Ns;

/// The routers (indices) holding VIP `vip` at `t`.
pub fn holders(views: &[&RouterView], vip: usize, t: Ns) -> Vec<usize> {
    views
        .iter()
        .enumerate()
        .filter(|(_, v)| v.mask_at(t) & (1 << vip) != 0)
        .map(|(i, _)| i)
        .collect()
}

/// Every instant in `(from, to]` at which some router's VIP set changed, with `from`
/// first.
fn points(views: &[&RouterView], from: Ns, to: Ns) -> Vec<Ns> {
    let mut p: Vec<Ns> = views
        .iter()
        .flat_map(|v| v.changes.iter().map(|c| c.0))
        .filter(|&t| t > from && t <= to)
        .collect();
    p.push(from);
    p.sort_unstable();
    p.dedup();
    p
}

/// Since when, within `[from, to]`, exactly one router has held VIP `vip` without a
/// break up to `to`: `Some((since, router))`; `None` if at `to` none or several hold it.
pub fn settled(views: &[&RouterView], vip: usize, from: Ns, to: Ns) -> Option<(Ns, usize)> {
    let pts = points(views, from, to);
    let last = holders(views, vip, to);
    let [holder] = last[..] else {
        return None;
    };
    let mut since = to;
    for &p in pts.iter().rev() {
        if holders(views, vip, p) == [holder] {
            since = p;
        } else {
            break;
        }
    }
    Some((since, holder))
}

/// The spans within `[from, to]` in which two or more routers held VIP `vip`:
/// `(start, end, routers)`.
pub fn overlaps(views: &[&RouterView], vip: usize, from: Ns, to: Ns) -> Vec<(Ns, Ns, Vec<usize>)> {
    let pts = points(views, from, to);
    let mut out: Vec<(Ns, Ns, Vec<usize>)> = Vec::new();
    let mut open: Option<(Ns, Vec<usize>)> = None;
    for &p in &pts {
        let h = holders(views, vip, p);
        match (&mut open, h.len() >= 2) {
            (None, true) => open = Some((p, h)),
            (Some((_, who)), true) => {
                for r in h {
                    if !who.contains(&r) {
                        who.push(r);
                    }
                }
            }
            (Some(_), false) => {
                if let Some((s, who)) = open.take() {
                    out.push((s, p, who));
                }
            }
            (None, false) => {}
        }
    }
    if let Some((s, who)) = open {
        out.push((s, to, who));
    }
    out
}

/// When VIP `vip` was last removed from router `r` within `[from, to]` and not added
/// again by `to`: `Some(t)`; `Some(from)` if it was not there at all; `None` if it is
/// still there at `to`.
pub fn gone_since(view: &RouterView, vip: usize, from: Ns, to: Ns) -> Option<Ns> {
    if view.mask_at(to) & (1 << vip) != 0 {
        return None;
    }
    let removed = view
        .changes
        .iter()
        .rev()
        .take_while(|c| c.0 > from)
        .filter(|c| c.0 <= to)
        .take_while(|c| c.1 & (1 << vip) == 0)
        .last()
        .map(|c| c.0);
    Some(removed.unwrap_or(from))
}

/// Median of the values.
pub fn median(mut v: Vec<u64>) -> Option<u64> {
    v.sort_unstable();
    v.get(v.len() / 2).copied()
}

/// Memory of one process: the median RSS (KiB) of its first and last `window` of
/// samples, when it was sampled for at least two windows.
pub fn rss_ends(samples: &[(Ns, u64)], window: Ns) -> Option<(u64, u64)> {
    let (first, last) = (samples.first()?.0, samples.last()?.0);
    if last - first < 2 * window {
        return None;
    }
    let head = samples
        .iter()
        .filter(|s| s.0 < first + window)
        .map(|s| s.1)
        .collect();
    let tail = samples
        .iter()
        .filter(|s| s.0 > last - window)
        .map(|s| s.1)
        .collect();
    Some((median(head)?, median(tail)?))
}

/// Flat: the last window's median within 10 % (and at most 1 MiB) above the first's.
pub fn flat(first_kib: u64, last_kib: u64) -> bool {
    last_kib <= first_kib + (first_kib / 10).min(1024)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn view(changes: &[(Ns, u32)]) -> RouterView {
        RouterView {
            changes: changes.to_vec(),
            ..Default::default()
        }
    }

    #[test]
    fn settled_finds_the_start_of_the_last_sole_holding() {
        // r0 holds from 10 to 50; r1 from 45 on (a 5-unit overlap), r0 back at 80-81.
        let a = view(&[(10, 1), (50, 0), (80, 1), (81, 0)]);
        let b = view(&[(45, 1)]);
        let v = [&a, &b];
        assert_eq!(settled(&v, 0, 0, 60), Some((50, 1)));
        assert_eq!(settled(&v, 0, 0, 100), Some((81, 1)));
        assert_eq!(settled(&v, 0, 60, 70), Some((60, 1)));
        assert_eq!(settled(&v, 0, 0, 47), None);
        assert_eq!(settled(&v, 0, 0, 5), None);
        assert_eq!(settled(&v, 1, 0, 100), None);
    }

    #[test]
    fn overlaps_are_the_spans_of_two_holders() {
        let a = view(&[(10, 1), (50, 0), (80, 1), (90, 0)]);
        let b = view(&[(45, 1)]);
        let v = [&a, &b];
        assert_eq!(
            overlaps(&v, 0, 0, 100),
            vec![(45, 50, vec![0, 1]), (80, 90, vec![0, 1])]
        );
        assert_eq!(overlaps(&v, 0, 85, 100), vec![(85, 90, vec![0, 1])]);
        assert_eq!(overlaps(&v, 0, 0, 40), vec![]);
    }

    #[test]
    fn gone_since_names_the_removal() {
        let a = view(&[(10, 1), (50, 0)]);
        assert_eq!(gone_since(&a, 0, 0, 60), Some(50));
        assert_eq!(gone_since(&a, 0, 0, 30), None);
        assert_eq!(gone_since(&a, 0, 55, 60), Some(55));
        assert_eq!(gone_since(&view(&[]), 0, 5, 60), Some(5));
    }

    #[test]
    fn memory_ends_and_flatness() {
        let s: Vec<(Ns, u64)> = (0..100).map(|i| (i, 1000 + i)).collect();
        assert_eq!(rss_ends(&s, 10), Some((1005, 1095)));
        assert_eq!(rss_ends(&s, 60), None);
        assert!(flat(10_000, 10_900));
        assert!(!flat(10_000, 11_100));
        assert!(!flat(100_000, 101_100));
        assert!(flat(100_000, 100_900));
    }
}
