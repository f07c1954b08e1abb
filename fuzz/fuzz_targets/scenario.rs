//! Arbitrary bytes into the scenario loader; whatever parses is run for a bounded number of
//! steps, so odd-but-valid scenarios that trip the engine are found too.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = capsim::scenario::from_bytes("fuzz.ron", data);
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(scenario) = capsim::scenario::from_str("fuzz.ron", text) else {
        return;
    };
    // What the GUI saves must load back as the same scenario.
    let saved = capsim::scenario::load::to_string(&scenario);
    match capsim::scenario::from_str("saved.ron", &saved) {
        Ok(again) => assert_eq!(again, scenario, "round trip changed the scenario:\n{saved}"),
        Err(e) => panic!("a saved scenario does not load: {e}\n{saved}"),
    }
    let mut sim = capsim::Sim::new(&scenario, &capsim::engine::Options::default());
    sim.run_for(2000);
    let _ = (sim.report(0.0), sim.nodes_info(), sim.messages(), sim.ops_in_progress());
});
