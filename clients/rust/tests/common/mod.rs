//! Starts a real `audit-sealer serve --dev` for the crate's integration
//! tests: the binary named by AUDIT_SEALER_BIN (scripts/test.sh builds it
//! and sets it), on a fresh temporary directory and socket.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use audit_sealer_client::{Client, Json, Options};

/// The sealer binary, or None (the test is skipped) when AUDIT_SEALER_BIN
/// is unset; under CI=true an unset variable fails the test.
pub fn sealer_bin() -> Option<PathBuf> {
    match std::env::var_os("AUDIT_SEALER_BIN") {
        Some(p) if !p.is_empty() => Some(PathBuf::from(p)),
        _ => {
            if std::env::var("CI").map(|v| v == "true").unwrap_or(false) {
                panic!("AUDIT_SEALER_BIN is not set and CI=true: the Rust client's tests need a real sealer (scripts/test.sh builds one)");
            }
            eprintln!("skipping: AUDIT_SEALER_BIN is not set (go build -o /tmp/audit-sealer ./cmd/audit-sealer and point it there)");
            None
        }
    }
}

static COUNTER: AtomicUsize = AtomicUsize::new(0);

pub struct Sealer {
    pub dir: PathBuf,
    pub data: PathBuf,
    pub sock: PathBuf,
    bin: PathBuf,
    args: Vec<String>,
    child: Option<Child>,
}

impl Sealer {
    /// Starts a sealer with `args` added to `serve --dev`; None to skip.
    pub fn start(args: &[&str]) -> Option<Sealer> {
        let mut s = Sealer::prepare(args)?;
        s.spawn();
        Some(s)
    }

    /// A sealer's directory and socket path, not started yet.
    pub fn prepare(args: &[&str]) -> Option<Sealer> {
        let bin = sealer_bin()?;
        let n = COUNTER.fetch_add(1, Ordering::SeqCst);
        let dir = std::env::temp_dir().join(format!("asc-rs-{}-{}", std::process::id(), n));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("temp dir");
        Some(Sealer {
            data: dir.join("data"),
            sock: dir.join("audit.sock"),
            dir,
            bin,
            args: args.iter().map(|s| s.to_string()).collect(),
            child: None,
        })
    }

    pub fn spawn(&mut self) {
        assert!(self.child.is_none(), "the sealer is running");
        let log =
            std::fs::OpenOptions::new().create(true).append(true).open(self.dir.join("sealer.log")).expect("log file");
        let child = Command::new(&self.bin)
            .arg("serve")
            .arg("--dev")
            .arg("--data-dir")
            .arg(&self.data)
            .arg("--socket")
            .arg(&self.sock)
            .args(&self.args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| panic!("start {}: {}", self.bin.display(), e));
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let ok = Client::with_options(&self.sock, Options::default()).and_then(|mut c| c.ping()).is_ok();
            if ok {
                return;
            }
            if let Some(status) = self.child.as_mut().unwrap().try_wait().unwrap() {
                panic!("the sealer exited with {}: {}", status, self.log());
            }
            if Instant::now() > deadline {
                panic!("the sealer did not answer within 20 s: {}", self.log());
            }
            thread::sleep(Duration::from_millis(20));
        }
    }

    /// Stops the sealer with SIGTERM and waits for it to exit.
    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let st = Command::new("kill").arg("-TERM").arg(c.id().to_string()).status().expect("kill");
            assert!(st.success());
            let status = c.wait().expect("wait");
            assert!(status.success(), "the sealer exited with {}: {}", status, self.log());
        }
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("sealer.log")).unwrap_or_default()
    }

    /// The sealed records `audit-sealer query` finds with `args`, read from
    /// the files as an auditor would (each is checked as audit-verify does).
    pub fn query(&self, args: &[&str]) -> Vec<Json> {
        let out = Command::new(&self.bin)
            .arg("query")
            .arg("--dev")
            .arg("--data-dir")
            .arg(&self.data)
            .arg("--json")
            .args(args)
            .output()
            .expect("run audit-sealer query");
        assert!(out.status.success(), "audit-sealer query {:?}: {}", args, String::from_utf8_lossy(&out.stderr));
        String::from_utf8(out.stdout)
            .unwrap()
            .lines()
            .map(|l| Json::parse(l).expect("query output is JSON"))
            .filter(|v| v.get("summary").is_none())
            .collect()
    }

    /// Polls `query` until `want(records)` holds or `timeout` passes; returns
    /// the last records.
    pub fn query_until(&self, args: &[&str], timeout: Duration, want: impl Fn(&[Json]) -> bool) -> Vec<Json> {
        let deadline = Instant::now() + timeout;
        loop {
            let r = self.query(args);
            if want(&r) || Instant::now() > deadline {
                return r;
            }
            thread::sleep(Duration::from_millis(50));
        }
    }

    pub fn path(&self) -> &Path {
        &self.sock
    }
}

impl Drop for Sealer {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
        if !thread::panicking() {
            let _ = std::fs::remove_dir_all(&self.dir);
        } else {
            eprintln!("kept {} for inspection", self.dir.display());
        }
    }
}

/// The event's member `key` of a query match.
pub fn ev<'a>(m: &'a Json, key: &str) -> Option<&'a Json> {
    m.get("event").and_then(|e| e.get(key))
}
