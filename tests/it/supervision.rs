//! Supervision as a user sees it: restarts and their timing, giving up, process trees
//! that leave nothing behind, reloads, shutdown, dependencies, memory limits, reaping.

use crate::support::*;

/// Start times (seconds) a test program appended to `file`.
fn times(w: &Warden, file: &str) -> Vec<f64> {
    std::fs::read_to_string(w.path(file))
        .unwrap_or_default()
        .lines()
        .filter_map(|l| l.trim().parse().ok())
        .collect()
}

fn wait_lines(w: &Warden, file: &str, n: usize) -> Vec<f64> {
    wait_for(&format!("{n} lines in {file}"), DEADLINE, || {
        let t = times(w, file);
        (t.len() >= n).then_some(t)
    })
}

#[test]
fn crash_restarts_immediately_then_with_exponential_backoff() {
    let w = Warden::prepare();
    let script = w.script("crash.sh", "#!/bin/sh\ndate +%s.%N >> starts\nexit 3\n");
    let mut w = w;
    w.write_config(&format!(
        r#"[[program]]
name = "crasher"
command = "{script}"
start_period = "0s"
max_restarts = 0
backoff = {{ initial = "300ms", max = "1200ms", multiplier = 2.0, reset_after = "1h" }}
"#
    ));
    w.launch();
    let t = wait_lines(&w, "starts", 6);
    let gaps: Vec<f64> = t.windows(2).map(|p| p[1] - p[0]).collect();
    // First restart of a streak at once; then 0.3, 0.6, 1.2 and the cap 1.2.
    let expected = [0.0, 0.3, 0.6, 1.2, 1.2];
    for (i, (gap, want)) in gaps.iter().zip(expected).enumerate() {
        assert!(
            *gap >= want - 0.02 && *gap <= want + 0.4,
            "gap {i} was {gap:.3}s, expected about {want}s; all: {gaps:?}"
        );
    }
    let p = w.wait_program("crasher in backoff with a next restart time", "crasher", |p| {
        p["state"] == "backoff" && p["next_restart_at"].is_string()
    });
    assert!(p["restarts"].as_u64().unwrap() >= 5, "{p}");
    assert_eq!(p["last_exit_code"], 3);
    assert_eq!(p["last_exit"]["reason"], "exit_code");
    assert!(p["reason"].as_str().unwrap().contains("exit code 3"), "{p}");
    assert!(p["next_restart_in_seconds"].as_f64().unwrap() <= 1.2);
}

#[test]
fn gives_up_after_max_restarts_and_an_operator_start_gives_a_fresh_budget() {
    let w = Warden::prepare();
    let script = w.script("crash.sh", "#!/bin/sh\ndate +%s.%N >> starts\nexit 1\n");
    let mut w = w;
    w.write_config(&format!(
        r#"[[program]]
name = "loop"
command = "{script}"
max_restarts = 2
restart_window = "1m"
backoff = {{ initial = "0s" }}
"#
    ));
    w.launch();
    let p = w.wait_state("loop", "failed");
    assert_eq!(p["restarts"], 2);
    assert!(
        p["reason"].as_str().unwrap().contains("gave up after 2 restarts"),
        "{p}"
    );
    assert!(p["pid"].is_null());
    assert_eq!(times(&w, "starts").len(), 3, "first start + 2 restarts");

    let (code, _) = w.post("/api/v1/programs/loop/start");
    assert_eq!(code, 202);
    wait_lines(&w, "starts", 4);
    w.wait_state("loop", "failed");
}

