//! The event-sourced domains: commands (which may be rejected), events (facts, never changed),
//! aggregates (a fold of their events) and time travel (an aggregate as of any offset).

use crate::scenario::schema::Domain;
use crate::storage::segment::LogRecord;
use crate::types::{Key, SimTime, ValueId};

/// Distinct cart items (small, so removes of absent items happen and get rejected).
pub const CART_ITEMS: usize = 6;

/// What a client asks for. Derived from the write's value id, so no randomness is needed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Command {
    Deposit(u32),
    Withdraw(u32),
    AddItem(u8),
    RemoveItem(u8),
    Checkout,
    Review(u8),
    Play(u32),
}

/// A fact in the log. Never edited, never deleted except by compaction of an erased user's data.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EventBody {
    Deposited(u32),
    Withdrew(u32),
    /// A payment made by mistake (the bank's error, not the client's command).
    MistakenDebit(u32),
    /// Undoes the event at `of_offset` by appending its opposite: history keeps both.
    Compensated {
        amount: u32,
        of_offset: u64,
    },
    ItemAdded(u8),
    ItemRemoved(u8),
    CheckedOut,
    Reviewed(u8),
    Played(u32),
    /// Erasure tombstone: every earlier record of this key is to be forgotten.
    Erased,
}

impl EventBody {
    pub fn name(&self) -> &'static str {
        match self {
            EventBody::Deposited(_) => "deposited",
            EventBody::Withdrew(_) => "withdrew",
            EventBody::MistakenDebit(_) => "mistaken debit",
            EventBody::Compensated { .. } => crate::check::event_log::COMPENSATED,
            EventBody::ItemAdded(_) => "item added",
            EventBody::ItemRemoved(_) => "item removed",
            EventBody::CheckedOut => "checked out",
            EventBody::Reviewed(_) => "reviewed",
            EventBody::Played(_) => "played",
            EventBody::Erased => "erased (tombstone)",
        }
    }
}

/// An event as the log stores it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StoredEvent {
    /// 1-based, never reused; compaction leaves gaps.
    pub offset: u64,
    pub key: Key,
    /// The client write that caused it (`None` for the system's own events).
    pub value: Option<ValueId>,
    pub body: EventBody,
    pub appended_at: SimTime,
}

/// An event store in the shared segmented log (`storage::segment`): the key is the aggregate
/// (the user), and only an erasure tombstone replaces a key's earlier records when the log is
/// compacted. Every other event is a fact the store keeps.
impl LogRecord for StoredEvent {
    fn offset(&self) -> u64 {
        self.offset
    }

    fn key(&self) -> Key {
        self.key
    }

    fn is_tombstone(&self) -> bool {
        self.body == EventBody::Erased
    }

    fn epoch(&self) -> u64 {
        0
    }

    fn supersedes(&self) -> bool {
        self.is_tombstone()
    }
}

/// Current state of one aggregate: a fold of its events. One shape for every domain; each domain
/// uses its own fields.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Aggregate {
    /// The last client write applied (what a query returns, so the stale-read check applies).
    pub last_value: Option<ValueId>,
    pub events: u32,
    pub balance: i64,
    pub items: [u16; CART_ITEMS],
    /// Carts checked out so far (a checkout empties the cart for the next order).
    pub orders: u32,
    pub rating_sum: u64,
    pub ratings: u32,
    pub plays: u32,
    pub last_song: u32,
}

impl Aggregate {
    /// The average rating (Reviews), if any.
    pub fn average_rating(&self) -> Option<f64> {
        (self.ratings > 0).then(|| self.rating_sum as f64 / self.ratings as f64)
    }

    /// Applies one event; an erasure tombstone is applied by removing the aggregate instead.
    pub fn apply(&mut self, e: &StoredEvent) {
        self.events += 1;
        if e.value.is_some() {
            self.last_value = e.value;
        }
        match e.body {
            EventBody::Deposited(a) | EventBody::Compensated { amount: a, .. } => {
                self.balance += a as i64
            }
            EventBody::Withdrew(a) | EventBody::MistakenDebit(a) => self.balance -= a as i64,
            EventBody::ItemAdded(i) => self.items[i as usize] += 1,
            EventBody::ItemRemoved(i) => {
                self.items[i as usize] = self.items[i as usize].saturating_sub(1)
            }
            EventBody::CheckedOut => {
                self.items = [0; CART_ITEMS];
                self.orders += 1;
            }
            EventBody::Reviewed(r) => {
                self.rating_sum += r as u64;
                self.ratings += 1;
            }
            EventBody::Played(song) => {
                self.plays += 1;
                self.last_song = song;
            }
            EventBody::Erased => {}
        }
    }

