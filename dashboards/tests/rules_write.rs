//! `rules` streams the rules file (`rules::write`: flows rendered in parallel batches,
//! written in order): the bytes must be exactly `rules::render`'s, in both modes, for a
//! flow list longer than several batches, through the binary too.

use std::path::Path;
use std::process::Command;

use rtmon_dashboards::{rules, Options};

fn example_flows() -> Vec<rtmon::flow::Flow> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../config_flow");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .expect("config_flow")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "yml"))
        .collect();
    files.sort();
    files
        .iter()
        .flat_map(|f| rtmon::flow::load_file(f).unwrap_or_else(|e| panic!("{e}")))
        .collect()
}

#[test]
fn streamed_rules_equal_rendered_rules() {
    let base = example_flows();
    assert!(base.len() >= 4, "expected the example flows");
    // 40 copies of each: more flows than one batch on any machine up to 20 cores, and a
    // last batch that is not full.
    let mut flows = Vec::new();
    for i in 0..41 {
        for f in &base {
            let mut f = f.clone();
            f.id = format!("{}-{i}", f.id);
            flows.push(f);
        }
    }
    for opts in [Options::default(), Options::push()] {
        let want = rules::render(&flows, &opts, "30s", "2m");
        let mut got = Vec::new();
        rules::write(&mut got, &flows, &opts, "30s", "2m").expect("write");
        assert!(
            got == want.as_bytes(),
            "streamed rules differ from rendered rules ({} vs {} bytes)",
            got.len(),
            want.len()
        );
        // The last flow's topology rows are there (constant rules + topology groups).
        assert!(want.contains(&format!("labels: {{flow: \"{}-40\"", base[0].id)));
    }
}

#[test]
fn rules_command_writes_what_render_makes() {
    let dir = tempfile::tempdir().expect("tmp");
    let out = dir.path().join("rules.yml");
    let files: Vec<_> = ["one-switch.yml", "two-switches.yml", "two-vlans.yml"]
        .iter()
        .map(|f| {
            Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("../config_flow")
                .join(f)
        })
        .collect();
    let st = Command::new(env!("CARGO_BIN_EXE_rtmon-dashboards"))
        .arg("rules")
        .args(&files)
        .arg("--out")
        .arg(&out)
        .status()
        .expect("run");
    assert!(st.success());
    let flows: Vec<_> = files
        .iter()
        .flat_map(|f| rtmon::flow::load_file(f).unwrap_or_else(|e| panic!("{e}")))
        .collect();
    let want = rules::render(&flows, &Options::default(), "30s", "2m");
    assert_eq!(std::fs::read_to_string(&out).expect("read"), want);
    assert!(
        !out.with_extension("tmp").exists(),
        "temporary file left behind"
    );
}
