//! The generic cell rate algorithm, shared by every Cache's `throttle`
//! (the Redis adapter runs the same arithmetic in Lua).

use crate::core::ports::Throttle;
use std::time::Duration;

/// Decides one call at `now_ms` given the stored theoretical arrival time
/// (TAT); returns the decision and the TAT to store (None: leave it).
pub fn decide(
    stored_tat: Option<u64>,
    now_ms: u64,
    limit: u32,
    period: Duration,
) -> (Throttle, Option<u64>) {
    let period_ms = period.as_millis().max(1) as u64;
    let interval = (period_ms / u64::from(limit.max(1))).max(1);
    let tat = stored_tat.unwrap_or(now_ms).max(now_ms);
    let new_tat = tat + interval;
    let ahead = new_tat - now_ms;
    if ahead > period_ms {
        return (
            Throttle::Limited {
                retry_after: Duration::from_millis(ahead - period_ms),
            },
            None,
        );
    }
    let remaining = ((period_ms - ahead) / interval) as u32;
    (Throttle::Allowed { remaining }, Some(new_tat))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_bucket_refills_at_one_call_per_interval() {
        let minute = Duration::from_secs(60);
        let mut tat = None;
        for expected in [1, 0] {
            let (decision, next) = decide(tat, 1_000, 2, minute);
            assert_eq!(
                decision,
                Throttle::Allowed {
                    remaining: expected
                }
            );
            tat = next;
        }
        let (limited, next) = decide(tat, 1_000, 2, minute);
        assert_eq!(
            limited,
            Throttle::Limited {
                retry_after: Duration::from_secs(30)
            }
        );
        assert_eq!(next, None);
        // 30 s later one call fits again.
        let (decision, _) = decide(tat, 31_000, 2, minute);
        assert_eq!(decision, Throttle::Allowed { remaining: 0 });
    }
}
