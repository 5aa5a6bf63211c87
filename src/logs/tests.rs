//! Tests of the log module through its public API, with real pipes and files in temp
//! dirs. They know the file format (they parse it back) but nothing of the internals.

use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use tokio::io::AsyncWriteExt as _;
use tokio::net::unix::pipe;

use super::*;
use crate::config::Rotation;

const BIG: Rotation = Rotation {
    max_size: 1 << 40,
    max_files: 1,
};

/// One record of a log file, parsed back.
#[derive(Debug)]
struct Rec {
    tag: String,
    text: Vec<u8>,
}

/// Parses a log file's bytes, asserting that every record is well formed.
fn records(bytes: &[u8]) -> Vec<Rec> {
    assert!(bytes.is_empty() || bytes.ends_with(b"\n"), "file ends inside a record");
    let mut recs = Vec::new();
    let mut rest = bytes;
    while let Some(i) = rest.iter().position(|&b| b == b'\n') {
        let r = &rest[..i];
        rest = &rest[i + 1..];
        let ts = std::str::from_utf8(&r[..27]).expect("timestamp is ASCII");
        humantime::parse_rfc3339(ts).unwrap_or_else(|e| panic!("bad timestamp {ts:?}: {e}"));
        assert_eq!(r[27], b' ');
        let after = &r[28..];
        let sp = after.iter().position(|&b| b == b' ').expect("space after tag");
        let tag = String::from_utf8(after[..sp].to_vec()).unwrap();
        assert!(
            ["out", "err", "warden", "out+", "err+", "warden+"].contains(&tag.as_str()),
            "bad tag {tag:?}"
        );
        recs.push(Rec {
            tag,
            text: after[sp + 1..].to_vec(),
        });
    }
    recs
}

/// Lines of one stream, pieces joined back.
fn lines_of(recs: &[Rec], tag: &str) -> Vec<Vec<u8>> {
    let cont = format!("{tag}+");
    let mut lines: Vec<Vec<u8>> = Vec::new();
    for r in recs {
        if r.tag == tag {
            lines.push(r.text.clone());
        } else if r.tag == cont {
            lines.last_mut().expect("piece after a line").extend_from_slice(&r.text);
        }
    }
    lines
}

/// The rotated files oldest first, then the current one.
fn all_files(dir: &Path, name: &str, max_files: u32) -> Vec<u8> {
    let mut all = Vec::new();
    for k in (1..=max_files).rev() {
        if let Ok(b) = std::fs::read(dir.join(format!("{name}.log.{k}"))) {
            all.extend(b);
        }
    }
    all.extend(std::fs::read(dir.join(format!("{name}.log"))).unwrap());
    all
}

/// Writes `data` into a new pipe (in pieces of `piece` bytes) and captures it.
async fn feed(sink: &Arc<LogSink>, stream: Stream, data: Vec<u8>, piece: usize) -> u64 {
    let (mut tx, rx) = pipe::pipe().unwrap();
    let cap = tokio::spawn(capture(rx, stream, sink.clone()));
    for p in data.chunks(piece.max(1)) {
        tx.write_all(p).await.unwrap();
    }
    drop(tx);
    cap.await.unwrap().unwrap()
}

/// `line 0000000042 ` and a deterministic padding of varying length.
fn numbered(label: &str, n: u64) -> String {
    let pad = (n * 7919 % 97) as usize;
    format!("{label}line {n:010} {}", "x".repeat(pad))
}

fn numbered_lines(label: &str, total_bytes: usize) -> (Vec<u8>, u64) {
    let mut data = Vec::with_capacity(total_bytes + 200);
    let mut n = 0;
    while data.len() < total_bytes {
        n += 1;
        data.extend_from_slice(numbered(label, n).as_bytes());
        data.push(b'\n');
    }
    (data, n)
}

