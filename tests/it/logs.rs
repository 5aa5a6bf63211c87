//! Program output as a user finds it in `logs/NAME.log`.

use std::time::Duration;

use crate::support::*;

/// 2,000,000 lines of 100 bytes = 200 MB, numbered, written as fast as Python can.
const BURST: &str = r#"
import sys
out = sys.stdout.buffer
pad = b"x" * 89
chunk = []
for i in range(2_000_000):
    chunk.append(b"%09d %s\n" % (i, pad))
    if len(chunk) == 10_000:
        out.write(b"".join(chunk)); chunk = []
out.write(b"".join(chunk))
out.flush()
sys.stderr.write("done\n")
"#;

#[test]
fn a_200_mb_burst_is_captured_whole_across_rotations_with_bounded_memory() {
    require(
        "python3",
        std::process::Command::new("python3").arg("-V").output().is_ok(),
    );
    let w = Warden::prepare();
    std::fs::write(w.path("burst.py"), BURST).unwrap();
    let mut w = w;
    w.write_config(
        r#"[logs]
max_size = "32MiB"
max_files = 10

[[program]]
name = "burst"
command = "python3"
args = ["burst.py"]
restart = "never"
"#,
    );
    w.launch();
    w.wait_state("burst", "exited");
    let files = |w: &Warden| -> Vec<std::path::PathBuf> {
        let mut v: Vec<_> = (1..=10)
            .rev()
            .map(|i| w.path(&format!("logs/burst.log.{i}")))
            .filter(|p| p.exists())
            .collect();
        v.push(w.path("logs/burst.log"));
        v
    };
    // The exit is reported before the pipe is drained: wait for the last line.
    wait_for("the stderr line after the burst", Duration::from_secs(60), || {
        let log = std::fs::read_to_string(w.path("logs/burst.log")).ok()?;
        log.contains(" err done").then_some(())
    });
    let mut next = 0u64;
    for path in files(&w) {
        let meta = std::fs::metadata(&path).unwrap();
        assert!(
            meta.len() <= 32 * 1024 * 1024,
            "{} is {} bytes, over max_size",
            path.display(),
            meta.len()
        );
        let text = std::fs::read_to_string(&path).unwrap();
        for line in text.lines() {
            // `TIMESTAMP out 000000042 xxxx`
            let mut parts = line.splitn(3, ' ');
            let (_ts, tag, rest) = (parts.next().unwrap(), parts.next().unwrap(), parts.next().unwrap_or(""));
            if tag != "out" {
                continue;
            }
            let n: u64 = rest[..9].parse().unwrap_or_else(|_| panic!("malformed line {line:?}"));
            assert_eq!(n, next, "line {next} missing or out of order in {}", path.display());
            assert_eq!(rest.len(), 9 + 1 + 89, "line {n} was cut or merged: {line:?}");
            next += 1;
        }
    }
    assert_eq!(next, 2_000_000, "every line arrived");
    // warden's peak memory stayed small while 200 MB went through it.
    let status = std::fs::read_to_string(format!("/proc/{}/status", w.pid())).unwrap();
    let hwm_kb: u64 = status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap();
    assert!(hwm_kb < 64 * 1024, "warden's peak RSS was {hwm_kb} KiB");
}

#[test]
fn stdout_and_stderr_are_tagged_and_warden_notes_starts_and_exits() {
    let w = Warden::start(
        r#"[[program]]
name = "talker"
command = "sh"
args = ["-c", "echo hello; echo oops >&2; printf 'no newline'; exit 5"]
restart = "never"
"#,
    );
    w.wait_state("talker", "exited");
    let log = wait_for("the log to be complete", DEADLINE, || {
        let log = std::fs::read_to_string(w.path("logs/talker.log")).ok()?;
        log.contains("exited: exit code 5").then_some(log)
    });
    let tagged: Vec<(String, String)> = log
        .lines()
        .map(|l| {
            let mut p = l.splitn(3, ' ');
            let _ts = p.next().unwrap();
            (p.next().unwrap_or("").to_string(), p.next().unwrap_or("").to_string())
        })
        .collect();
    assert!(tagged.contains(&("out".into(), "hello".into())), "{log}");
    assert!(tagged.contains(&("err".into(), "oops".into())), "{log}");
    assert!(tagged.contains(&("out".into(), "no newline".into())), "{log}");
    assert!(
        tagged
            .iter()
            .any(|(t, m)| t == "warden" && m.starts_with("started, pid")),
        "{log}"
    );
}
