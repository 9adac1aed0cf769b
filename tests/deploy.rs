//! The deployment files stay true to the code: railway.json uses only
//! Railway's config-as-code fields, with JSON numbers, and points at a
//! command and a route that exist; the Dockerfile keeps its promises.

use serde_json::Value;
use std::process::Command;

fn read(file: &str) -> String {
    std::fs::read_to_string(format!("{}/{file}", env!("CARGO_MANIFEST_DIR"))).unwrap()
}

const BUILD_FIELDS: &[&str] = &[
    "builder",
    "dockerfilePath",
    "watchPatterns",
    "buildCommand",
    "nixpacksPlan",
    "nixpacksConfigPath",
];
const DEPLOY_FIELDS: &[&str] = &[
    "startCommand",
    "preDeployCommand",
    "healthcheckPath",
    "healthcheckTimeout",
    "restartPolicyType",
    "restartPolicyMaxRetries",
    "numReplicas",
    "multiRegionConfig",
    "overlapSeconds",
    "drainingSeconds",
    "sleepApplication",
    "cronSchedule",
    "region",
    "runtime",
];
const NUMBERS: &[&str] = &[
    "healthcheckTimeout",
    "restartPolicyMaxRetries",
    "numReplicas",
    "overlapSeconds",
    "drainingSeconds",
];

fn check_section(section: &Value, allowed: &[&str], where_: &str) {
    for (key, value) in section.as_object().unwrap() {
        assert!(
            allowed.contains(&key.as_str()),
            "{where_}.{key} is not a Railway field"
        );
        if NUMBERS.contains(&key.as_str()) {
            assert!(
                value.is_u64(),
                "{where_}.{key} must be a JSON number, not {value}"
            );
        }
    }
}

#[test]
fn railway_json_uses_only_railway_fields_and_numbers() {
    let config: Value = serde_json::from_str(&read("railway.json")).expect("railway.json parses");
    assert_eq!(config["$schema"], "https://railway.com/railway.schema.json");
    for key in config.as_object().unwrap().keys() {
        assert!(
            ["$schema", "build", "deploy", "environments"].contains(&key.as_str()),
            "unknown top-level {key}"
        );
    }
    check_section(&config["build"], BUILD_FIELDS, "build");
    assert_eq!(config["build"]["builder"], "DOCKERFILE");
    assert!(
        std::path::Path::new(&format!(
            "{}/{}",
            env!("CARGO_MANIFEST_DIR"),
            config["build"]["dockerfilePath"].as_str().unwrap()
        ))
        .exists()
    );
    check_section(&config["deploy"], DEPLOY_FIELDS, "deploy");
    assert_eq!(config["deploy"]["restartPolicyType"], "ON_FAILURE");
    for (name, environment) in config["environments"].as_object().unwrap() {
        assert!(["staging", "production"].contains(&name.as_str()));
        for (key, section) in environment.as_object().unwrap() {
            match key.as_str() {
                "deploy" => check_section(
                    section,
                    DEPLOY_FIELDS,
                    &format!("environments.{name}.deploy"),
                ),
                "build" => {
                    check_section(section, BUILD_FIELDS, &format!("environments.{name}.build"))
                }
                other => panic!("environments.{name}.{other} is not a Railway field"),
            }
        }
    }
}

#[test]
fn railway_draining_outlasts_the_graceful_shutdown() {
    let config: Value = serde_json::from_str(&read("railway.json")).unwrap();
    let settings = virlife::config::Settings::load(&Default::default()).unwrap();
    assert!(
        config["deploy"]["drainingSeconds"].as_u64().unwrap() > settings.shutdown_grace_seconds
    );
}

#[test]
fn railway_points_at_a_command_and_a_route_that_exist() {
    let config: Value = serde_json::from_str(&read("railway.json")).unwrap();
    let commands = config["deploy"]["preDeployCommand"].as_array().unwrap();
    let command = commands[0].as_str().unwrap();
    let mut words = command.split_whitespace();
    assert_eq!(
        words.next(),
        Some("/app/virlife"),
        "the binary's path in the image"
    );
    let subcommand = words.next().unwrap();
    let help = Command::new(env!("CARGO_BIN_EXE_virlife"))
        .args([subcommand, "--help"])
        .output()
        .unwrap();
    assert!(
        help.status.success(),
        "`virlife {subcommand}` does not exist"
    );
    let spec: Value = serde_json::from_str(&virlife::http::openapi_json()).unwrap();
    let path = config["deploy"]["healthcheckPath"].as_str().unwrap();
    assert!(
        spec["paths"][path]["get"].is_object(),
        "{path} is not a route"
    );
    assert!(
        read("Dockerfile").contains("COPY --from=builder /app/target/release/virlife /app/virlife")
    );
}

#[test]
fn the_dockerfile_is_multi_stage_non_root_and_checks_its_own_health() {
    let dockerfile = read("Dockerfile");
    let froms: Vec<&str> = dockerfile
        .lines()
        .filter(|l| l.starts_with("FROM "))
        .collect();
    assert!(froms.len() >= 3, "multi-stage");
    assert!(froms[0].contains("trixie"), "builder on Debian 13 (trixie)");
    assert!(
        froms.last().unwrap().contains("debian13"),
        "runtime on the same release as the builder"
    );
    assert!(
        dockerfile.contains("cargo chef cook"),
        "dependencies cached in their own layer"
    );
    assert!(dockerfile.contains("USER nonroot"));
    assert!(dockerfile.contains("EXPOSE 8000"));
    assert!(
        dockerfile.contains(r#"HEALTHCHECK"#)
            && dockerfile.contains(r#"["/app/virlife", "healthcheck"]"#)
    );
    assert!(dockerfile.contains("ENVIRONMENT=production"));
    assert!(read(".dockerignore").lines().any(|l| l.trim() == "target/"));
}