#[test]
fn backoff_resets_after_the_program_stayed_up() {
    let w = Warden::prepare();
    let script = w.script("slow-crash.sh", "#!/bin/sh\ndate +%s.%N >> starts\nsleep 0.5\nexit 1\n");
    let mut w = w;
    w.write_config(&format!(
        r#"[[program]]
name = "slow"
command = "{script}"
max_restarts = 0
backoff = {{ initial = "3s", reset_after = "300ms" }}
"#
    ));
    w.launch();
    let t = wait_lines(&w, "starts", 4);
    // Every crash comes after more than reset_after of uptime: each restart is the first
    // of a new streak, so none waits the 3 s initial delay.
    for gap in t.windows(2).map(|p| p[1] - p[0]) {
        assert!(gap < 1.5, "gap {gap:.3}s: the backoff was not reset ({t:?})");
    }
}

const TREE_SCRIPT: &str = r#"#!/bin/sh
sleep 1000 &
echo $! >> pids
setsid sleep 1001 &
echo $! >> pids
(setsid sh -c 'echo $$ >> pids; exec sleep 1002' &)
echo $$ >> pids
wait
"#;

/// Starts TREE_SCRIPT as program `tree`, stops it through the API, and checks that all
/// four processes (child, setsid'ed child, double-forked escapee, main) are gone.
fn stop_kills_the_whole_tree(cgroups: bool) {
    let mut w = Warden::prepare();
    let script = w.script("tree.sh", TREE_SCRIPT);
    w.supervisor = format!("cgroups = {cgroups}");
    w.write_config(&format!("[[program]]\nname = \"tree\"\ncommand = \"{script}\"\n"));
    w.launch();
    if !cgroups {
        assert!(w.status()["warden"]["cgroup"].is_null(), "cgroups = false is honoured");
    }
    let pids = wait_for("4 pids of the tree", DEADLINE, || {
        let p = read_pids(&w.path("pids"));
        (p.len() == 4).then_some(p)
    });
    assert!(pids.iter().all(|p| pid_alive(*p)));
    // The double-forked escapee was adopted by warden (it is a child subreaper).
    let escapee = pids[2];
    wait_for("the escapee to be re-parented to warden", DEADLINE, || {
        let stat = std::fs::read_to_string(format!("/proc/{escapee}/stat")).ok()?;
        let ppid: i32 = stat.rsplit(')').next()?.split_whitespace().nth(1)?.parse().ok()?;
        (ppid == w.pid()).then_some(())
    });

    let (code, body) = w.post("/api/v1/programs/tree/stop");
    assert_eq!(code, 202, "{body}");
    let p = w.wait_state("tree", "stopped");
    assert_eq!(p["last_exit"]["reason"], "operator");
    wait_for("every process of the tree to be gone", DEADLINE, || {
        pids.iter().all(|p| !pid_exists(*p)).then_some(())
    });
}

#[test]
fn stop_leaves_no_descendant_alive_even_setsid_and_double_forked_ones() {
    stop_kills_the_whole_tree(true);
}

#[test]
fn without_cgroups_escapees_are_found_through_the_subreaper_and_the_marker() {
    stop_kills_the_whole_tree(false);
}

#[test]
fn with_a_cgroup_even_an_escapee_that_clears_its_environment_is_stopped() {
    let mut w = Warden::prepare();
    let script = w.script(
        "sneaky.sh",
        "#!/bin/sh\n(setsid env -i sh -c 'echo $$ >> pids; exec sleep 1003' &)\necho $$ >> pids\nexec sleep 1000\n",
    );
    w.write_config(&format!("[[program]]\nname = \"sneaky\"\ncommand = \"{script}\"\n"));
    w.launch();
    if !require("a writable cgroup v2", w.status()["warden"]["cgroup"].is_string()) {
        return;
    }
    let pids = wait_for("2 pids", DEADLINE, || {
        let p = read_pids(&w.path("pids"));
        (p.len() == 2).then_some(p)
    });
    assert_eq!(w.post("/api/v1/programs/sneaky/stop").0, 202);
    w.wait_state("sneaky", "stopped");
    wait_for("the env-less escapee to be gone", DEADLINE, || {
        pids.iter().all(|p| !pid_exists(*p)).then_some(())
    });
}

