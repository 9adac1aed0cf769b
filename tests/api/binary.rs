//! The `virlife` binary itself: configuration errors, `check`, `healthcheck`, shutdown.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn virlife() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_virlife"));
    command
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default());
    // No .env from the repository must leak in.
    command.current_dir(std::env::temp_dir());
    command
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[test]
fn production_without_database_and_master_key_exits_naming_both() {
    let output = virlife().env("ENVIRONMENT", "production").output().unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("DATABASE_URL"), "{stderr}");
    assert!(stderr.contains("MASTER_API_KEY"), "{stderr}");
}

#[test]
fn check_passes_on_defaults_and_never_prints_secrets() {
    let output = virlife()
        .arg("check")
        .env(
            "MASTER_API_KEY",
            "a-very-secret-master-key-of-enough-length",
        )
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{stdout}");
    assert!(stdout.contains("all fine"));
    assert!(stdout.contains("***"));
    assert!(!stdout.contains("a-very-secret"));
}

#[test]
fn check_fails_on_bad_configuration() {
    let output = virlife()
        .arg("check")
        .env("PORT", "not-a-port")
        .output()
        .unwrap();
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stdout).contains("PORT"));
}

#[test]
fn openapi_prints_the_document() {
    let output = virlife().arg("openapi").output().unwrap();
    assert!(output.status.success());
    let spec: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(spec["info"]["title"], "VirLife API");
}

#[test]
fn the_service_serves_answers_healthcheck_and_stops_cleanly_on_sigterm() {
    let port = free_port().to_string();
    let mut server = virlife()
        .env("PORT", &port)
        .env("API_HOST", "127.0.0.1")
        .env("LOG_FORMAT", "json")
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let probe = virlife()
            .arg("healthcheck")
            .env("PORT", &port)
            .output()
            .unwrap();
        if probe.status.success() {
            break;
        }
        assert!(Instant::now() < deadline, "never became healthy");
        std::thread::sleep(Duration::from_millis(50));
    }
    let killed = Command::new("kill")
        .args(["-TERM", &server.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if let Some(status) = server.try_wait().unwrap() {
            assert!(status.success(), "exit status {status}");
            break;
        }
        assert!(Instant::now() < deadline, "did not stop after SIGTERM");
        std::thread::sleep(Duration::from_millis(50));
    }
    let after = virlife()
        .arg("healthcheck")
        .env("PORT", &port)
        .output()
        .unwrap();
    assert!(!after.status.success());
}