fn xorshift(seed: u64, len: usize) -> Vec<u8> {
    let mut x = seed;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

#[tokio::test]
async fn stdout_and_stderr_land_tagged_in_file_and_tail() {
    let dir = tempfile::tempdir().unwrap();
    let sink = LogSink::open(dir.path(), "web", BIG, 100, 1024).unwrap();
    assert_eq!(sink.path(), dir.path().join("web.log"));
    sink.note("started pid 42");
    feed(&sink, Stream::Stdout, b"hello\r\nworld\n".to_vec(), 3).await;
    feed(&sink, Stream::Stderr, b"oops\n\n".to_vec(), 100).await;
    sink.note("exited with code 1");

    let recs = records(&std::fs::read(sink.path()).unwrap());
    let got: Vec<(&str, &[u8])> = recs.iter().map(|r| (r.tag.as_str(), &r.text[..])).collect();
    let want: Vec<(&str, &[u8])> = vec![
        ("warden", b"started pid 42"),
        ("out", b"hello\r"),
        ("out", b"world"),
        ("err", b"oops"),
        ("err", b""),
        ("warden", b"exited with code 1"),
    ];
    assert_eq!(got, want);
    assert_eq!(sink.bytes_written(), 19);

    let tail = sink.tail(100);
    let got: Vec<(Stream, &str)> = tail.iter().map(|l| (l.stream, l.text.as_str())).collect();
    assert_eq!(
        got,
        [
            (Stream::Warden, "started pid 42"),
            (Stream::Stdout, "hello\r"),
            (Stream::Stdout, "world"),
            (Stream::Stderr, "oops"),
            (Stream::Stderr, ""),
            (Stream::Warden, "exited with code 1"),
        ]
    );
    let last2: Vec<String> = sink.tail(2).into_iter().map(|l| l.text).collect();
    assert_eq!(last2, ["", "exited with code 1"]);

    let json = serde_json::to_value(&tail[1]).unwrap();
    assert_eq!(json["stream"], "stdout");
    assert_eq!(json["text"], "hello\r");
    assert!(json["at"].as_str().unwrap().ends_with('Z'));
}

#[tokio::test]
async fn reopening_appends() {
    let dir = tempfile::tempdir().unwrap();
    let sink = LogSink::open(dir.path(), "a", BIG, 10, 1024).unwrap();
    feed(&sink, Stream::Stdout, b"one\n".to_vec(), 100).await;
    drop(sink);
    // A file left ending inside a record (a crash) gets its record terminated first.
    let path = dir.path().join("a.log");
    let mut f = std::fs::OpenOptions::new().append(true).open(&path).unwrap();
    std::io::Write::write_all(&mut f, b"2026-11-23T09:04:49.123456Z out half").unwrap();
    let sink = LogSink::open(dir.path(), "a", BIG, 10, 1024).unwrap();
    feed(&sink, Stream::Stdout, b"two\n".to_vec(), 100).await;
    let recs = records(&std::fs::read(&path).unwrap());
    assert_eq!(lines_of(&recs, "out"), [&b"one"[..], b"half", b"two"]);
}

#[tokio::test]
async fn tail_is_bounded_by_lines_and_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let sink = LogSink::open(dir.path(), "few", BIG, 10, 1 << 20).unwrap();
    let (data, n) = numbered_lines("", 100_000);
    feed(&sink, Stream::Stdout, data, 4000).await;
    let tail = sink.tail(1000);
    assert_eq!(tail.len(), 10);
    let want: Vec<String> = (n - 9..=n).map(|i| numbered("", i)).collect();
    assert_eq!(tail.iter().map(|l| l.text.clone()).collect::<Vec<_>>(), want);

    // Lines of 10 KB: the byte bound (not tail_lines) limits the tail.
    let sink = LogSink::open(dir.path(), "big", BIG, 100_000, 1 << 20).unwrap();
    let mut data = Vec::new();
    for i in 0..200u32 {
        data.extend(vec![b'a' + (i % 26) as u8; 10_000]);
        data.push(b'\n');
    }
    feed(&sink, Stream::Stdout, data, 65536).await;
    let tail = sink.tail(usize::MAX);
    let bytes: usize = tail.iter().map(|l| l.text.len()).sum();
    assert!(tail.len() < 30 && bytes <= TAIL_MAX_BYTES, "{} lines", tail.len());
    assert_eq!(tail.last().unwrap().text, "r".repeat(10_000));

    // One line above the byte bound is still kept alone.
    let sink = LogSink::open(dir.path(), "huge", BIG, 10, 1 << 20).unwrap();
    feed(&sink, Stream::Stdout, vec![b'z'; 300_000], 65536).await;
    assert_eq!(sink.tail(10).len(), 1);

    // tail_lines = 0 keeps nothing.
    let sink = LogSink::open(dir.path(), "none", BIG, 0, 1024).unwrap();
    feed(&sink, Stream::Stdout, b"a\nb\n".to_vec(), 100).await;
    sink.note("x");
    assert!(sink.tail(10).is_empty());
}