#[test]
fn a_crashed_program_leaves_nothing_behind() {
    let w = Warden::prepare();
    let script = w.script(
        "leak.sh",
        "#!/bin/sh\nsleep 1000 &\necho $! >> pids\n(setsid sleep 1001 &)\nexit 4\n",
    );
    let mut w = w;
    w.write_config(&format!(
        "[[program]]\nname = \"leak\"\ncommand = \"{script}\"\nrestart = \"never\"\n"
    ));
    w.launch();
    let p = w.wait_state("leak", "exited");
    assert_eq!(p["last_exit_code"], 4);
    let pids = read_pids(&w.path("pids"));
    assert_eq!(pids.len(), 1);
    wait_for("the background child to be killed", DEADLINE, || {
        (!pid_exists(pids[0])).then_some(())
    });
    // And the setsid'ed sleep 1001 is gone too: no process with that command line
    // carries this test's program marker.
    wait_for("no leftover sleep 1001 of this warden", DEADLINE, || {
        let left = children_of(w.pid())
            .into_iter()
            .filter(|p| cmdline(*p).contains("1001"))
            .count();
        (left == 0).then_some(())
    });
}

#[test]
fn a_program_that_ignores_sigterm_is_killed_after_stop_timeout() {
    let w = Warden::prepare();
    let script = w.script(
        "stubborn.sh",
        "#!/bin/sh\ntrap '' TERM\necho $$ > pid\nwhile :; do sleep 0.1; done\n",
    );
    let mut w = w;
    w.write_config(&format!(
        "[[program]]\nname = \"stubborn\"\ncommand = \"{script}\"\nstop_timeout = \"500ms\"\nstart_period = \"0s\"\n"
    ));
    w.launch();
    w.wait_state("stubborn", "running");
    wait_for("pid file", DEADLINE, || {
        (!read_pids(&w.path("pid")).is_empty()).then_some(())
    });
    let (code, _) = w.post("/api/v1/programs/stubborn/stop");
    assert_eq!(code, 202);
    let p = w.wait_state("stubborn", "stopped");
    assert_eq!(p["last_exit"]["signal"], 9, "{p}");
    assert_eq!(p["last_exit"]["reason"], "operator");
    let log = std::fs::read_to_string(w.path("logs/stubborn.log")).unwrap();
    assert!(log.contains("did not stop within 500ms"), "{log}");
    // warden itself is fine.
    assert_eq!(w.get("/live").unwrap().0, 200);
}

fn sleeper(w: &Warden, name: &str, arg: &str) -> String {
    let script = w.script(
        &format!("{name}.sh"),
        "#!/bin/sh\necho $$ >> \"pids-$1\"\nexec sleep 1000\n",
    );
    format!("[[program]]\nname = \"{name}\"\ncommand = \"{script}\"\nargs = [\"{arg}\"]\n")
}

#[test]
fn reload_restarts_only_what_changed() {
    let mut w = Warden::prepare();
    let base = format!(
        "{}{}{}",
        sleeper(&w, "keep", "a"),
        sleeper(&w, "change", "a"),
        sleeper(&w, "drop", "a")
    );
    w.write_config(&base);
    w.launch();
    let keep = w.pid_of("keep");
    let change = w.pid_of("change");
    let dropped = w.pid_of("drop");

    let new = format!(
        "{}{}{}",
        sleeper(&w, "keep", "a"),
        sleeper(&w, "change", "b"),
        sleeper(&w, "add", "a")
    );
    w.write_config(&new);
    w.reload();
    w.wait_program("the changed program to run a new pid", "change", |p| {
        p["pid"].is_number() && p["pid"] != change
    });
    w.wait_program("the added program to start", "add", |p| p["pid"].is_number());
    wait_for("the removed program to leave /status", DEADLINE, || {
        let s = w.status();
        (!s["programs"].as_array().unwrap().iter().any(|p| p["name"] == "drop")).then_some(())
    });
    assert_eq!(w.program("keep")["pid"], keep, "an unchanged program keeps its pid");
    assert_eq!(w.program("keep")["restarts"], 0);
    wait_for("the removed program's process to be gone", DEADLINE, || {
        (!pid_exists(dropped)).then_some(())
    });
    assert!(!pid_exists(change));
}

