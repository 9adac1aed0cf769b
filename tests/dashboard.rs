//! The Grafana dashboard (`config/grafana/virlife-dashboard.json`) is built
//! on the metrics the code emits: every series it queries exists, and every
//! metric the code emits has a panel.

use std::collections::BTreeSet;
use std::path::Path;

fn emitted(dir: &Path, names: &mut BTreeSet<String>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            emitted(&path, names);
        } else if path.extension().is_some_and(|e| e == "rs") {
            let text = std::fs::read_to_string(&path).unwrap();
            names.extend(metric_names(&text, "\"virlife_"));
        }
    }
}

/// `virlife_…` names following `opening` in `text`.
fn metric_names(text: &str, opening: &str) -> BTreeSet<String> {
    text.match_indices(opening)
        .map(|(at, _)| {
            let name: String = text[at + opening.len() - "virlife_".len()..]
                .chars()
                .take_while(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '_')
                .collect();
            name
        })
        .collect()
}

#[test]
fn the_dashboard_queries_every_metric_the_code_emits_and_nothing_else() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut in_code = BTreeSet::new();
    emitted(&root.join("src"), &mut in_code);
    emitted(&root.join("adapters"), &mut in_code);
    assert!(
        in_code.contains("virlife_http_requests_total"),
        "{in_code:?}"
    );
    assert!(in_code.contains("virlife_jobs"), "{in_code:?}");

    let dashboard: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(root.join("config/grafana/virlife-dashboard.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(dashboard["title"], "VirLife");
    let panels = dashboard["panels"].as_array().unwrap();
    let mut queried = BTreeSet::new();
    for panel in panels.iter().filter(|p| p["type"] != "row") {
        let targets = panel["targets"].as_array().unwrap();
        assert!(!targets.is_empty(), "{} queries nothing", panel["title"]);
        for target in targets {
            let expr = target["expr"].as_str().unwrap();
            for name in metric_names(expr, "virlife_") {
                // Histograms are queried through their Prometheus series.
                let base = ["_bucket", "_sum", "_count"]
                    .iter()
                    .find_map(|suffix| name.strip_suffix(suffix))
                    .unwrap_or(&name);
                queried.insert(base.to_owned());
            }
        }
    }
    let unknown: Vec<_> = queried.difference(&in_code).collect();
    assert!(
        unknown.is_empty(),
        "the dashboard queries {unknown:?}, which nothing emits"
    );
    let missing: Vec<_> = in_code.difference(&queried).collect();
    assert!(missing.is_empty(), "no panel shows {missing:?}");
}
