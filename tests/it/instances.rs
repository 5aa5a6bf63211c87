//! `instances = N`: copies of a program, each with its own name, `INSTANCE`, port and
//! probe; a reload of the file changes the count.

use serde_json::Value;

use crate::support::{wait_for, Warden, BIN, DEADLINE};

/// `range`: ports of this test's own (tests run in parallel, and other tests use the
/// default range); below the kernel's ephemeral ports, so no `free_port` lands there.
fn config(n: u32, range: &str) -> String {
    format!(
        "[ports]\nrange = \"{range}\"\n\n[[program]]\nname = \"mcp\"\ncommand = \"sh\"\n\
         args = [\"-c\", \"echo instance $INSTANCE on $PORT; exec python3 -m http.server \\\"$PORT\\\" --bind 127.0.0.1\"]\n\
         instances = {n}\nport = \"auto\"\nprobe = {{ type = \"tcp\", interval = \"200ms\" }}\n"
    )
}

const RANGE_A: &str = "19200-19209";
const RANGE_B: &str = "19210-19219";

fn names(w: &Warden) -> Vec<String> {
    w.status()["programs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap().to_owned())
        .collect()
}

fn healthy_port(w: &Warden, name: &str) -> u64 {
    let p = w.wait_program(&format!("{name} healthy"), name, |p| p["healthy"] == true);
    p["port"].as_u64().unwrap()
}

#[test]
fn each_instance_has_its_own_port_and_probe_and_a_reload_changes_the_count() {
    let mut w = Warden::prepare();
    w.write_config(&config(3, RANGE_A));
    w.launch();
    assert_eq!(names(&w), ["mcp-0", "mcp-1", "mcp-2"]);
    assert_eq!(
        w.program("mcp-1")["instance"],
        serde_json::json!({"of": "mcp", "index": 1})
    );
    let ports: Vec<u64> = (0..3).map(|i| healthy_port(&w, &format!("mcp-{i}"))).collect();
    assert!(
        ports[0] != ports[1] && ports[1] != ports[2] && ports[0] != ports[2],
        "{ports:?}"
    );
    for (i, port) in ports.iter().enumerate() {
        let line = format!("instance {i} on {port}");
        wait_for(&format!("mcp-{i} to log {line:?}"), DEADLINE, || {
            let (_, tail): (u16, Value) = w.get_json(&format!("/api/v1/programs/mcp-{i}/logs?tail=20"));
            tail.to_string().contains(&line).then_some(())
        });
    }
    let first = w.pid_of("mcp-0");

    // Down to one: the others stop, the first keeps running untouched.
    w.write_config(&config(1, RANGE_A));
    let log = w.reload();
    assert!(log.contains("configuration reloaded"), "{log}");
    wait_for("mcp-1 and mcp-2 to be gone", DEADLINE, || {
        (names(&w) == ["mcp-0"]).then_some(())
    });
    assert_eq!(w.pid_of("mcp-0"), first);

    // And up again: a new copy with a port of its own.
    w.write_config(&config(2, RANGE_A));
    w.reload();
    let port = healthy_port(&w, "mcp-1");
    assert_ne!(port, ports[0]);
    assert_eq!(w.pid_of("mcp-0"), first);
}

#[test]
fn a_program_may_depend_on_every_instance() {
    let mut w = Warden::prepare();
    // The agent checks at its start that both copies answer (their ports are the first
    // two of RANGE_B), and crashes otherwise.
    let check = "import socket\nfor p in (19210, 19211): socket.create_connection(('127.0.0.1', p), 1).close()\nprint('both up')";
    w.write_config(&format!(
        "{}\n[[program]]\nname = \"agent\"\ncommand = \"sh\"\n\
         args = [\"-c\", \"python3 -c \\\"$CHECK\\\" && exec sleep 1000\"]\nenv = {{ CHECK = {check:?} }}\n\
         depends_on = [{{ name = \"mcp\", condition = \"healthy\" }}]\n",
        config(2, RANGE_B)
    ));
    w.launch();
    let agent = w.wait_state("agent", "running");
    assert_eq!(agent["restarts"], 0, "{agent}");
    let (_, tail) = w.get_json("/api/v1/programs/agent/logs?tail=5");
    assert!(tail.to_string().contains("both up"), "{tail}");
    assert_eq!(w.program("mcp-0")["port"], 19210);
    assert_eq!(w.program("mcp-1")["port"], 19211);
}

const RANGE_C: &str = "19220-19229";

/// `warden scale` 1 → 3 → 1: copies with ports of their own, each passing its probe;
/// the first copy is never touched; the highest index stops first.
#[test]
fn scale_through_the_cli_and_the_api() {
    let mut w = Warden::prepare();
    w.write_config(&format!(
        "{}\n[[program]]\nname = \"plain\"\ncommand = \"sleep\"\nargs = [\"1000\"]\n",
        config(1, RANGE_C)
    ));
    w.launch();
    let first = w.pid_of("mcp-0");
    let scale = |name: &str, n: &str| {
        std::process::Command::new(BIN)
            .args(["scale", name, n, "--url", &format!("http://127.0.0.1:{}", w.port)])
            .output()
            .unwrap()
    };
    let out = scale("mcp", "3");
    assert!(out.status.success(), "{out:?}");
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "mcp: 3 instances (started mcp-1, mcp-2)\n"
    );
    let ports: Vec<u64> = (0..3).map(|i| healthy_port(&w, &format!("mcp-{i}"))).collect();
    assert!(
        ports[0] != ports[1] && ports[1] != ports[2] && ports[0] != ports[2],
        "{ports:?}"
    );
    assert_eq!(w.pid_of("mcp-0"), first);
    // INSTANCE is in each copy's environment (shown by the program's detail).
    let (_, detail) = w.get_json("/api/v1/programs/mcp-2");
    assert_eq!(detail["config"]["env"]["INSTANCE"], "2", "{detail}");

    let (code, body) = w.send(
        "POST",
        "/api/v1/programs/mcp/scale",
        "application/json",
        r#"{"instances": 1}"#,
    );
    assert_eq!(code, 200, "{body}");
    let answer: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(answer["removed"], serde_json::json!(["mcp-2", "mcp-1"]));
    wait_for("mcp-1 and mcp-2 to be gone", DEADLINE, || {
        (names(&w) == ["mcp-0", "plain"]).then_some(())
    });
    assert_eq!(w.pid_of("mcp-0"), first);

    // Clear refusals.
    for (name, n, says) in [
        ("nope", "2", "no program named \"nope\""),
        ("plain", "2", "plain is not a scaled program"),
        ("mcp-0", "2", "mcp-0 is a copy of mcp: scale mcp instead"),
        (
            "mcp",
            "11",
            "[ports] range 19220-19229 has room for 10 more \"auto\" programs, not 11",
        ),
    ] {
        let out = scale(name, n);
        assert_eq!(out.status.code(), Some(1), "{out:?}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains(says), "{name} {n}: {stderr}");
    }
    let out = scale("mcp", "0");
    assert_eq!(out.status.code(), Some(2), "clap refuses 0: {out:?}");
}
