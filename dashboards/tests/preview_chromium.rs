//! The rendering check people can look at: on a real rig (rtmon exporters, snmpsim
//! switch, Prometheus evaluating the generated rules), `rtmon-dashboards preview` lays
//! out the rig flow's dashboard and the fleet overview with current values, and headless
//! Chromium (Debian's `chromium`) screenshots both pages.
//!
//! Asserts: every panel title is on the page, real values from Prometheus are (the
//! hosts' MTU, the fleet's flow count and the flow's row, healthy, linking to its
//! dashboard), no query failed; each PNG has the requested size and is not blank (many
//! distinct colours, the status colours among them).
//!
//! The screenshots stay at `target/preview/{flow,fleet}.png` (printed) to look at.
//! Needs root, iproute2, Prometheus, snmpsim, chromium and the workspace's exporter
//! binaries (`cargo build --workspace` first).

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use rtmon_dashboards::preview::{self, UNIT_PX};
use rtmon_testkit::prom::PROMETHEUS_BIN;
use rtmon_testkit::rig::{self, FlowRig, RigBins};
use serde_json::Value;

const CHROMIUM: &str = "chromium";
const WIDTH: u32 = 1600;

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_rtmon-dashboards"))
}

/// `target/preview/`: kept after the test.
fn preview_dir() -> PathBuf {
    let d = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .parent()
        .expect("target dir")
        .join("preview");
    std::fs::create_dir_all(&d).expect("mkdir target/preview");
    d
}

