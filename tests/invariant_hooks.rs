//! The hooks through which policies report broken protocol invariants: `Effect::Violation` counts
//! under its kind, and two nodes announcing leadership of one term break election safety.

use capsim::check::violations::ViolationKind;
use capsim::engine::{Engine, FromScenario, Options};
use capsim::policy::{
    ClientReq, Cluster, Ctx, Message, NodeView, Note, OpResult, Policy, StoredValue,
};
use capsim::trace::TraceEvent;
use capsim::types::{NodeId, OpKind, Version};

/// A policy that lies: every node claims to lead term 1, n1 also reports a log-matching violation,
/// and every request is answered at once.
#[derive(Clone, Debug)]
struct Liar {
    me: NodeId,
}

#[derive(Clone, Debug)]
struct NoMsg;

impl Message for NoMsg {
    fn kind(&self) -> u8 {
        0
    }
}

impl Policy for Liar {
    type Msg = NoMsg;
    type Timer = ();
    type Config = ();
    const KINDS: &'static [&'static str] = &["none"];

    fn new(me: NodeId, _: &Cluster, _: &()) -> Self {
        Liar { me }
    }
    fn on_start(&mut self, ctx: &mut Ctx<'_, NoMsg, ()>) {
        ctx.note(Note::BecameLeader { term: 1 });
        ctx.note(Note::BecameLeader { term: 1 }); // the same node again is no violation
        if self.me == NodeId(0) {
            ctx.violation(ViolationKind::LogMatching);
        }
    }
    fn on_client(&mut self, ctx: &mut Ctx<'_, NoMsg, ()>, req: ClientReq) {
        let result = match req.kind {
            OpKind::Read => OpResult::Read(None),
            _ => OpResult::Written(Version(1, 0)),
        };
        ctx.reply(req.op, result);
    }
    fn on_message(&mut self, _: &mut Ctx<'_, NoMsg, ()>, _: NodeId, _: NoMsg) {}
    fn on_timer(&mut self, _: &mut Ctx<'_, NoMsg, ()>, _: ()) {}
    fn on_crash(&mut self) {}
    fn reconfigure(&mut self, _: &()) {}
    fn replicas_of(&self, _: u32, out: &mut Vec<NodeId>) {
        out.push(self.me);
    }
    fn view(&self) -> NodeView {
        NodeView::default()
    }
    fn stored(&self, _: &mut Vec<StoredValue>) {}
}

impl FromScenario for Liar {
    fn config_from(_: &capsim::scenario::Scenario) {}
}

#[test]
fn reported_violations_and_two_leaders_in_one_term_are_counted_and_traced() {
    let s = capsim::scenario::from_str(
        "test",
        "(nodes: (count: 3), run: (duration_ms: 5.0), workload: (keys: Uniform(count: 2), \
          load: ClosedLoop(clients: 2, think_time_ms: 1.0), mix: (read: 1.0, write: 0.0)))",
    )
    .expect("valid scenario");
    let options = Options {
        record_trace: true,
        ..Options::default()
    };
    let mut engine: Engine<Liar> = Engine::new(&s, &options);
    engine.run_to_end();
    let v = engine.report(0.0).violations;
    assert_eq!(v.election_safety, 2, "n2 and n3 after n1 in term 1");
    assert_eq!(v.log_matching, 1);
    assert_eq!(v.total(), 3);
    let notes: Vec<String> = engine
        .tracer_mut()
        .drain()
        .into_iter()
        .filter_map(|e| match e.event {
            TraceEvent::Note { text, .. } => Some(text),
            _ => None,
        })
        .filter(|t| t.contains("violated"))
        .collect();
    assert_eq!(
        notes,
        [
            "n1 found log_matching violated",
            "n2 found election_safety violated",
            "n3 found election_safety violated"
        ]
    );
}