#[test]
fn an_invalid_reload_is_refused_and_the_old_config_keeps_running() {
    let mut w = Warden::prepare();
    w.write_config(&sleeper(&w, "steady", "a"));
    w.launch();
    let pid = w.pid_of("steady");
    let good = std::fs::read_to_string(w.path("warden.toml")).unwrap();
    std::fs::write(
        w.path("warden.toml"),
        format!("{good}\n[[program]]\nname = \"Bad Name\"\ncomand = \"x\"\n"),
    )
    .unwrap();
    let err = w.reload();
    assert!(err.contains("reload refused"), "{err}");
    assert!(
        err.contains("warden.toml:"),
        "the refusal names the file and place: {err}"
    );
    assert_eq!(w.program("steady")["pid"], pid);
    assert_eq!(w.get("/live").unwrap().0, 200);
    // A later valid reload still works.
    std::fs::write(w.path("warden.toml"), &good).unwrap();
    assert!(w.reload().contains("configuration reloaded"));
}

#[test]
fn an_operator_stop_survives_a_reload() {
    let mut w = Warden::prepare();
    w.write_config(&format!("{}{}", sleeper(&w, "held", "a"), sleeper(&w, "other", "a")));
    w.launch();
    w.pid_of("held");
    assert_eq!(w.post("/api/v1/programs/held/stop").0, 202);
    w.wait_state("held", "stopped");
    // Change the held program and the other one: the held one stays down.
    w.write_config(&format!("{}{}", sleeper(&w, "held", "b"), sleeper(&w, "other", "b")));
    w.reload();
    w.wait_program("other to restart with its new args", "other", |p| {
        p["restarts"] == 1 && p["pid"].is_number()
    });
    let held = w.program("held");
    assert_eq!(held["state"], "stopped", "{held}");
    assert!(held["pid"].is_null());
}

#[test]
fn sigterm_stops_everything_and_exits_0() {
    let w = Warden::prepare();
    let script = w.script("tree.sh", TREE_SCRIPT);
    let mut w = w;
    w.write_config(&format!(
        "[[program]]\nname = \"t1\"\ncommand = \"{script}\"\n[[program]]\nname = \"t2\"\ncommand = \"{script}\"\n"
    ));
    w.launch();
    let pids = wait_for("8 pids", DEADLINE, || {
        let p = read_pids(&w.path("pids"));
        (p.len() == 8).then_some(p)
    });
    w.signal(libc::SIGTERM);
    let status = w.wait_exit(DEADLINE);
    assert_eq!(status.code(), Some(0), "{}", w.stderr());
    wait_for("no process of any program left", DEADLINE, || {
        pids.iter().all(|p| !pid_exists(*p)).then_some(())
    });
}

#[test]
fn a_second_signal_forces_and_exits_1() {
    let w = Warden::prepare();
    let script = w.script(
        "stubborn.sh",
        "#!/bin/sh\ntrap '' TERM\necho $$ > pid\nwhile :; do sleep 0.1; done\n",
    );
    let mut w = w;
    w.write_config(&format!(
        "[[program]]\nname = \"stubborn\"\ncommand = \"{script}\"\nstop_timeout = \"1m\"\n"
    ));
    w.launch();
    let pid = wait_for("pid", DEADLINE, || read_pids(&w.path("pid")).first().copied());
    w.signal(libc::SIGTERM);
    w.wait_state("stubborn", "stopping");
    w.signal(libc::SIGTERM);
    let status = w.wait_exit(DEADLINE);
    assert_eq!(status.code(), Some(1));
    assert!(!pid_exists(pid));
}