#[tokio::test]
async fn last_line_without_newline_is_kept() {
    let dir = tempfile::tempdir().unwrap();
    let sink = LogSink::open(dir.path(), "p", BIG, 10, 1024).unwrap();
    let read = feed(&sink, Stream::Stderr, b"first\nno newline".to_vec(), 2).await;
    assert_eq!(read, 16);
    assert_eq!(sink.bytes_written(), 16);
    let recs = records(&std::fs::read(sink.path()).unwrap());
    assert_eq!(lines_of(&recs, "err"), [&b"first"[..], b"no newline"]);
    assert_eq!(sink.tail(1)[0].text, "no newline");
}

#[tokio::test]
async fn long_lines_are_cut_into_marked_pieces() {
    let dir = tempfile::tempdir().unwrap();
    let sink = LogSink::open(dir.path(), "p", BIG, 100, 100).unwrap();
    let long: Vec<u8> = (0..1050u32).map(|i| b'a' + (i % 26) as u8).collect();
    let exact = vec![b'e'; 100];
    let mut data = long.clone();
    data.push(b'\n');
    data.extend_from_slice(&exact);
    data.push(b'\n');
    data.extend_from_slice(&long[..250]);
    // Odd-sized writes, so pieces also form across reads.
    feed(&sink, Stream::Stdout, data, 37).await;

    let recs = records(&std::fs::read(sink.path()).unwrap());
    let tags: Vec<&str> = recs.iter().map(|r| r.tag.as_str()).collect();
    let mut want = vec!["out"];
    want.extend(["out+"; 10]);
    want.push("out");
    want.extend(["out", "out+", "out+"]);
    assert_eq!(tags, want);
    assert!(recs.iter().all(|r| r.text.len() <= 100));
    assert_eq!(lines_of(&recs, "out"), [&long[..], &exact[..], &long[..250]]);
    assert_eq!(sink.bytes_written(), 1051 + 101 + 250);
}

#[tokio::test]
async fn binary_garbage_goes_through_untouched() {
    let dir = tempfile::tempdir().unwrap();
    let sink = LogSink::open(dir.path(), "bin", BIG, 50, 200).unwrap();
    let mut data = xorshift(0x9e37_79b9_7f4a_7c15, 1 << 20);
    data.extend_from_slice(b"\0\xff\xfe\xc3\n");
    assert!(data.contains(&0) && std::str::from_utf8(&data).is_err());
    let read = feed(&sink, Stream::Stdout, data.clone(), 10_007).await;
    assert_eq!(read, data.len() as u64);
    assert_eq!(sink.bytes_written(), data.len() as u64);

    let recs = records(&std::fs::read(sink.path()).unwrap());
    let mut rebuilt = lines_of(&recs, "out").join(&b'\n');
    rebuilt.push(b'\n');
    assert!(rebuilt == data, "file content differs from what was written");
    assert!(sink.tail(1)[0].text.ends_with("\0\u{fffd}\u{fffd}\u{fffd}"));
}

#[tokio::test]
async fn rotation_keeps_max_files_of_at_most_max_size() {
    let dir = tempfile::tempdir().unwrap();
    let rot = Rotation {
        max_size: 4096,
        max_files: 2,
    };
    let sink = LogSink::open(dir.path(), "rot", rot, 10, 1024).unwrap();
    let (data, n) = numbered_lines("", 50_000);
    feed(&sink, Stream::Stdout, data, 3000).await;

    let mut names: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    assert_eq!(names, ["rot.log", "rot.log.1", "rot.log.2"]);
    for name in &names {
        let bytes = std::fs::read(dir.path().join(name)).unwrap();
        assert!(bytes.len() <= 4096, "{name} has {} bytes", bytes.len());
        // Each file holds whole records only.
        records(&bytes);
    }
    // The files together hold the newest lines, consecutive and whole.
    let recs = records(&all_files(dir.path(), "rot", 2));
    let lines = lines_of(&recs, "out");
    let first = n + 1 - lines.len() as u64;
    for (i, line) in lines.iter().enumerate() {
        assert_eq!(line, numbered("", first + i as u64).as_bytes());
    }

    // A reload down to one rotated file removes the surplus at the next rotation.
    sink.set_rotation(Rotation {
        max_size: 4096,
        max_files: 1,
    });
    feed(&sink, Stream::Stdout, numbered_lines("", 5000).0, 3000).await;
    assert!(dir.path().join("rot.log.1").exists());
    assert!(!dir.path().join("rot.log.2").exists());
}