    /// Turns a command into the event it causes, or the reason it is rejected.
    pub fn decide(&self, c: Command) -> Result<EventBody, &'static str> {
        match c {
            Command::Deposit(a) => Ok(EventBody::Deposited(a)),
            Command::Withdraw(a) if (a as i64) > self.balance => Err("overdraft"),
            Command::Withdraw(a) => Ok(EventBody::Withdrew(a)),
            Command::AddItem(i) => Ok(EventBody::ItemAdded(i)),
            Command::RemoveItem(i) if self.items[i as usize] == 0 => Err("item not in cart"),
            Command::RemoveItem(i) => Ok(EventBody::ItemRemoved(i)),
            Command::Checkout if self.items.iter().all(|n| *n == 0) => Err("empty cart"),
            Command::Checkout => Ok(EventBody::CheckedOut),
            Command::Review(r) => Ok(EventBody::Reviewed(r)),
            Command::Play(s) => Ok(EventBody::Played(s)),
        }
    }

    /// A one-line summary for notes and inspectors.
    pub fn describe(&self, domain: Domain) -> String {
        match domain {
            Domain::Bank => format!("balance {}", self.balance),
            Domain::Cart => format!(
                "{} items, {} orders",
                self.items.iter().map(|n| *n as u32).sum::<u32>(),
                self.orders
            ),
            Domain::Reviews => match self.average_rating() {
                Some(avg) => format!("{} ratings, average {avg:.2}", self.ratings),
                None => "no ratings".into(),
            },
            Domain::SongPlays => format!("{} plays, last song {}", self.plays, self.last_song),
        }
    }
}

/// splitmix64: a fixed mixing of the value id, so the command a write stands for is the same on
/// every machine and never draws from the simulation's random streams.
fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// The command a client write with this value id stands for.
pub fn command_for(domain: Domain, value: ValueId) -> Command {
    let h = mix(value.0);
    let pick = h % 100;
    let arg = (h >> 8) as u32;
    match domain {
        Domain::Bank if pick < 55 => Command::Deposit(1 + arg % 100),
        Domain::Bank => Command::Withdraw(1 + arg % 150),
        Domain::Cart if pick < 55 => Command::AddItem((arg % CART_ITEMS as u32) as u8),
        Domain::Cart if pick < 95 => Command::RemoveItem((arg % CART_ITEMS as u32) as u8),
        Domain::Cart => Command::Checkout,
        Domain::Reviews => Command::Review(1 + (arg % 5) as u8),
        Domain::SongPlays => Command::Play(arg % 1000),
    }
}

/// Time travel: `key`'s aggregate as of offset `upto` (inclusive), folded from the log. `None` if
/// it had no events by then, or an erasure tombstone removed it.
pub fn aggregate_at<'a>(
    log: impl IntoIterator<Item = &'a StoredEvent>,
    key: Key,
    upto: u64,
) -> Option<Aggregate> {
    let mut agg: Option<Aggregate> = None;
    for e in log.into_iter().take_while(|e| e.offset <= upto) {
        if e.key == key {
            fold(&mut agg, e);
        }
    }
    agg
}

/// One step of an aggregate's fold: an event applies to it (starting it if needed), an erasure
/// tombstone ends it.
fn fold(agg: &mut Option<Aggregate>, e: &StoredEvent) {
    if e.body == EventBody::Erased {
        *agg = None;
    } else {
        agg.get_or_insert_with(Aggregate::default).apply(e);
    }
}

/// One step of an aggregate's history: the event at `offset` and the state right after it.
#[derive(Clone, Debug, PartialEq)]
pub struct TimeTravelStep {
    pub offset: u64,
    pub event: &'static str,
    /// [`Aggregate::describe`] after the event ("balance 40"), or "erased" after a tombstone.
    pub state: String,
}

/// Most steps [`time_travel`] returns (the newest are kept).
pub const MAX_TIME_TRAVEL_STEPS: usize = 2_000;

