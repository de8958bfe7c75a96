//! Every example flow in config_flow/ loads, with the values its README promises.

use std::path::{Path, PathBuf};

use rtmon::flow::{self, Hop};

fn example_files() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../config_flow");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "yml" || x == "yaml"))
        .collect();
    files.sort();
    files
}

#[test]
fn every_example_flow_loads() {
    let files = example_files();
    let names: Vec<String> = files
        .iter()
        .filter_map(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
        .collect();
    for want in ["one-switch.yml", "two-switches.yml", "two-vlans.yml"] {
        assert!(
            names.iter().any(|n| n == want),
            "{want} missing from {names:?}"
        );
    }
    for f in &files {
        let flows = flow::load_file(f).unwrap_or_else(|e| panic!("{}", e.render()));
        assert!(!flows.is_empty(), "{}", f.display());
        for fl in &flows {
            assert_eq!(&fl.file, f);
            assert!(flow::valid_id(&fl.id), "{}", fl.id);
            assert!(matches!(fl.path.first(), Some(Hop::Host(_))));
            assert!(matches!(fl.path.last(), Some(Hop::Host(_))));
        }
    }
    // The examples are clean: no warnings either.
    for f in &files {
        let text = std::fs::read_to_string(f).unwrap_or_else(|e| panic!("{e}"));
        let w = flow::warnings(f, &text);
        assert!(w.is_empty(), "{w:#?}");
    }
    // Ids are unique across all example files.
    let all = flow::load_files(&files).unwrap_or_else(|e| panic!("{}", e.render()));
    assert_eq!(all.len(), 4);
}

#[test]
fn examples_have_the_documented_shape() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../config_flow");
    let one = flow::load_file(&dir.join("one-switch.yml")).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(one.len(), 1);
    let f = &one[0];
    assert_eq!(f.id, "dtn-a-dtn-b-1000");
    assert_eq!(f.title, "DTN A ↔ DTN B, VLAN 1000");
    let a = f.host("dtn-a").unwrap_or_else(|| panic!("dtn-a"));
    assert_eq!(a.instance, "198.51.100.16");
    assert_eq!(a.interface, "ens2f0np0.1000");
    assert_eq!(a.ip, "203.0.113.1".parse().ok());
    assert_eq!(a.vlan, Some(1000));
    assert_eq!(a.mac.as_deref(), Some("02:00:5e:10:00:01"));
    let sw: Vec<_> = f.switches().collect();
    assert_eq!(sw.len(), 1);
    assert_eq!(sw[0].target, "192.0.2.1");
    assert_eq!(sw[0].auth.as_deref(), Some("site_v2"));
    assert_eq!(sw[0].modules, vec!["if_mib".to_string()]);
    assert_eq!(sw[0].in_port.port, "hundredGigE 1/27");
    assert_eq!(sw[0].out_port.port, "hundredGigE 1/31");
    assert_eq!(sw[0].out_port.vlan, Some(1000));

    let two = flow::load_file(&dir.join("two-switches.yml")).unwrap_or_else(|e| panic!("{e}"));
    let names: Vec<&str> = two[0].path.iter().map(Hop::name).collect();
    assert_eq!(names, vec!["dtn-a", "sw-a", "sw-b", "dtn-c"]);
    let swb = two[0].switches().nth(1).unwrap_or_else(|| panic!("sw-b"));
    assert_eq!(swb.target, "192.0.2.2:161");
    assert_eq!(swb.in_port.port, "Port-channel 501");

    let vl = flow::load_file(&dir.join("two-vlans.yml")).unwrap_or_else(|e| panic!("{e}"));
    let vlans: Vec<Option<u16>> = vl
        .iter()
        .map(|f| f.host("dtn-a").and_then(|h| h.vlan))
        .collect();
    assert_eq!(vlans, vec![Some(1000), Some(2000)]);
    assert_eq!(
        vl[0].host("dtn-b").map(|h| h.instance.as_str()),
        Some("198.51.100.15")
    );
}
