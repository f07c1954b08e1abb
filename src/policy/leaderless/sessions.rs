//! Session guarantees with sticky sessions (Terry et al. 1994).
//!
//! The coordinator a client talks to remembers, per session and key, the newest version the
//! session wrote and the newest it read. Terry et al. make the client carry these "write set" and
//! "read set" and pick servers that cover them; with a sticky session the coordinator can keep
//! them instead, and it can serve them itself, so:
//!
//! - read your writes: a read whose replicas are all older than the session's own write returns
//!   that write (it was acknowledged, so it is not a value out of thin air);
//! - monotonic reads: likewise for the newest version the session read before;
//! - monotonic writes and writes follow reads: a write is stamped later than the session's
//!   previous write (and the versions it read) even if the coordinator's clock says otherwise,
//!   so last-write-wins orders the session's writes after what they follow.
//!
//! The state is volatile: a coordinator crash, or a client that moves to another coordinator
//! (`target: Random`), loses it, and with it the guarantees — the reason real systems prefer
//! client-carried tokens.

use super::coordinator::Pending;
use super::{Held, LCtx, Leaderless};
use crate::policy::{ClientReq, Guarantees as G, Note};
use crate::types::{Key, Version};
use std::collections::BTreeMap;

/// Most (session, key) entries a node remembers; beyond it the oldest sessions are forgotten.
pub const MAX_SESSION_ENTRIES: usize = 100_000;

#[derive(Clone, Copy, Debug, Default)]
pub(super) struct SessionKey {
    wrote: Option<Held>,
    read: Option<Held>,
}

pub(super) type Sessions = BTreeMap<(u64, Key), SessionKey>;

impl Leaderless {
    fn remember(&mut self, session: u64, key: Key) -> &mut SessionKey {
        if self.sessions.len() >= MAX_SESSION_ENTRIES
            && !self.sessions.contains_key(&(session, key))
        {
            self.sessions.pop_first();
        }
        self.sessions.entry((session, key)).or_default()
    }

    /// The version a session's write must exceed (monotonic writes, writes follow reads).
    pub(super) fn session_floor(&self, req: &ClientReq) -> Option<Version> {
        let g = req.guarantees;
        let s = self.sessions.get(&(req.session, req.key))?;
        let wrote = s.wrote.filter(|_| g.has(G::MONOTONIC_WRITES)).map(|h| h.1);
        let read = s
            .read
            .filter(|_| g.has(G::WRITES_FOLLOW_READS))
            .map(|h| h.1);
        wrote.max(read)
    }

    /// A write of the session was acknowledged.
    pub(super) fn session_wrote(&mut self, p: &Pending) {
        if p.guarantees.has(G::READ_YOUR_WRITES) || p.guarantees.has(G::MONOTONIC_WRITES) {
            let s = self.remember(p.session, p.key);
            s.wrote = Some(p.best);
        }
    }

    /// What a read answers: the replicas' newest, or the session's own newer version.
    pub(super) fn session_read(&mut self, ctx: &mut LCtx<'_>, p: &Pending) -> Held {
        let g = p.guarantees;
        let mut result = p.best;
        if !g.any() {
            return result;
        }
        let known = self
            .sessions
            .get(&(p.session, p.key))
            .copied()
            .unwrap_or_default();
        let floors = [
            known.wrote.filter(|_| g.has(G::READ_YOUR_WRITES)),
            known.read.filter(|_| g.has(G::MONOTONIC_READS)),
        ];
        for floor in floors.into_iter().flatten() {
            if self.wins(floor, result) {
                result = floor;
                ctx.note(Note::SessionServed { key: p.key });
            }
        }
        if g.has(G::MONOTONIC_READS) || g.has(G::WRITES_FOLLOW_READS) {
            let s = self.remember(p.session, p.key);
            s.read = Some(result);
        }
        result
    }
}