/// Time travel over a whole history: `key`'s state after each of its events, in log order, in
/// one fold (the state at step i is `aggregate_at(log, key, steps[i].offset)`).
pub fn time_travel<'a>(
    log: impl IntoIterator<Item = &'a StoredEvent>,
    key: Key,
    domain: Domain,
) -> Vec<TimeTravelStep> {
    let mut agg: Option<Aggregate> = None;
    let mut steps = Vec::new();
    for e in log.into_iter().filter(|e| e.key == key) {
        fold(&mut agg, e);
        let state = agg
            .as_ref()
            .map_or_else(|| "erased".to_string(), |a| a.describe(domain));
        steps.push(TimeTravelStep {
            offset: e.offset,
            event: e.body.name(),
            state,
        });
        if steps.len() >= 2 * MAX_TIME_TRAVEL_STEPS {
            steps.drain(..MAX_TIME_TRAVEL_STEPS);
        }
    }
    let keep = steps.len().saturating_sub(MAX_TIME_TRAVEL_STEPS);
    steps.split_off(keep)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(offset: u64, body: EventBody) -> StoredEvent {
        StoredEvent {
            offset,
            key: 1,
            value: Some(ValueId(offset)),
            body,
            appended_at: SimTime::ZERO,
        }
    }

    #[test]
    fn withdrawal_beyond_balance_is_rejected() {
        let mut a = Aggregate::default();
        a.apply(&ev(1, EventBody::Deposited(30)));
        assert_eq!(a.decide(Command::Withdraw(31)), Err("overdraft"));
        assert_eq!(a.decide(Command::Withdraw(30)), Ok(EventBody::Withdrew(30)));
    }

    #[test]
    fn time_travel_sees_each_offset() {
        let log = [
            ev(1, EventBody::Deposited(10)),
            ev(2, EventBody::Withdrew(4)),
            ev(3, EventBody::Erased),
        ];
        assert_eq!(aggregate_at(&log, 1, 0), None);
        assert_eq!(aggregate_at(&log, 1, 1).unwrap().balance, 10);
        assert_eq!(aggregate_at(&log, 1, 2).unwrap().balance, 6);
        assert_eq!(aggregate_at(&log, 1, 3), None);
    }

    /// The whole-history fold agrees with `aggregate_at` at every step; a compensating event
    /// shows as a step back to the balance before the mistake.
    #[test]
    fn time_travel_steps_match_aggregate_at_each_offset() {
        let mut other = ev(3, EventBody::Deposited(99));
        other.key = 2;
        let log = [
            ev(1, EventBody::Deposited(10)),
            ev(2, EventBody::MistakenDebit(4)),
            other,
            ev(
                4,
                EventBody::Compensated {
                    amount: 4,
                    of_offset: 2,
                },
            ),
            ev(5, EventBody::Erased),
        ];
        let steps = time_travel(&log, 1, Domain::Bank);
        let offsets: Vec<u64> = steps.iter().map(|s| s.offset).collect();
        assert_eq!(offsets, [1, 2, 4, 5], "only key 1's events");
        let states: Vec<&str> = steps.iter().map(|s| s.state.as_str()).collect();
        assert_eq!(states, ["balance 10", "balance 6", "balance 10", "erased"]);
        assert_eq!(steps[1].event, "mistaken debit");
        for s in &steps[..3] {
            let a = aggregate_at(&log, 1, s.offset).expect("before the erasure");
            assert_eq!(a.describe(Domain::Bank), s.state);
        }
        assert_eq!(aggregate_at(&log, 1, 5), None);
    }

    #[test]
    fn cart_rules() {
        let mut a = Aggregate::default();
        assert_eq!(a.decide(Command::RemoveItem(2)), Err("item not in cart"));
        assert_eq!(a.decide(Command::Checkout), Err("empty cart"));
        a.apply(&ev(1, EventBody::ItemAdded(2)));
        assert_eq!(a.decide(Command::Checkout), Ok(EventBody::CheckedOut));
        a.apply(&ev(2, EventBody::CheckedOut));
        assert_eq!((a.orders, a.items), (1, [0; CART_ITEMS]));
        assert_eq!(a.decide(Command::RemoveItem(2)), Err("item not in cart"));
    }
}
