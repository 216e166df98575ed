//! Headless Chromium for the browser test and the site benchmark: finds the
//! browser (env `CHROMIUM`, else `/usr/bin/chromium`), launches it without
//! any network-facing extras and evaluates JavaScript in a tab.
#![allow(dead_code)]

use headless_chrome::protocol::cdp::types::Event;
use headless_chrome::{Browser, LaunchOptions, Tab};
use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Path of the Chromium binary; panics with the install command if absent.
pub fn chromium_path() -> PathBuf {
    let p = std::env::var_os("CHROMIUM")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/usr/bin/chromium"));
    assert!(
        p.is_file(),
        "Chromium not found at {} (set CHROMIUM=/path/to/chromium); install it with `apt-get install chromium`",
        p.display()
    );
    p
}

pub struct Chrome {
    pub browser: Browser,
    pub tab: Arc<Tab>,
    /// Every URL the page requested (CDP `Network.requestWillBeSent`).
    pub requests: Arc<Mutex<Vec<String>>>,
    _profile: tempfile::TempDir,
}

impl Chrome {
    pub fn launch() -> Chrome {
        Chrome::launch_sized(1400, 1000)
    }

    /// A browser whose window (the page's viewport) is `width` x `height`.
    pub fn launch_sized(width: u32, height: u32) -> Chrome {
        let path = chromium_path();
        let profile = tempfile::tempdir().unwrap();
        let user_data = format!("--user-data-dir={}", profile.path().display());
        let flags = [
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            "--disable-default-apps",
            "--disable-extensions",
            "--hide-scrollbars",
            user_data.as_str(),
        ];
        let args: Vec<&OsStr> = flags.iter().map(OsStr::new).collect();
        let opts = LaunchOptions {
            path: Some(path),
            headless: true,
            sandbox: false,
            window_size: Some((width, height)),
            idle_browser_timeout: Duration::from_secs(300),
            args,
            ..LaunchOptions::default()
        };
        let browser = Browser::new(opts).expect("launching headless Chromium");
        let tab = browser.new_tab().expect("opening a tab");
        tab.set_default_timeout(Duration::from_secs(60));
        tab.call_method(headless_chrome::protocol::cdp::Network::Enable {
            max_total_buffer_size: None,
            max_resource_buffer_size: None,
            max_post_data_size: None,
            report_direct_socket_traffic: None,
            enable_durable_messages: None,
        })
        .expect("enabling CDP Network events");
        let requests = Arc::new(Mutex::new(Vec::new()));
        let r2 = requests.clone();
        tab.add_event_listener(Arc::new(move |e: &Event| {
            if let Event::NetworkRequestWillBeSent(ev) = e {
                r2.lock().unwrap().push(ev.params.request.url.clone());
            }
        }))
        .unwrap();
        Chrome {
            browser,
            tab,
            requests,
            _profile: profile,
        }
    }

    /// Evaluates `expr` and returns its value as JSON (`null` for undefined);
    /// objects and arrays come back whole (via `JSON.stringify` in the page).
    pub fn js(&self, expr: &str) -> serde_json::Value {
        let r = self
            .tab
            .evaluate(&format!("JSON.stringify(({expr}))"), false)
            .unwrap_or_else(|e| panic!("evaluating {expr}: {e}"));
        match r.value {
            Some(serde_json::Value::String(s)) => serde_json::from_str(&s).unwrap(),
            _ => serde_json::Value::Null,
        }
    }

    /// Polls `expr` until it is `true`, panicking after `secs` seconds.
    pub fn wait_for(&self, expr: &str, secs: u64) {
        let start = Instant::now();
        loop {
            if self.js(expr) == serde_json::Value::Bool(true) {
                return;
            }
            assert!(
                start.elapsed() < Duration::from_secs(secs),
                "timed out waiting for `{expr}`"
            );
            std::thread::sleep(Duration::from_millis(25));
        }
    }

    pub fn open(&self, url: &str) {
        self.tab.navigate_to(url).unwrap();
        self.tab.wait_until_navigated().unwrap();
        self.wait_for(
            "!!(window.__lbTimings && window.__lbTimings.firstRender !== null)",
            60,
        );
    }
}

/// `file://` URL of a local path.
pub fn file_url(p: &Path) -> String {
    format!("file://{}", p.canonicalize().unwrap().display())
}
