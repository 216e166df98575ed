//! A local stand-in for the Hugging Face Hub: the endpoints hf-hub 0.4.3 calls, over plain HTTP on 127.0.0.1, for tests.
//!
//! Served (`{rev}` may be a branch, a `/`-containing ref sent as `%2F`, or the commit sha):
//! * `GET /api/{models|datasets}/{repo}/revision/{rev}` → `{"id", "sha", "siblings": [{"rfilename"}]}`,
//!   plus the keys [`HubServer::set_info`] added for that repo (`likes`, `private`, `tags`, …)
//! * `GET /{repo}/resolve/{rev}/{file}`, `GET /datasets/{repo}/resolve/{rev}/{file}` → the file,
//!   honouring `Range: bytes=a-b` / `bytes=a-` (206 + `Content-Range`), with `ETag` (a 40-hex id of
//!   the content, as the git blob sha1 is on the Hub), `X-Repo-Commit` and, for large/binary ("LFS") files, `X-Linked-Etag`
//!   (sha256) and a 302 to an absolute `/cdn/{sha256}` URL, as the real Hub redirects LFS files.
//! * unknown repo/revision → 404 `X-Error-Code: RepoNotFound` / `RevisionNotFound`; unknown file →
//!   404 `X-Error-Code: EntryNotFound`.
//!
//! Bounded: binds 127.0.0.1 only, one connection at a time (`Connection: close`), 10 s socket
//! timeouts, 64 KiB request heads, at most `MAX_REQUESTS` requests, stops on drop.
//!
//! Shared by the evaluator's tests and the root crate's (`submit`), each using part of it.
#![allow(dead_code)]

use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Seek, SeekFrom, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

const MAX_REQUESTS: usize = 10_000;
const MAX_HEAD: usize = 64 * 1024;

/// The content of one file.
#[derive(Clone, Debug)]
pub enum Body {
    Bytes(Vec<u8>),
    /// Served from disk (e.g. a 98 MB GGUF) without loading it.
    File(PathBuf),
}

/// A repository at one commit.
#[derive(Clone, Debug)]
pub struct FakeRepo {
    pub dataset: bool,
    pub id: String,
    pub sha: String,
    /// Branch/ref names that resolve to `sha` (besides `sha` itself).
    pub refs: Vec<String>,
    pub files: BTreeMap<String, Body>,
}

struct FileMeta {
    len: u64,
    sha256: String,
    git_sha1: String,
    lfs: bool,
}

#[derive(Default)]
struct State {
    repos: Vec<FakeRepo>,
    metas: BTreeMap<(usize, String), FileMeta>,
    /// Extra repo-info keys per repo id.
    extra: BTreeMap<String, serde_json::Map<String, serde_json::Value>>,
    log: Vec<String>,
}

/// The running server; stops when dropped.
pub struct HubServer {
    pub endpoint: String,
    state: Arc<Mutex<State>>,
    stop: Arc<AtomicBool>,
    handle: Option<JoinHandle<()>>,
}

impl HubServer {
    pub fn start(repos: Vec<FakeRepo>) -> HubServer {
        let mut state = State::default();
        for (ri, r) in repos.iter().enumerate() {
            for (name, body) in &r.files {
                state.metas.insert((ri, name.clone()), meta(name, body));
            }
        }
        state.repos = repos;
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
        let addr = listener.local_addr().unwrap();
        let endpoint = format!("http://{addr}");
        let state = Arc::new(Mutex::new(state));
        let stop = Arc::new(AtomicBool::new(false));
        let (st, sp, ep) = (state.clone(), stop.clone(), endpoint.clone());
        let handle = std::thread::spawn(move || {
            for (served, conn) in listener.incoming().enumerate() {
                if sp.load(Ordering::SeqCst) || served >= MAX_REQUESTS {
                    break;
                }
                if let Ok(stream) = conn {
                    let _ = handle_conn(stream, &st, &ep);
                }
            }
        });
        HubServer {
            endpoint,
            state,
            stop,
            handle: Some(handle),
        }
    }

    /// Adds keys (`likes`, `private`, `gated`, `tags`, …) to the repo info of `repo`.
    pub fn set_info(&self, repo: &str, info: serde_json::Value) {
        if let serde_json::Value::Object(m) = info {
            self.state.lock().unwrap().extra.insert(repo.to_string(), m);
        }
    }

    /// `METHOD path` of every request so far.
    pub fn requests(&self) -> Vec<String> {
        self.state.lock().unwrap().log.clone()
    }
}