#[test]
fn dependencies_start_in_order_and_stop_in_reverse() {
    let w = Warden::prepare();
    let script = w.script(
        "svc.sh",
        "#!/bin/sh\necho \"start $1\" >> order\ntrap 'echo \"stop $1\" >> order; exit 0' TERM\nwhile :; do sleep 0.05; done\n",
    );
    let mut w = w;
    // Listed in reverse so that file order cannot pass for dependency order.
    w.write_config(&format!(
        r#"[[program]]
name = "c"
command = "{script}"
args = ["c"]
start_period = "200ms"
depends_on = ["b"]
[[program]]
name = "b"
command = "{script}"
args = ["b"]
start_period = "200ms"
depends_on = [{{ name = "a", condition = "running" }}]
[[program]]
name = "a"
command = "{script}"
args = ["a"]
start_period = "200ms"
"#
    ));
    w.launch();
    w.wait_state("c", "running");
    w.signal(libc::SIGTERM);
    assert_eq!(w.wait_exit(DEADLINE).code(), Some(0));
    let order = std::fs::read_to_string(w.path("order")).unwrap();
    assert_eq!(
        order.lines().collect::<Vec<_>>(),
        ["start a", "start b", "start c", "stop c", "stop b", "stop a"]
    );
}

#[test]
fn a_program_waits_for_a_failed_dependency_and_says_so() {
    let w = Warden::prepare();
    let bad = w.script("bad.sh", "#!/bin/sh\nexit 1\n");
    let mut w = w;
    w.write_config(&format!(
        r#"[[program]]
name = "db"
command = "{bad}"
max_restarts = 1
backoff = {{ initial = "0s" }}
[[program]]
name = "app"
command = "sleep"
args = ["1000"]
depends_on = ["db"]
"#
    ));
    w.launch();
    w.wait_state("db", "failed");
    let app = w.wait_program("app to say what it waits for", "app", |p| {
        p["reason"]
            .as_str()
            .is_some_and(|r| r.contains("db to be running (it is failed)"))
    });
    assert_eq!(app["state"], "starting");
    assert!(app["pid"].is_null());
}

#[test]
fn memory_limit_restarts_the_program() {
    require(
        "python3",
        std::process::Command::new("python3").arg("-V").output().is_ok(),
    );
    let mut w = Warden::prepare();
    w.write_config(
        r#"[[program]]
name = "hog"
command = "python3"
args = ["-c", "import time; b = b'x' * (96 * 1024 * 1024); print('allocated', flush=True); time.sleep(1000)"]
memory_limit = "48MiB"
memory_limit_grace = "300ms"
backoff = { initial = "30s" }
"#,
    );
    w.launch();
    let p = w.wait_program("hog restarted for memory", "hog", |p| {
        p["last_exit"]["reason"] == "memory"
    });
    assert!(p["restarts"].as_u64().unwrap() >= 1, "{p}");
    let log = std::fs::read_to_string(w.path("logs/hog.log")).unwrap();
    assert!(log.contains("above the limit"), "{log}");
}

#[test]
fn a_missing_command_backs_off_then_fails_with_a_clear_reason() {
    let mut w = Warden::start("[[program]]\nname = \"ghost\"\ncommand = \"/nonexistent/ghost\"\nmax_restarts = 1\n");
    let p = w.wait_program("ghost to report the missing command", "ghost", |p| {
        p["reason"]
            .as_str()
            .is_some_and(|r| r.contains("command `/nonexistent/ghost` not found"))
    });
    assert_eq!(p["last_exit"]["reason"], "spawn_failed");
    let p = w.wait_state("ghost", "failed");
    assert_eq!(p["restarts"], 1);
    assert!(w.try_exit().is_none(), "warden keeps running");
}