fn html_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// Runs `preview` for `dashboard`; returns the HTML.
fn run_preview(dashboard: &Path, prom: &str, out: &Path) -> String {
    let o = bin()
        .arg("preview")
        .arg("--dashboard")
        .arg(dashboard)
        .args(["--prometheus", prom, "--rate-interval", "30s", "--out"])
        .arg(out)
        .output()
        .expect("run preview");
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(
        o.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(stdout.contains(", 0 failed)"), "{stdout}");
    std::fs::read_to_string(out).expect("preview html")
}

/// Screenshots `html` at WIDTH × `height`; returns (width, height, distinct colours,
/// whether each of `colours` occurs).
fn screenshot(
    html: &Path,
    png: &Path,
    height: u32,
    colours: &[[u8; 3]],
) -> (u32, u32, usize, Vec<bool>) {
    let _ = std::fs::remove_file(png);
    let profile = tempfile::tempdir().expect("profile dir");
    let o = Command::new("timeout")
        .arg("120")
        .arg(CHROMIUM)
        .args([
            "--headless=new",
            "--no-sandbox",
            "--disable-gpu",
            "--hide-scrollbars",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .arg(format!("--screenshot={}", png.display()))
        .arg(format!("--window-size={WIDTH},{height}"))
        .arg(format!("file://{}", html.display()))
        .output()
        .expect("run chromium");
    assert!(
        o.status.success() && png.exists(),
        "chromium failed ({:?}): {}",
        o.status,
        String::from_utf8_lossy(&o.stderr)
            .lines()
            .filter(|l| !l.contains("dbus"))
            .collect::<Vec<_>>()
            .join("\n")
    );
    let decoder = png::Decoder::new(std::io::BufReader::new(
        std::fs::File::open(png).expect("png"),
    ));
    let mut reader = decoder.read_info().expect("png header");
    let mut buf = vec![0; reader.output_buffer_size().expect("png size")];
    let info = reader.next_frame(&mut buf).expect("png frame");
    let bpp = info.color_type.samples();
    assert!(bpp >= 3, "colour PNG expected: {:?}", info.color_type);
    let mut seen = HashSet::new();
    for px in buf[..info.buffer_size()].chunks_exact(bpp) {
        seen.insert([px[0], px[1], px[2]]);
    }
    let found = colours.iter().map(|c| seen.contains(c)).collect();
    (info.width, info.height, seen.len(), found)
}

fn page_height(d: &Value) -> u32 {
    let bottom = preview::panels(d)
        .iter()
        .map(|p| p["gridPos"]["y"].as_u64().unwrap_or(0) + p["gridPos"]["h"].as_u64().unwrap_or(0))
        .max()
        .unwrap_or(0) as u32;
    (bottom * UNIT_PX + 120).max(2400)
}

#[test]
fn preview_of_flow_and_fleet_dashboards_renders_in_chromium() {
    let mut bins = RigBins::workspace();
    bins.dashboards = PathBuf::from(env!("CARGO_BIN_EXE_rtmon-dashboards"));
    let snmpsim = rtmon_testkit::snmp::snmpsim_binary()
        .map(|p| p.display().to_string())
        .unwrap_or_else(|| "snmpsim-command-responder".into());
    let bin_paths = bins.all();
    let mut need: Vec<&str> = vec![
        PROMETHEUS_BIN,
        "ip",
        "snmpget",
        &snmpsim,
        CHROMIUM,
        "timeout",
    ];
    need.extend(bin_paths.iter().map(String::as_str));
    if !rtmon_testkit::available(
        "preview_of_flow_and_fleet_dashboards_renders_in_chromium",
        &need,
        true,
    ) {
        return;
    }
    let mut rig = FlowRig::start(&bins).expect("flow rig");
    let url = rig.prom.url();

    // The flow's dashboard and the fleet overview.
    let gen = rig.dir().join("dashboards");
    let o = bin()
        .arg("generate")
        .arg(&rig.flow_file)
        .arg("--out")
        .arg(&gen)
        .output()
        .expect("generate");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let flow_json = gen.join(format!(
        "{}.json",
        rtmon_dashboards::dashboard::uid(rig::FLOW_ID)
    ));
    let fleet_json = gen.join("rtmon-fleet.json");

    // Until every query has data and the flow is healthy (as `check` says).
    let end = Instant::now() + Duration::from_secs(90);
    loop {
        let o = bin()
            .arg("check")
            .arg(&rig.flow_file)
            .args(["--prometheus", &url, "--require-healthy"])
            .output()
            .expect("check");
        if o.status.success() {
            break;
        }
        assert!(
            Instant::now() < end,
            "check never passed:\n{}\n{}",
            String::from_utf8_lossy(&o.stdout),
            rig.logs()
        );
        std::thread::sleep(Duration::from_millis(500));
    }

    let out = preview_dir();
    for (name, json) in [("flow", &flow_json), ("fleet", &fleet_json)] {
        let d: Value =
            serde_json::from_slice(&std::fs::read(json).expect("dashboard")).expect("json");
        let html_path = out.join(format!("{name}.html"));
        let html = run_preview(json, &url, &html_path);
        for p in preview::panels(&d) {
            let t = p["title"].as_str().unwrap_or("");
            assert!(
                html.contains(&html_escape(t)),
                "{name}: panel {t:?} missing"
            );
        }
        assert!(html.contains(&format!(
            "left:{:.4}%;top:{}px",
            0.0,
            UNIT_PX * d["panels"][0]["gridPos"]["y"].as_u64().unwrap_or(0) as u32
        )));
        let (green, red) = ([0x37, 0x87, 0x2d], [0xc4, 0x16, 0x2a]);
        match name {
            "flow" => {
                // The hosts' MTU, read from their interfaces through node exporter.
                assert!(
                    html.contains(&format!("<b>{} </b>", rig::HOST_MTU))
                        || html.contains(&format!("<b>{}</b>", rig::HOST_MTU)),
                    "no MTU {} in the flow preview",
                    rig::HOST_MTU
                );
                // Status tiles: each hop UP.
                assert!(html.matches("<b>UP</b>").count() >= 3, "hop tiles not UP");
            }
            _ => {
                // One flow, healthy, linking to its dashboard.
                assert!(
                    html.contains("<span class=\"l\"></span> <b>1</b>"),
                    "flow count"
                );
                assert!(
                    html.contains(&format!(
                        "<a href=\"/d/{}\">{}</a>",
                        rtmon_dashboards::dashboard::uid(rig::FLOW_ID),
                        rig::FLOW_ID
                    )),
                    "fleet row link"
                );
                assert!(html.contains(">healthy</td>"), "fleet status");
            }
        }
        let png = out.join(format!("{name}.png"));
        let height = page_height(&d);
        let (w, h, colours, found) = screenshot(&html_path, &png, height, &[green, red]);
        eprintln!(
            "preview screenshot: {} ({w}x{h}, {colours} colours)",
            png.display()
        );
        assert_eq!((w, h), (WIDTH, height));
        assert!(colours >= 20, "{name}: only {colours} colours: blank page?");
        assert!(found[0], "{name}: no healthy green in the screenshot");
        if name == "fleet" {
            // Healthy fleet: no red anywhere.
            assert!(!found[1], "fleet: red in a healthy fleet");
        }
    }
}

/// Bad input gets a clear error: not a dashboard, Prometheus unreachable, a time
/// Prometheus refuses (every query fails: exit 1, the errors in the tiles).
#[test]
fn preview_reports_bad_input_clearly() {
    let dir = tempfile::tempdir().expect("tmp");
    let not_dash = dir.path().join("x.json");
    std::fs::write(&not_dash, "{\"title\": \"x\"}").expect("write");
    let dash = dir.path().join("fleet.json");
    std::fs::write(
        &dash,
        serde_json::to_string(&rtmon_dashboards::fleet::build(
            &rtmon_dashboards::Options::default(),
        ))
        .expect("json"),
    )
    .expect("write");
    let out = dir.path().join("p.html");
    let run = |d: &Path, prom: &str, extra: &[&str]| {
        let o = bin()
            .arg("preview")
            .arg("--dashboard")
            .arg(d)
            .args(["--prometheus", prom, "--out"])
            .arg(&out)
            .args(extra)
            .output()
            .expect("run");
        (
            o.status.code(),
            String::from_utf8_lossy(&o.stderr).into_owned(),
        )
    };
    let (code, err) = run(&not_dash, "http://127.0.0.1:9", &[]);
    assert_eq!(code, Some(1));
    assert!(err.contains("x.json") && err.contains("panels"), "{err}");
    let (code, err) = run(&dash, "http://127.0.0.1:9", &[]);
    assert_eq!(code, Some(1));
    assert!(
        err.contains("127.0.0.1:9") && err.contains("unreachable"),
        "{err}"
    );
    assert!(!out.exists(), "nothing written without Prometheus");

    if !rtmon_testkit::available(
        "preview_reports_bad_input_clearly",
        &[PROMETHEUS_BIN],
        false,
    ) {
        return;
    }
    let prom = rtmon_testkit::prom::Prometheus::start("").expect("prometheus");
    let (code, err) = run(&dash, &prom.url(), &["--time", "yesterday"]);
    assert_eq!(code, Some(1), "{err}");
    assert!(err.contains("every query failed"), "{err}");
    let html = std::fs::read_to_string(&out).expect("written anyway");
    assert!(html.contains("class=\"err\""), "errors shown in the tiles");
    assert!(html.contains("yesterday"), "Prometheus' reason shown");
    // A good time: every query runs (no rules loaded: no data, but no error).
    let (code, err) = run(&dash, &prom.url(), &[]);
    assert_eq!(code, Some(0), "{err}");
    let html = std::fs::read_to_string(&out).expect("html");
    assert!(!html.contains("class=\"err\""));
    assert!(html.contains("Flows, worst first"));
}
