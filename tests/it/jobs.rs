//! Scheduled programs through the real binary: runs at due times, `/status` shows them,
//! overlap, timeout, retries, run-now and missed runs.

use std::process::Command;

use crate::support::{pid_alive, wait_for, Warden, BIN, DEADLINE};

/// The number of lines in `file` (each run of the test jobs appends one).
fn runs(w: &Warden, file: &str) -> usize {
    std::fs::read_to_string(w.path(file)).map_or(0, |t| t.lines().count())
}

#[test]
fn an_every_second_job_runs_again_and_again_and_status_shows_each_run() {
    let mut w = Warden::prepare();
    let out = w.path("runs.txt").display().to_string();
    w.write_config(&format!(
        "[[program]]\nname = \"tick\"\ncommand = \"sh\"\nargs = [\"-c\", \"date +%s.%N >> {out}\"]\nschedule = \"@every 1s\"\n"
    ));
    w.launch();
    let first = w.program("tick");
    assert_eq!(first["job"]["schedule"], "@every 1s");
    assert!(first["job"]["next_due"].is_string(), "{first}");
    assert_eq!(first["required"], false, "a job does not hold back /ready");
    wait_for("three runs", DEADLINE, || (runs(&w, "runs.txt") >= 3).then_some(()));
    // Between runs: exited (not restarted after exit 0), the last run succeeded.
    let p = w.wait_program("a finished run in /status", "tick", |p| {
        p["job"]["last_run"]["outcome"] == "succeeded" && p["state"] == "exited"
    });
    let run = &p["job"]["last_run"];
    assert_eq!(run["exit_code"], 0, "{p}");
    assert!(run["duration_seconds"].as_f64().is_some(), "{p}");
    assert_eq!(w.get("/ready").unwrap().0, 200);
}

#[test]
fn a_slow_job_with_overlap_skip_skips_and_says_so() {
    let mut w = Warden::prepare();
    let out = w.path("runs.txt").display().to_string();
    w.write_config(&format!(
        "[[program]]\nname = \"slow\"\ncommand = \"sh\"\nargs = [\"-c\", \"echo run >> {out}; sleep 3\"]\n\
         schedule = \"@every 1s\"\noverlap = \"skip\"\n"
    ));
    w.launch();
    let p = w.wait_program("a skipped due time", "slow", |p| p["job"]["last_skipped"].is_string());
    assert_eq!(p["job"]["last_run"]["outcome"], "running", "{p}");
    assert_eq!(runs(&w, "runs.txt"), 1, "one run at a time");
    assert!(w.stderr().contains("skipped (overlap = skip)"), "{}", w.stderr());
}

#[test]
fn a_timeout_stops_the_whole_tree_of_a_hanging_run_started_by_run_now() {
    let mut w = Warden::prepare();
    let pidfile = w.path("child.pid").display().to_string();
    w.write_config(&format!(
        "[[program]]\nname = \"hang\"\ncommand = \"sh\"\n\
         args = [\"-c\", \"sleep 1000 & echo $! > {pidfile}; wait\"]\nschedule = \"0 3 * * *\"\ntimeout = \"1s\"\n"
    ));
    w.launch();
    let url = format!("http://127.0.0.1:{}", w.port);
    let out = Command::new(BIN)
        .args(["run-now", "hang", "--url", &url])
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let child: i32 = wait_for("the grandchild's pid", DEADLINE, || {
        std::fs::read_to_string(&pidfile).ok()?.trim().parse().ok()
    });
    let p = w.wait_program("the run to time out", "hang", |p| {
        p["job"]["last_run"]["outcome"] == "timed out" && p["pid"].is_null()
    });
    assert!(p["job"]["last_run"]["finished_at"].is_string(), "{p}");
    assert_eq!(
        p["last_exit"]["reason"], "timeout",
        "a failure, not an operator stop: {p}"
    );
    wait_for("the grandchild to be gone", DEADLINE, || {
        (!pid_alive(child)).then_some(())
    });

    // run-now refuses what is not a job.
    let (code, body) = w.post("/api/v1/programs/nope/run");
    assert_eq!(code, 404, "{body}");
}