#[test]
fn disabled_and_manual_programs_are_listed_but_not_started() {
    let w = Warden::start(
        r#"[[program]]
name = "off"
command = "sleep"
args = ["1000"]
enabled = false
[[program]]
name = "manual"
command = "sleep"
args = ["1000"]
autostart = false
"#,
    );
    let off = w.program("off");
    assert_eq!(off["state"], "stopped");
    assert_eq!(off["reason"], "disabled");
    assert_eq!(w.post("/api/v1/programs/off/start").0, 409);
    assert_eq!(w.program("manual")["state"], "stopped");
    assert_eq!(w.post("/api/v1/programs/manual/start").0, 202);
    w.wait_state("manual", "running");
    assert_eq!(w.post("/api/v1/programs/nope/start").0, 404);
}

#[test]
fn misbehaving_children_leave_warden_responsive() {
    let w = Warden::prepare();
    let closer = w.script("closer.sh", "#!/bin/sh\nexec 1>&- 2>&-\nexec sleep 1000\n");
    let garbage = w.script(
        "garbage.sh",
        "#!/bin/sh\nhead -c 200000 /dev/urandom\nhead -c 50000 /dev/urandom >&2\nexec sleep 1000\n",
    );
    let bomb = w.script(
        "bomb.sh",
        "#!/bin/sh\ni=0\nwhile [ $i -lt 100 ]; do sleep 1000 & echo $! >> bomb-pids; i=$((i+1)); done\nwait\n",
    );
    let mut w = w;
    w.write_config(&format!(
        "[[program]]\nname = \"closer\"\ncommand = \"{closer}\"\n[[program]]\nname = \"garbage\"\ncommand = \"{garbage}\"\n[[program]]\nname = \"bomb\"\ncommand = \"{bomb}\"\n"
    ));
    w.launch();
    w.wait_state("closer", "running");
    w.wait_state("garbage", "running");
    let pids = wait_for("100 descendants", DEADLINE, || {
        let p = read_pids(&w.path("bomb-pids"));
        (p.len() == 100).then_some(p)
    });
    wait_for("the garbage to reach the log", DEADLINE, || {
        let len = std::fs::metadata(w.path("logs/garbage.log"))
            .map(|m| m.len())
            .unwrap_or(0);
        (len > 250_000).then_some(())
    });
    assert_eq!(w.get("/live").unwrap().0, 200);
    assert_eq!(w.post("/api/v1/programs/bomb/stop").0, 202);
    w.wait_state("bomb", "stopped");
    wait_for("all 100 descendants gone", DEADLINE, || {
        pids.iter().all(|p| !pid_exists(*p)).then_some(())
    });
    w.signal(libc::SIGTERM);
    assert_eq!(w.wait_exit(DEADLINE).code(), Some(0));
}

/// Children of `pid` (all threads), from /proc.
fn children_of(pid: i32) -> Vec<i32> {
    let mut out = Vec::new();
    if let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) {
        for t in tasks.flatten() {
            if let Ok(s) = std::fs::read_to_string(t.path().join("children")) {
                out.extend(s.split_whitespace().filter_map(|x| x.parse::<i32>().ok()));
            }
        }
    }
    out
}

fn cmdline(pid: i32) -> String {
    std::fs::read(format!("/proc/{pid}/cmdline"))
        .map(|b| String::from_utf8_lossy(&b).replace('\0', " "))
        .unwrap_or_default()
}

fn state_of(pid: i32) -> Option<String> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    stat.rsplit(')').next()?.split_whitespace().next().map(str::to_string)
}

const ORPHAN_MAKER: &str = "#!/bin/sh\nfor i in 1 2 3 4 5; do (sleep 1 &); done\necho ok > ready\nexec sleep 1000\n";