impl Drop for HubServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wake the accept loop.
        let _ = TcpStream::connect(self.endpoint.trim_start_matches("http://"));
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
    }
}

fn meta(name: &str, body: &Body) -> FileMeta {
    let bytes: Vec<u8> = match body {
        Body::Bytes(b) => b.clone(),
        Body::File(p) => std::fs::read(p).unwrap_or_else(|e| panic!("{}: {e}", p.display())),
    };
    let lfs = bytes.len() > 10 * 1024
        || [".parquet", ".safetensors", ".gguf"]
            .iter()
            .any(|e| name.ends_with(e));
    let sha256: String = Sha256::digest(&bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    FileMeta {
        len: bytes.len() as u64,
        // The real Hub sends the git blob sha1 here; any 40-hex id unique per content will do.
        git_sha1: sha256[..40].to_string(),
        sha256,
        lfs,
    }
}

struct Req {
    path: String,
    range: Option<String>,
}

fn read_req(stream: &mut TcpStream) -> std::io::Result<Option<Req>> {
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut line = String::new();
    let mut total = 0;
    let n = reader.read_line(&mut line)?;
    if n == 0 {
        return Ok(None);
    }
    total += n;
    let mut parts = line.split_whitespace();
    let (method, path) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
    if method != "GET" {
        return Ok(None);
    }
    let path = path.to_string();
    let mut range = None;
    loop {
        let mut h = String::new();
        let n = reader.read_line(&mut h)?;
        total += n;
        if n == 0 || total > MAX_HEAD {
            return Ok(None);
        }
        let h = h.trim_end();
        if h.is_empty() {
            break;
        }
        if let Some((k, v)) = h.split_once(':') {
            if k.trim().eq_ignore_ascii_case("range") {
                range = Some(v.trim().to_string());
            }
        }
    }
    Ok(Some(Req { path, range }))
}

fn respond(
    stream: &mut TcpStream,
    status: &str,
    headers: &[(&str, String)],
    body: &[u8],
) -> std::io::Result<()> {
    let mut head = format!("HTTP/1.1 {status}\r\nConnection: close\r\n");
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str(&format!("Content-Length: {}\r\n\r\n", body.len()));
    stream.write_all(head.as_bytes())?;
    stream.write_all(body)?;
    stream.flush()
}

fn not_found(stream: &mut TcpStream, code: &str) -> std::io::Result<()> {
    respond(
        stream,
        "404 Not Found",
        &[("X-Error-Code", code.to_string())],
        format!("{code}\n").as_bytes(),
    )
}

fn unescape(s: &str) -> String {
    s.replace("%2F", "/").replace("%2f", "/")
}

fn handle_conn(mut stream: TcpStream, st: &Mutex<State>, endpoint: &str) -> std::io::Result<()> {
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    stream.set_write_timeout(Some(Duration::from_secs(10)))?;
    let Some(req) = read_req(&mut stream)? else {
        return Ok(());
    };
    let path = req.path.split('?').next().unwrap_or("").to_string();
    st.lock().unwrap().log.push(format!("GET {path}"));

    // LFS "CDN".
    if let Some(sha) = path.strip_prefix("/cdn/") {
        let found = {
            let s = st.lock().unwrap();
            s.metas
                .iter()
                .find(|(_, m)| m.sha256 == sha)
                .map(|((ri, name), m)| (s.repos[*ri].files[name].clone(), m.len))
        };
        return match found {
            Some((body, len)) => send_file(&mut stream, &body, len, req.range.as_deref(), vec![]),
            None => not_found(&mut stream, "EntryNotFound"),
        };
    }

    // Repo info.
    if let Some(rest) = path.strip_prefix("/api/") {
        let (dataset, rest) = if let Some(r) = rest.strip_prefix("datasets/") {
            (true, r)
        } else if let Some(r) = rest.strip_prefix("models/") {
            (false, r)
        } else {
            return not_found(&mut stream, "RepoNotFound");
        };
        let Some((repo, rev)) = rest.split_once("/revision/") else {
            return not_found(&mut stream, "RepoNotFound");
        };
        let s = st.lock().unwrap();
        let Some(r) = s
            .repos
            .iter()
            .find(|r| r.dataset == dataset && r.id == repo)
        else {
            drop(s);
            return not_found(&mut stream, "RepoNotFound");
        };
        let rev = unescape(rev);
        if rev != r.sha && !r.refs.contains(&rev) {
            drop(s);
            return not_found(&mut stream, "RevisionNotFound");
        }
        let mut body = serde_json::json!({
            "id": r.id,
            "sha": r.sha,
            "siblings": r.files.keys().map(|f| serde_json::json!({"rfilename": f})).collect::<Vec<_>>(),
        });
        if let (Some(extra), serde_json::Value::Object(m)) = (s.extra.get(&r.id), &mut body) {
            m.extend(extra.clone());
        }
        let body = body.to_string();
        drop(s);
        return respond(
            &mut stream,
            "200 OK",
            &[("Content-Type", "application/json".into())],
            body.as_bytes(),
        );
    }

    // resolve
    let (dataset, rest) = match path.strip_prefix("/datasets/") {
        Some(r) => (true, r),
        None => (false, path.trim_start_matches('/')),
    };
    let Some((repo, tail)) = rest.split_once("/resolve/") else {
        return not_found(&mut stream, "RepoNotFound");
    };
    let Some((rev, file)) = tail.split_once('/') else {
        return not_found(&mut stream, "EntryNotFound");
    };
    let rev = unescape(rev);
    let found = {
        let s = st.lock().unwrap();
        match s
            .repos
            .iter()
            .enumerate()
            .find(|(_, r)| r.dataset == dataset && r.id == repo)
        {
            None => Err("RepoNotFound"),
            Some((_, r)) if rev != r.sha && !r.refs.contains(&rev) => Err("RevisionNotFound"),
            Some((ri, r)) => match s.metas.get(&(ri, file.to_string())) {
                None => Err("EntryNotFound"),
                Some(m) => Ok((
                    r.files[file].clone(),
                    m.len,
                    m.sha256.clone(),
                    m.git_sha1.clone(),
                    m.lfs,
                    r.sha.clone(),
                )),
            },
        }
    };
    let (body, len, sha256, git_sha1, lfs, commit) = match found {
        Ok(f) => f,
        Err(code) => return not_found(&mut stream, code),
    };
    if lfs {
        return respond(
            &mut stream,
            "302 Found",
            &[
                ("Location", format!("{endpoint}/cdn/{sha256}")),
                ("X-Repo-Commit", commit),
                ("X-Linked-Etag", format!("\"{sha256}\"")),
                ("X-Linked-Size", len.to_string()),
                ("ETag", format!("\"{git_sha1}\"")),
            ],
            b"",
        );
    }
    send_file(
        &mut stream,
        &body,
        len,
        req.range.as_deref(),
        vec![
            ("X-Repo-Commit", commit),
            ("ETag", format!("\"{git_sha1}\"")),
        ],
    )
}

fn send_file(
    stream: &mut TcpStream,
    body: &Body,
    len: u64,
    range: Option<&str>,
    mut headers: Vec<(&str, String)>,
) -> std::io::Result<()> {
    let (start, end) = match range.and_then(|r| r.strip_prefix("bytes=")) {
        Some(r) => {
            let (a, b) = r.split_once('-').unwrap_or((r, ""));
            let a: u64 = a.parse().unwrap_or(0);
            let b: u64 = b.parse().unwrap_or(len.saturating_sub(1));
            (a, b.min(len.saturating_sub(1)))
        }
        None => (0, len.saturating_sub(1)),
    };
    let partial = range.is_some();
    if partial && (start > end || start >= len) {
        headers.push(("Content-Range", format!("bytes */{len}")));
        return respond(stream, "416 Range Not Satisfiable", &headers, b"");
    }
    let count = if len == 0 { 0 } else { end - start + 1 };
    let status = if partial {
        headers.push(("Content-Range", format!("bytes {start}-{end}/{len}")));
        "206 Partial Content"
    } else {
        "200 OK"
    };
    headers.push(("Accept-Ranges", "bytes".into()));
    let mut head = format!("HTTP/1.1 {status}\r\nConnection: close\r\n");
    for (k, v) in &headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str(&format!("Content-Length: {count}\r\n\r\n"));
    stream.write_all(head.as_bytes())?;
    match body {
        Body::Bytes(b) => stream.write_all(&b[start as usize..(start + count) as usize])?,
        Body::File(p) => {
            let mut f = std::fs::File::open(p)?;
            f.seek(SeekFrom::Start(start))?;
            std::io::copy(&mut f.take(count), stream)?;
        }
    }
    stream.flush()
}