#[tokio::test]
async fn rotation_with_max_files_zero_truncates_in_place() {
    let dir = tempfile::tempdir().unwrap();
    let rot = Rotation {
        max_size: 1000,
        max_files: 0,
    };
    let sink = LogSink::open(dir.path(), "z", rot, 10, 1024).unwrap();
    let (data, n) = numbered_lines("", 20_000);
    feed(&sink, Stream::Stdout, data, 3000).await;
    let names: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
    assert_eq!(names.len(), 1);
    let bytes = std::fs::read(sink.path()).unwrap();
    assert!(bytes.len() <= 1000);
    let lines = lines_of(&records(&bytes), "out");
    assert_eq!(lines.last().unwrap(), numbered("", n).as_bytes());
}

/// A record longer than max_size goes alone into its own file.
#[tokio::test]
async fn record_longer_than_max_size_gets_a_file_of_its_own() {
    let dir = tempfile::tempdir().unwrap();
    let rot = Rotation {
        max_size: 100,
        max_files: 3,
    };
    let sink = LogSink::open(dir.path(), "l", rot, 10, 1000).unwrap();
    let mut data = b"a\n".to_vec();
    data.extend(vec![b'x'; 500]);
    data.extend(b"\nb\n");
    feed(&sink, Stream::Stdout, data, 1000).await;
    let texts = |k: &str| {
        let recs = records(&std::fs::read(dir.path().join(format!("l.log{k}"))).unwrap());
        lines_of(&recs, "out")
    };
    assert_eq!(texts(".2"), [b"a"]);
    assert_eq!(texts(".1"), [vec![b'x'; 500]]);
    assert_eq!(texts(""), [b"b"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn zero_loss_one_stream() {
    let dir = tempfile::tempdir().unwrap();
    let rot = Rotation {
        max_size: 8 << 20,
        max_files: 8,
    };
    let sink = LogSink::open(dir.path(), "fast", rot, 100, 4096).unwrap();
    let (data, n) = numbered_lines("", 20 << 20);
    let len = data.len() as u64;
    // Varying write sizes, so lines straddle reads.
    let (mut tx, rx) = pipe::pipe().unwrap();
    let cap = tokio::spawn(capture(rx, Stream::Stdout, sink.clone()));
    let mut rest = &data[..];
    let mut k = 1usize;
    while !rest.is_empty() {
        k = k * 48271 % 2_147_483_647;
        let (a, b) = rest.split_at((k % 70_000).clamp(1, rest.len()));
        tx.write_all(a).await.unwrap();
        rest = b;
    }
    drop(tx);
    assert_eq!(cap.await.unwrap().unwrap(), len);
    assert_eq!(sink.bytes_written(), len);
    assert!(dir.path().join("fast.log.1").exists(), "rotation was exercised");

    let recs = records(&all_files(dir.path(), "fast", 8));
    let lines = lines_of(&recs, "out");
    assert_eq!(lines.len() as u64, n);
    for (i, line) in lines.iter().enumerate() {
        assert!(line == numbered("", i as u64 + 1).as_bytes(), "line {}", i + 1);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn zero_loss_two_streams_never_interleave() {
    let dir = tempfile::tempdir().unwrap();
    let rot = Rotation {
        max_size: 8 << 20,
        max_files: 8,
    };
    let sink = LogSink::open(dir.path(), "two", rot, 100, 4096).unwrap();
    let (out, n_out) = numbered_lines("O ", 10 << 20);
    let (err, n_err) = numbered_lines("E ", 10 << 20);
    let counts = [n_out, n_err];
    let mut caps = Vec::new();
    for (stream, data) in [(Stream::Stdout, out), (Stream::Stderr, err)] {
        let (mut tx, rx) = pipe::pipe().unwrap();
        caps.push(tokio::spawn(capture(rx, stream, sink.clone())));
        tokio::spawn(async move {
            for p in data.chunks(40_000) {
                tx.write_all(p).await.unwrap();
            }
        });
    }
    let mut total = 0;
    for c in caps {
        total += c.await.unwrap().unwrap();
    }
    assert_eq!(sink.bytes_written(), total);

    let recs = records(&all_files(dir.path(), "two", 8));
    // Interleaving shows up as a record that is not exactly one expected line.
    for (tag, label, n) in [("out", "O ", counts[0]), ("err", "E ", counts[1])] {
        let lines = lines_of(&recs, tag);
        assert_eq!(lines.len() as u64, n, "{tag}");
        for (i, line) in lines.iter().enumerate() {
            assert!(line == numbered(label, i as u64 + 1).as_bytes(), "{tag} line {}", i + 1);
        }
    }
    // Both streams really ran concurrently: their records alternate in the file.
    let switches = recs.windows(2).filter(|w| w[0].tag != w[1].tag).count();
    assert!(switches > 1, "streams did not interleave at all");
}

/// A log file that cannot be written (here /dev/full: ENOSPC) does not stop the capture.
#[tokio::test]
async fn write_errors_do_not_stop_the_capture() {
    let dir = tempfile::tempdir().unwrap();
    std::os::unix::fs::symlink("/dev/full", dir.path().join("full.log")).unwrap();
    let sink = LogSink::open(dir.path(), "full", BIG, 10, 1024).unwrap();
    let (data, n) = numbered_lines("", 1 << 20);
    let len = data.len() as u64;
    let read = feed(&sink, Stream::Stdout, data, 50_000).await;
    assert_eq!(read, len);
    assert_eq!(sink.bytes_written(), 0);
    assert_eq!(sink.bytes_lost(), read);
    assert_eq!(sink.tail(1)[0].text, numbered("", n));
}

#[test]
fn open_rejects_path_like_names() {
    let dir = tempfile::tempdir().unwrap();
    for bad in ["", "../x", "a/b", ".hidden"] {
        assert!(LogSink::open(dir.path(), bad, BIG, 10, 10).is_err(), "{bad:?}");
    }
}

/// `cargo test --release --lib logs -- --ignored --nocapture`
///
/// 200 MB of lines from a plain thread (the program) through a pipe and `capture` into
/// a temp file, rotation on (64 MiB, 3 files), tail of 1000 lines; MB/s of program
/// output, median and best of 3 runs. `WARDEN_BENCH_TAIL=0` measures without the tail,
/// `WARDEN_BENCH_LINE=100` one line length only, `WARDEN_BENCH_NULL=1` writes to
/// /dev/null instead of a file (warden's own cost, without the page cache's).
#[test]
#[ignore]
fn throughput() {
    let tail_lines = std::env::var("WARDEN_BENCH_TAIL").map_or(1000, |v| v.parse().unwrap());
    let sizes = std::env::var("WARDEN_BENCH_LINE").map_or(vec![30, 100, 1000], |v| vec![v.parse().unwrap()]);
    for line_len in sizes {
        let mut runs: Vec<f64> = (0..3).map(|_| bench(line_len, tail_lines)).collect();
        runs.sort_by(f64::total_cmp);
        println!(
            "lines of {line_len:>4} B: median {:>5.0} MB/s, best {:>5.0} MB/s",
            runs[1], runs[2]
        );
    }
}

fn bench(line_len: usize, tail_lines: usize) -> f64 {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let rot = Rotation {
        max_size: 64 << 20,
        max_files: 3,
    };
    // Rotation would replace the symlink by a file.
    let null = std::env::var("WARDEN_BENCH_NULL").is_ok();
    if null {
        std::os::unix::fs::symlink("/dev/null", dir.path().join("bench.log")).unwrap();
    }
    let rot = if null { BIG } else { rot };
    let sink = LogSink::open(dir.path(), "bench", rot, tail_lines, 64 * 1024).unwrap();
    let mut block = Vec::with_capacity(1 << 20);
    let mut i = 0u64;
    while block.len() + line_len <= 1 << 20 {
        let line = format!("{i:012} {}", "y".repeat(line_len - 14));
        block.extend_from_slice(line.as_bytes());
        block.push(b'\n');
        i += 1;
    }
    let total = 200 * block.len() as u64;
    let (fd, rx) = rt.block_on(async {
        let (tx, rx) = pipe::pipe().unwrap();
        (tx.into_blocking_fd().unwrap(), rx)
    });
    let start = Instant::now();
    let writer = std::thread::spawn(move || {
        let mut f = std::fs::File::from(fd);
        for _ in 0..200 {
            std::io::Write::write_all(&mut f, &block).unwrap();
        }
    });
    // On a runtime worker, as in warden (block_on would poll it on this thread).
    let read = rt
        .block_on(rt.spawn(capture(rx, Stream::Stdout, sink.clone())))
        .unwrap()
        .unwrap();
    let secs = start.elapsed().as_secs_f64();
    writer.join().unwrap();
    assert_eq!(read, total);
    assert_eq!(sink.bytes_written(), total);
    total as f64 / 1e6 / secs
}