/// Orphans re-parented to warden are reaped: none stays a zombie.
fn assert_orphans_reaped(w: &Warden, warden_pid: i32) {
    w.pid_of("orphans");
    // The five `sleep 1` were adopted by warden (not by the host's init).
    wait_for("warden to adopt the orphans", DEADLINE, || {
        let adopted = children_of(warden_pid)
            .into_iter()
            .filter(|p| cmdline(*p).contains("sleep 1 "))
            .count();
        (adopted >= 5).then_some(())
    });
    // ... and once they exit, none stays a zombie.
    wait_for("no zombie child of warden", DEADLINE, || {
        let kids = children_of(warden_pid);
        let zombies = kids.iter().filter(|p| state_of(**p).as_deref() == Some("Z")).count();
        let sleepers = kids.iter().filter(|p| cmdline(**p).contains("sleep 1 ")).count();
        (zombies == 0 && sleepers == 0).then_some(())
    });
}

#[test]
fn adopted_orphans_are_reaped() {
    let w = Warden::prepare();
    let script = w.script("orphans.sh", ORPHAN_MAKER);
    let mut w = w;
    w.write_config(&format!("[[program]]\nname = \"orphans\"\ncommand = \"{script}\"\n"));
    w.launch();
    let pid = w.pid();
    assert_orphans_reaped(&w, pid);
}

#[test]
fn as_pid1_in_a_pid_namespace_warden_reaps_and_exits_cleanly() {
    let unshare_works = std::process::Command::new("unshare")
        .args(["--pid", "--fork", "--mount-proc", "true"])
        .status()
        .is_ok_and(|s| s.success());
    if !require("unshare --pid (root, util-linux)", unshare_works) {
        return;
    }
    let w = Warden::prepare();
    let script = w.script("orphans.sh", ORPHAN_MAKER);
    let mut w = w;
    w.write_config(&format!("[[program]]\nname = \"orphans\"\ncommand = \"{script}\"\n"));
    w.launch_with(&["unshare", "--pid", "--fork", "--mount-proc"]);
    // The host pid of warden: the only child of `unshare`.
    let warden = wait_for("warden inside the namespace", DEADLINE, || {
        children_of(w.pid()).first().copied()
    });
    let status: serde_json::Value = w.status();
    assert_eq!(status["warden"]["pid"], 1, "warden is PID 1 in its namespace");
    assert_orphans_reaped(&w, warden);
    // SIGTERM to PID 1 works (it installed handlers) and the exit code passes through.
    // SAFETY: plain kill.
    unsafe { libc::kill(warden, libc::SIGTERM) };
    assert_eq!(w.wait_exit(DEADLINE).code(), Some(0), "{}", w.stderr());
}

#[test]
fn a_program_gets_only_the_environment_it_asks_for_and_secrets_stay_hidden() {
    let mut w = Warden::prepare();
    w.env = vec![
        ("WARDEN_TEST_SECRET".into(), "s3cr3t-value".into()),
        ("WARDEN_TEST_PASS".into(), "passed".into()),
        ("WARDEN_TEST_OTHER".into(), "not-for-programs".into()),
    ];
    w.write_config(
        r#"[[program]]
name = "envy"
command = "sh"
args = ["-c", "env > env.out; exec sleep 1000"]
env = { GREETING = "${WARDEN_TEST_GREETING:-hello}", API_KEY = "${WARDEN_TEST_SECRET}" }
env_passthrough = ["WARDEN_TEST_PASS", "WARDEN_TEST_UNSET"]
"#,
    );
    w.launch();
    let env = wait_for("the program's environment", DEADLINE, || {
        std::fs::read_to_string(w.path("env.out"))
            .ok()
            .filter(|e| e.contains("WARDEN_PROGRAM"))
    });
    let vars: std::collections::BTreeMap<&str, &str> = env.lines().filter_map(|l| l.split_once('=')).collect();
    assert_eq!(vars.get("GREETING"), Some(&"hello"));
    assert_eq!(vars.get("API_KEY"), Some(&"s3cr3t-value"));
    assert_eq!(vars.get("WARDEN_TEST_PASS"), Some(&"passed"));
    assert_eq!(vars.get("WARDEN_PROGRAM"), Some(&"envy"));
    assert!(vars.contains_key("PATH"));
    assert!(!vars.contains_key("WARDEN_TEST_OTHER"), "not listed, not passed: {env}");
    assert!(!vars.contains_key("WARDEN_TEST_UNSET"));
    assert!(
        !vars.contains_key("WARDEN_LOG"),
        "warden's own settings stay with warden"
    );
    let (_, status) = w.get("/status").unwrap();
    assert!(!status.contains("s3cr3t"), "{status}");
    assert!(!w.stderr().contains("s3cr3t"));
}

