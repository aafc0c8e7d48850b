//! Sequence blocks: `~SEQ`, `~SEQx` and `~LST` lines, expanded one iteration at a time
//! under the preprocessor's line budget.
use super::{is_name_char, is_name_start, Ctx, Def, Preprocessor, MAX_OUTPUT_LINES};
use crate::diag::Severity;
use std::fmt::Write as _;

impl Preprocessor<'_> {
    /// `~SEQ(var, start, step, end) rest`, `~SEQx(...)`, `~LST(var, v1, v2)`,
    /// `~LST({a, b}, {1, 2}, {3, 4}) rest`.
    pub(super) fn sequence(&mut self, text: &str, cx: Ctx) {
        let bad = |p: &mut Self, why: &str| {
            p.err(
                Severity::Fatal,
                "bad-sequence",
                format!("invalid sequence block: {why}"),
                Some(cx.origin),
            )
        };
        let (kind, after) = if let Some(r) = text.strip_prefix("~SEQx(") {
            ("SEQx", r)
        } else if let Some(r) = text.strip_prefix("~SEQ(") {
            ("SEQ", r)
        } else if let Some(r) = text.strip_prefix("~LST(") {
            ("LST", r)
        } else {
            return bad(self, "expected '~SEQ(', '~SEQx(' or '~LST('");
        };
        // Find the closing parenthesis, allowing {...} groups inside.
        let mut depth = 0i32;
        let mut close = None;
        for (i, c) in after.char_indices() {
            match c {
                '{' => depth += 1,
                '}' => depth -= 1,
                ')' if depth == 0 => {
                    close = Some(i);
                    break;
                }
                _ => {}
            }
        }
        let Some(close) = close else {
            return bad(self, "missing ')'");
        };
        let inner = &after[..close];
        let rest = after[close + 1..].to_string();
        let groups = split_groups(inner);
        if kind == "LST" {
            if groups.len() < 2 {
                return bad(self, "~LST needs a variable and at least one value");
            }
            let vars = &groups[0];
            if vars
                .iter()
                .any(|v| !v.starts_with(is_name_start) || !v.chars().all(is_name_char))
            {
                return bad(self, "~LST variable names must be letters, digits and '_'");
            }
            if let Some(g) = groups[1..].iter().find(|g| g.len() != vars.len()) {
                return bad(
                    self,
                    &format!(
                        "~LST value group has {} values for {} variables",
                        g.len(),
                        vars.len()
                    ),
                );
            }
            for g in &groups[1..] {
                let assignments: Vec<(&str, &str)> = vars
                    .iter()
                    .map(String::as_str)
                    .zip(g.iter().map(String::as_str))
                    .collect();
                if !self.iteration(&assignments, &rest, &cx) {
                    return;
                }
            }
        } else {
            let flat: Vec<String> = groups.into_iter().flatten().collect();
            if flat.len() < 2 || flat.len() > 4 {
                return bad(self, "~SEQ takes (var, [start, [step,]] end)");
            }
            let var = flat[0].as_str();
            if !var.starts_with(is_name_start) || !var.chars().all(is_name_char) {
                return bad(self, "~SEQ variable name must be letters, digits and '_'");
            }
            let nums: Option<Vec<i64>> = flat[1..].iter().map(|s| parse_int(s)).collect();
            let Some(nums) = nums else {
                return bad(self, "~SEQ start, step and end must be integers");
            };
            let (start, step, end) = match nums.as_slice() {
                [end] => (
                    if *end < 0 { -1 } else { 1 },
                    if *end < 0 { -1 } else { 1 },
                    *end,
                ),
                [start, end] => (*start, if end >= start { 1 } else { -1 }, *end),
                [start, step, end] => (*start, *step, *end),
                _ => return bad(self, "~SEQ takes (var, [start, [step,]] end)"),
            };
            if step == 0 {
                return bad(self, "~SEQ step must not be 0");
            }
            // The values are made one at a time as they are used: a long sequence is
            // stopped by the line budget after the lines it may produce, not first
            // written out in full. A sequence is cut after MAX_OUTPUT_LINES + 1 values
            // whatever the budget, and the budget is looked at once when it is.
            let in_range = (step > 0 && start <= end) || (step < 0 && start >= end);
            let count = if in_range {
                (i128::from(end) - i128::from(start)) / i128::from(step) + 1
            } else {
                0
            };
            let cap = MAX_OUTPUT_LINES as i128 + 1;
            if count >= cap {
                self.over_budget(cx.origin);
            }
            let mut v = i128::from(start);
            let mut val = String::new();
            for _ in 0..count.min(cap) {
                val.clear();
                // Every value lies between start and end, so within i64.
                let x = v as i64;
                if kind == "SEQx" {
                    let _ = write!(val, "{x:x}");
                } else {
                    let _ = write!(val, "{x}");
                }
                if !self.iteration(&[(var, &val)], &rest, &cx) {
                    return;
                }
                v += i128::from(step);
            }
        }
    }

    /// One iteration of a sequence block: `rest` processed with the block's variables
    /// set to this iteration's values, then the variables restored. False once the
    /// expansion has been stopped.
    fn iteration(&mut self, assignments: &[(&str, &str)], rest: &str, cx: &Ctx) -> bool {
        let saved: Vec<(String, Option<Def>)> = assignments
            .iter()
            .map(|(k, v)| {
                let def = Def {
                    lines: vec![v.to_string()],
                    origin: cx.origin,
                };
                (k.to_string(), self.defs.insert(k.to_string(), def))
            })
            .collect();
        let sub = Ctx {
            origin: cx.origin,
            verbatim_col: None,
            expanded_from: cx.expanded_from.clone(),
            depth: cx.depth + 1,
        };
        self.process_line(rest, sub);
        // Restored in reverse, so a variable named twice gets its value from before.
        for (k, old) in saved.into_iter().rev() {
            match old {
                Some(d) => self.defs.insert(k, d),
                None => self.defs.remove(&k),
            };
        }
        !self.truncated
    }
}

fn parse_int(s: &str) -> Option<i64> {
    let s = s.trim();
    let (neg, s) = match s.strip_prefix('-') {
        Some(r) => (true, r),
        None => (false, s),
    };
    let v = if let Some(h) = s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        i64::from_str_radix(h, 16).ok()?
    } else {
        s.parse::<i64>().ok()?
    };
    Some(if neg { -v } else { v })
}

/// Splits `a, {b, c}, d` into groups: [[a], [b, c], [d]].
fn split_groups(s: &str) -> Vec<Vec<String>> {
    let mut groups = Vec::new();
    let mut cur = String::new();
    let mut depth = 0;
    let push = |cur: &mut String, groups: &mut Vec<Vec<String>>| {
        let t = cur.trim();
        if let Some(inner) = t.strip_prefix('{').and_then(|t| t.strip_suffix('}')) {
            groups.push(inner.split(',').map(|x| x.trim().to_string()).collect());
        } else {
            groups.push(vec![t.to_string()]);
        }
        cur.clear();
    };
    for c in s.chars() {
        match c {
            '{' => {
                depth += 1;
                cur.push(c)
            }
            '}' => {
                depth -= 1;
                cur.push(c)
            }
            ',' if depth == 0 => push(&mut cur, &mut groups),
            _ => cur.push(c),
        }
    }
    push(&mut cur, &mut groups);
    groups
}
