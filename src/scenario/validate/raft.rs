//! Checks of the Raft policy's parameters, snapshots included.

use super::{R, V};
use crate::scenario::limits::*;
use crate::scenario::schema::*;

pub(super) fn raft(v: &V, r: &RaftSpec) -> R {
    let (min, max) = (r.election_timeout_min_ms, r.election_timeout_max_ms);
    v.positive_ms("policy.election_timeout_min_ms", min, MAX_DURATION_MS)?;
    v.positive_ms("policy.election_timeout_max_ms", max, MAX_DURATION_MS)?;
    v.check(
        max >= min,
        "policy.election_timeout_max_ms",
        format!("{max} is smaller than election_timeout_min_ms {min}"),
    )?;
    v.positive_ms("policy.heartbeat_ms", r.heartbeat_ms, MAX_DURATION_MS)?;
    v.check(
        r.heartbeat_ms < min,
        "policy.heartbeat_ms",
        format!(
            "{} must be smaller than election_timeout_min_ms {min}, or followers time out \
             between heartbeats and keep electing new leaders",
            r.heartbeat_ms
        ),
    )?;
    v.positive_ms("policy.lease_ms", r.lease_ms, MAX_DURATION_MS)?;
    v.check(
        r.lease_ms <= min,
        "policy.lease_ms",
        format!(
            "{} must be at most election_timeout_min_ms {min}: a longer lease outlives the \
             time a new leader needs to be elected, so reads go stale even with perfect clocks",
            r.lease_ms
        ),
    )?;
    // etcd refuses ReadOnlyLeaseBased without CheckQuorum (raft.go, Config.validate): without
    // it, followers vote while the old leader's lease still runs.
    v.check(
        r.check_quorum || r.read_mode != ReadMode::Lease,
        "policy.check_quorum",
        "read_mode Lease needs check_quorum: true",
    )?;
    v.check(
        (1..=10_000).contains(&r.max_batch),
        "policy.max_batch",
        "must be between 1 and 10000",
    )?;
    v.positive_ms(
        "policy.request_timeout_ms",
        r.request_timeout_ms,
        MAX_DURATION_MS,
    )?;
    r.snapshot
        .as_ref()
        .map_or(Ok(()), |snap| raft_snapshot(v, snap))
}

fn raft_snapshot(v: &V, s: &SnapshotSpec) -> R {
    v.check(
        s.every_entries <= 1_000_000_000 && s.retain_entries <= 1_000_000_000,
        "policy.snapshot",
        "every_entries and retain_entries must be at most 1000000000",
    )?;
    v.check(
        (1..=1 << 30).contains(&s.chunk_bytes),
        "policy.snapshot.chunk_bytes",
        "must be between 1 and 1073741824",
    )?;
    v.check(
        s.bandwidth_bytes_per_s.is_finite() && s.bandwidth_bytes_per_s >= 1.0,
        "policy.snapshot.bandwidth_bytes_per_s",
        "must be at least 1 byte per second",
    )
}