#[test]
fn a_program_runs_as_its_configured_user() {
    // SAFETY: getuid has no preconditions.
    let root = unsafe { libc::getuid() } == 0;
    if !require("root (to switch users)", root) {
        return;
    }
    let w = Warden::start(
        r#"[[program]]
name = "who"
command = "sh"
args = ["-c", "echo \"I am $(id -un) home=$HOME\"; exec sleep 1000"]
user = "nobody"
"#,
    );
    w.wait_state("who", "running");
    wait_for("the program to say who it is", DEADLINE, || {
        let log = std::fs::read_to_string(w.path("logs/who.log")).ok()?;
        log.contains(" out I am nobody home=").then_some(())
    });
}

#[test]
fn a_one_shot_dependency_must_complete_successfully_first() {
    let w = Warden::prepare();
    let migrate = w.script("migrate.sh", "#!/bin/sh\nsleep 0.3\necho migrated > migrated\nexit 0\n");
    let app = w.script(
        "app.sh",
        "#!/bin/sh\ntest -f migrated && echo saw-migration > app.out\nexec sleep 1000\n",
    );
    let mut w = w;
    w.write_config(&format!(
        r#"[[program]]
name = "app"
command = "{app}"
depends_on = [{{ name = "db-migrate", condition = "completed_successfully" }}]
[[program]]
name = "db-migrate"
command = "{migrate}"
restart = "never"
"#
    ));
    w.launch();
    let migrate = w.wait_state("db-migrate", "exited");
    assert_eq!(migrate["last_exit_code"], 0);
    w.wait_state("app", "running");
    assert_eq!(
        std::fs::read_to_string(w.path("app.out")).unwrap().trim(),
        "saw-migration"
    );
}

#[test]
fn a_low_open_files_limit_does_not_cap_the_number_of_programs() {
    let prlimit_works = std::process::Command::new("prlimit")
        .args(["--nofile=64:4096", "true"])
        .status()
        .is_ok_and(|s| s.success());
    if !require("prlimit (util-linux)", prlimit_works) {
        return;
    }
    // 40 programs cost warden 120 descriptors: more than the soft limit of 64 it is
    // started with, far less than the hard limit it may raise itself to.
    let programs: String = (0..40)
        .map(|i| format!("[[program]]\nname = \"p{i}\"\ncommand = \"sh\"\nargs = [\"-c\", \"ulimit -n > limit-{i}.out; exec sleep 1000\"]\n\n"))
        .collect();
    let mut w = Warden::prepare();
    w.write_config(&programs);
    w.launch_with(&["prlimit", "--nofile=64:4096"]);
    wait_for("all 40 programs running", DEADLINE, || {
        let status = w.status();
        let programs = status["programs"].as_array()?;
        (programs.len() == 40 && programs.iter().all(|p| p["state"] == "running")).then_some(())
    });
    // The programs get the limit warden was started with, not the one it raised.
    let limit = wait_for("program 39 wrote its limit", DEADLINE, || {
        std::fs::read_to_string(w.path("limit-39.out"))
            .ok()
            .filter(|s| s.ends_with('\n'))
    });
    assert_eq!(limit.trim(), "64");
}
