//! When the next scheduled backup runs. Times are UTC (what an appliance's clock is); on the
//! weekly day the one snapshot taken counts as the weekly one.

use crate::plan::BackupJob;
use crate::time::weekday;

const WEEKDAYS: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];

fn minutes(at: &str) -> Option<i64> {
    let (h, m) = at.split_once(':')?;
    let (h, m): (i64, i64) = (h.parse().ok()?, m.parse().ok()?);
    ((0..24).contains(&h) && (0..60).contains(&m)).then_some(h * 60 + m)
}

/// The next run after `now` (Unix seconds): its time and the job it counts for.
pub fn next_run(now: i64, jobs: &[BackupJob]) -> Option<(i64, &BackupJob)> {
    let today = now.div_euclid(86_400);
    let mut best: Option<(i64, &BackupJob)> = None;
    for job in jobs {
        let Some(at) = minutes(&job.at) else { continue };
        let want = job
            .weekday
            .as_deref()
            .and_then(|w| WEEKDAYS.iter().position(|d| *d == w));
        for day in today..today + 8 {
            let t = day * 86_400 + at * 60;
            if t <= now || want.is_some_and(|w| weekday(day) as usize != w) {
                continue;
            }
            let better = match best {
                None => true,
                Some((bt, bj)) => t < bt || (t == bt && job.weekday.is_some() && bj.weekday.is_none()),
            };
            if better {
                best = Some((t, job));
            }
            break;
        }
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;

    fn job(name: &str, at: &str, weekday: Option<&str>) -> BackupJob {
        BackupJob {
            name: name.into(),
            at: at.into(),
            weekday: weekday.map(str::to_owned),
            keep: 7,
        }
    }

    #[test]
    fn daily_and_weekly() {
        // Sun 2026-11-22 11:32:47 UTC.
        let now = 1_795_347_167;
        let jobs = [job("daily", "03:00", None), job("weekly", "03:00", Some("sun"))];
        let (t, j) = next_run(now, &jobs).unwrap();
        assert_eq!(crate::time::rfc3339_utc(t), "2026-11-23T03:00:00Z");
        assert_eq!(j.name, "daily");
        // Saturday night: the Sunday run is the weekly one.
        let sat = now - 86_400;
        let (t, j) = next_run(sat, &jobs).unwrap();
        assert_eq!(crate::time::rfc3339_utc(t), "2026-11-22T03:00:00Z");
        assert_eq!(j.name, "weekly");
        // Later today.
        let (t, _) = next_run(now, &[job("daily", "23:59", None)]).unwrap();
        assert_eq!(crate::time::rfc3339_utc(t), "2026-11-22T23:59:00Z");
        assert!(next_run(now, &[job("daily", "25:00", None)]).is_none());
    }
}
