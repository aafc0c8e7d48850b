//! FILE_CHECK: the value of a `track_file`, read each second. With weight 0, any
//! value but 0 takes the real server down; with a weight, the value times that
//! weight (negated with `reverse`) shifts the real server's weight, as keepalived's
//! track_file does.
use crate::plan::FileSource;
use crate::sched::{FailKind, Verdict};

/// The most of the file read: its value is a leading integer.
const READ: u64 = 64;

pub async fn run(f: &FileSource) -> Verdict {
    let Some(path) = &f.path else {
        let reason = format!("track_file {} has no file", f.name);
        return Verdict::fail(FailKind::Setup, reason);
    };
    // keepalived reads a missing or unreadable file as 0.
    let text = read_head(path).await.unwrap_or_default();
    verdict(f, keepup_config::model::TrackFile::value_of(&text))
}

async fn read_head(path: &str) -> std::io::Result<String> {
    use tokio::io::AsyncReadExt;
    let file = tokio::fs::File::open(path).await?;
    let mut buf = Vec::new();
    file.take(READ).read_to_end(&mut buf).await?;
    Ok(String::from_utf8_lossy(&buf).into_owned())
}

fn verdict(f: &FileSource, value: i64) -> Verdict {
    if f.weight == 0 {
        return if value == 0 {
            Verdict::PASS
        } else {
            let path = f.path.as_deref().unwrap_or("");
            Verdict::fail(
                FailKind::File,
                format!("track_file {} holds {value} ({path})", f.name),
            )
        };
    }
    let sign = if f.reverse { -1 } else { 1 };
    Verdict::Shift {
        by: value
            .saturating_mul(i64::from(f.weight))
            .saturating_mul(sign),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn src(weight: i32, reverse: bool) -> FileSource {
        FileSource {
            name: "f".into(),
            path: Some("/x".into()),
            weight,
            reverse,
        }
    }

    #[test]
    fn values_count_as_keepalived_counts_them() {
        assert_eq!(verdict(&src(0, false), 0), Verdict::PASS);
        assert_eq!(
            verdict(&src(0, false), 3),
            Verdict::fail(FailKind::File, "track_file f holds 3 (/x)")
        );
        assert_eq!(verdict(&src(10, false), 3), Verdict::Shift { by: 30 });
        assert_eq!(verdict(&src(10, true), 3), Verdict::Shift { by: -30 });
    }
}