#[test]
fn run_now_wait_answers_when_the_run_ended() {
    let mut w = Warden::prepare();
    w.write_config(
        "[[program]]\nname = \"report\"\ncommand = \"sh\"\nargs = [\"-c\", \"sleep 0.5; echo done\"]\nschedule = \"0 9 * * MON\"\n\
         [[program]]\nname = \"web\"\ncommand = \"sleep\"\nargs = [\"1000\"]\n",
    );
    w.launch();
    let url = format!("http://127.0.0.1:{}", w.port);
    let out = Command::new(BIN)
        .args(["run-now", "report", "--wait", "--url", &url])
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "run report: done (state exited)\n"
    );
    w.wait_program("the run in the job's view", "report", |p| {
        p["job"]["last_run"]["outcome"] == "succeeded"
    });
    let out = Command::new(BIN)
        .args(["run-now", "web", "--url", &url])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("web is not a scheduled program: use start"),
        "{out:?}"
    );
}

#[test]
fn a_failed_run_is_retried_up_to_max_retries() {
    let mut w = Warden::prepare();
    let out = w.path("runs.txt").display().to_string();
    w.write_config(&format!(
        "[[program]]\nname = \"flaky\"\ncommand = \"sh\"\nargs = [\"-c\", \"echo try >> {out}; exit 1\"]\n\
         schedule = \"0 4 * * *\"\nmax_retries = 2\nbackoff = {{ initial = \"100ms\", max = \"100ms\" }}\n"
    ));
    w.launch();
    let (code, body) = w.post("/api/v1/programs/flaky/run");
    assert_eq!(code, 202, "{body}");
    // The job's view follows the events a moment after the state: wait for both.
    let p = w.wait_program("flaky failed, its last run too", "flaky", |p| {
        p["state"] == "failed" && p["job"]["last_run"]["outcome"] == "failed"
    });
    assert_eq!(runs(&w, "runs.txt"), 3, "one run and two retries");
    assert_eq!(p["job"]["last_run"]["exit_code"], 1);
}

#[test]
fn a_run_missed_while_warden_was_down_runs_once_at_start() {
    let mut w = Warden::prepare();
    let out = w.path("runs.txt").display().to_string();
    std::fs::create_dir_all(w.path("data")).unwrap();
    // The last due time warden saw: long ago; @daily was due many times since.
    std::fs::write(w.path("data/jobs.json"), r#"{"backup": 1700000000000}"#).unwrap();
    w.write_config(&format!(
        "[[program]]\nname = \"backup\"\ncommand = \"sh\"\nargs = [\"-c\", \"echo ran >> {out}\"]\n\
         schedule = \"@daily\"\nmissed = \"run_once\"\n"
    ));
    w.launch();
    wait_for("the missed run", DEADLINE, || (runs(&w, "runs.txt") == 1).then_some(()));
    w.wait_program("its outcome", "backup", |p| {
        p["job"]["last_run"]["outcome"] == "succeeded"
    });
    assert!(w.stderr().contains("running it once now (missed = run_once)"));
    // Settled: the state file moved on, so the next start does not run it again.
    let state: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(w.path("data/jobs.json")).unwrap()).unwrap();
    assert!(
        state["backup"].as_u64().unwrap() > 1_700_000_000_000 + 86_400_000,
        "{state}"
    );
}

#[test]
fn overlap_queue_runs_once_more_after_and_replace_restarts() {
    let mut w = Warden::prepare();
    let (queue, replace) = (
        w.path("queue.txt").display().to_string(),
        w.path("replace.txt").display().to_string(),
    );
    w.write_config(&format!(
        "[[program]]\nname = \"queued\"\ncommand = \"sh\"\nargs = [\"-c\", \"echo run >> {queue}; sleep 2.5\"]\n\
         schedule = \"@every 1s\"\noverlap = \"queue\"\n\
         [[program]]\nname = \"replaced\"\ncommand = \"sh\"\nargs = [\"-c\", \"echo run >> {replace}; exec sleep 1000\"]\n\
         schedule = \"@every 1s\"\noverlap = \"replace\"\n"
    ));
    w.launch();
    // queue: a due time during the run waits for it (shown), then runs right after.
    w.wait_program("a queued run", "queued", |p| p["job"]["queued"] == true);
    wait_for("the queued run to start after the first", DEADLINE, || {
        (runs(&w, "queue.txt") >= 2).then_some(())
    });
    // replace: each due time restarts the hanging run with a new process.
    let first = w.pid_of("replaced");
    w.wait_program("a replaced run", "replaced", |p| {
        p["pid"].as_i64().is_some_and(|pid| pid != first as i64)
    });
    assert!(runs(&w, "replace.txt") >= 2);
    assert!(!pid_alive(first), "the replaced run is gone");
}
