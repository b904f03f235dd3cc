//! A small WebDriver client, for the tests that drive the web console in a
//! real browser: headless Chromium through chromedriver, spoken to with the
//! W3C WebDriver HTTP protocol over loopback.
//!
//! Needs the Debian packages `chromium` and `chromium-driver` (CI installs
//! them); when they are missing, [`Browser::start`] gives the reason and
//! the test skips. Chromium is started with a throwaway profile and with
//! everything that would make it reach the network on its own turned off,
//! and every host but `localhost`, `127.*` and `::1` (IP literals
//! included) fails to resolve in it, so a test reaches nothing outside
//! loopback.
//!
//! Every call blocks the calling thread (as ureq does) until WebDriver
//! answers; none waits longer than [`PATIENCE`] plus a margin. Every
//! failure panics saying what was asked and what WebDriver answered.

use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tempfile::TempDir;

use super::{PATIENCE, free_addr};

const CHROMEDRIVER: &str = "/usr/bin/chromedriver";

/// The browser itself rather than Debian's `/usr/bin/chromium` wrapper
/// script, which loads extensions, turns on remote extensions and exports
/// Google API keys; the wrapper is the fallback.
const CHROMIUM: &[&str] = &["/usr/lib/chromium/chromium", "/usr/bin/chromium"];

/// The window a session starts with: a desktop one.
pub const DESKTOP: (u32, u32) = (1280, 900);

/// A phone-sized window, for [`Browser::set_window_size`].
pub const PHONE: (u32, u32) = (390, 844);

/// Chromium's switches besides the profile directory and window size: no
/// display, no sandbox (CI runs as root), and nothing that talks to the
/// network unasked: no updates, sync, metrics, safe browsing,
/// translation, hints, media router discovery, DNS prefetch or proxy; and
/// every host but loopback fails to resolve (the rules apply to IP
/// literals too: `https://192.0.2.1/` gives `ERR_NAME_NOT_RESOLVED`).
const CHROMIUM_ARGS: &[&str] = &[
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--no-first-run",
    "--no-default-browser-check",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-default-apps",
    "--disable-extensions",
    "--disable-breakpad",
    "--disable-crash-reporter",
    "--disable-client-side-phishing-detection",
    "--disable-domain-reliability",
    "--safebrowsing-disable-auto-update",
    "--metrics-recording-only",
    "--no-pings",
    "--no-proxy-server",
    "--dns-prefetch-disable",
    "--password-store=basic",
    "--disable-features=Translate,OptimizationHints,OptimizationGuideModelDownloading,\
MediaRouter,DialMediaRouteProvider,AutofillServerCommunication,\
CertificateTransparencyComponentUpdater,NetworkTimeServiceQuerying,SafeBrowsing,\
InterestFeedContentSuggestions,HttpsUpgrades,PrivacySandboxSettings4",
    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE localhost, EXCLUDE 127.*, EXCLUDE ::1",
];

/// What WebDriver calls a reference to an element in its JSON.
const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

/// A headless Chromium session, driven through its own chromedriver.
/// Dropping it ends the session, stops chromedriver and deletes the
/// profile.
pub struct Browser {
    driver: Child,
    /// chromedriver's address (127.0.0.1 and a free port).
    addr: SocketAddr,
    session: String,
    agent: ureq::Agent,
    /// Holds the profile (`profile/`) and chromedriver's log.
    dir: TempDir,
}

/// A WebDriver error answer (or a failure to get any answer).
#[derive(Debug)]
struct Refusal {
    /// The WebDriver error code (`no such element`), or `transport`.
    error: String,
    message: String,
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let message = self.message.lines().next().unwrap_or_default();
        write!(f, "{}: {message}", self.error)
    }
}

/// Errors an element can give for a while (not there yet, being replaced,
/// still hidden or covered) before a retry succeeds.
const PASSING_ERRORS: &[&str] = &[
    "no such element",
    "stale element reference",
    "element not interactable",
    "element click intercepted",
    "invalid element state",
];

impl Browser {
    /// Starts chromedriver on a free 127.0.0.1 port and a headless
    /// Chromium session in a fresh profile, with a [`DESKTOP`] window,
    /// that accepts self-signed certificates (`acceptInsecureCerts`: the
    /// console's own certificate). `Err(reason)` when chromium or
    /// chromedriver is not installed, so the caller can print
    /// `skipped: <reason>`; panics when they are but fail to start.
    pub fn start() -> Result<Browser, String> {
        if !Path::new(CHROMEDRIVER).exists() {
            return Err(format!(
                "no {CHROMEDRIVER} (Debian package chromium-driver)"
            ));
        }
        let Some(chromium) = CHROMIUM.iter().find(|path| Path::new(path).exists()) else {
            return Err(format!(
                "no {} (Debian package chromium)",
                CHROMIUM.join(" or ")
            ));
        };
        let dir = tempfile::Builder::new()
            .prefix("hedge-browser")
            .tempdir()
            .unwrap();
        let log = dir.path().join("chromedriver.log");
        let addr = free_addr("127.0.0.1:0".parse().unwrap());
        // chromedriver listens on localhost only unless given
        // --allowed-ips.
        let driver = Command::new(CHROMEDRIVER)
            .arg(format!("--port={}", addr.port()))
            .arg(format!("--log-path={}", log.display()))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("starting {CHROMEDRIVER}: {e}"));
        let agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .proxy(None)
            .timeout_global(Some(PATIENCE + Duration::from_secs(30)))
            .build()
            .new_agent();
        let mut browser = Browser {
            driver,
            addr,
            session: String::new(),
            agent,
            dir,
        };
        browser.wait_for_driver();

        let mut args: Vec<String> = CHROMIUM_ARGS.iter().map(|a| a.to_string()).collect();
        let profile = browser.dir.path().join("profile");
        args.push(format!("--user-data-dir={}", profile.display()));
        args.push(format!("--window-size={},{}", DESKTOP.0, DESKTOP.1));
        let patience = PATIENCE.as_millis() as u64;
        let capabilities = json!({
            "capabilities": {
                "alwaysMatch": {
                    "browserName": "chrome",
                    "acceptInsecureCerts": true,
                    "pageLoadStrategy": "normal",
                    "timeouts": {"implicit": 0, "pageLoad": patience, "script": patience},
                    "goog:chromeOptions": {"binary": chromium, "args": args},
                }
            }
        });
        let value = call(&browser.agent, addr, "POST", "/session", Some(capabilities))
            .unwrap_or_else(|refusal| {
                panic!(
                    "WebDriver gave no Chromium session ({chromium}): {refusal}\n\
                     chromedriver's log ends:\n{}",
                    browser.log_tail()
                )
            });
        browser.session = value["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("new session answer without a sessionId: {value}"))
            .to_string();
        Ok(browser)
    }

    /// Resizes the window to `width`×`height` CSS pixels (see [`PHONE`]
    /// and [`DESKTOP`]). The viewport gets the whole width (media queries
    /// see it at once) but not the whole height: headless Chromium keeps
    /// room for its toolbars (a 900 px high window had a 757 px viewport).
    pub fn set_window_size(&self, width: u32, height: u32) {
        self.must(
            &format!("for a {width}x{height} window"),
            "POST",
            "/window/rect",
            Some(json!({"width": width, "height": height})),
        );
    }

    /// Opens `url` and returns once it has loaded (or panics after
    /// [`PATIENCE`]); certificate errors are ignored.
    pub fn goto(&self, url: &str) {
        self.must(
            &format!("to open {url}"),
            "POST",
            "/url",
            Some(json!({ "url": url })),
        );
    }

    /// The current page's URL (after any redirects).
    pub fn url(&self) -> String {
        string(self.must("for the current URL", "GET", "/url", None))
    }

    /// The current page's `<title>`.
    pub fn title(&self) -> String {
        string(self.must("for the page title", "GET", "/title", None))
    }

    /// The current page's HTML, as the browser serializes its DOM.
    pub fn source(&self) -> String {
        string(self.must("for the page source", "GET", "/source", None))
    }

    /// The visible text of `<body>`, as rendered (hidden elements left
    /// out, one line per block).
    pub fn text(&self) -> String {
        string(self.on_element("body", "for its text", |element| {
            self.call("GET", &format!("/element/{element}/text"), None)
        }))
    }

    /// Polls [`Browser::text`] until it contains `needle`, for at most
    /// [`PATIENCE`]; panics showing the text last seen.
    pub fn wait_for_text(&self, needle: &str) {
        let deadline = Instant::now() + PATIENCE;
        loop {
            let text = self.text();
            if text.contains(needle) {
                return;
            }
            if Instant::now() > deadline {
                panic!(
                    "waited {PATIENCE:?} in vain for {needle:?} on {}; its text is:\n{text}",
                    self.url()
                );
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Empties the input or textarea `css` matches, then types `text` into
    /// it.
    pub fn fill(&self, css: &str, text: &str) {
        self.on_element(css, &format!("to be filled with {text:?}"), |element| {
            self.call(
                "POST",
                &format!("/element/{element}/clear"),
                Some(json!({})),
            )?;
            self.call(
                "POST",
                &format!("/element/{element}/value"),
                Some(json!({ "text": text })),
            )
        });
    }

    /// Chooses the `<option value="value">` of the `<select>` `css`
    /// matches, as a click on it would (firing `input` and `change`).
    pub fn select(&self, css: &str, value: &str) {
        let option_css = format!("option[value=\"{}\"]", css_string(value));
        let what = format!("to have {option_css} chosen");
        let chosen = self.on_element(css, &what, |select| {
            let option = self.call(
                "POST",
                &format!("/element/{select}/element"),
                Some(json!({"using": "css selector", "value": option_css})),
            )?;
            let option = element_id(&option);
            self.call("POST", &format!("/element/{option}/click"), Some(json!({})))?;
            self.call("GET", &format!("/element/{option}/selected"), None)
        });
        if chosen != Value::Bool(true) {
            panic!("{css:?}: {option_css} was clicked but is not selected (disabled?)");
        }
    }

    /// Clicks the element `css` matches (a button, a link), then waits for
    /// the page to finish loading (`document.readyState` is `complete`),
    /// whether or not the click navigated. That can still be the old page,
    /// before the new one starts: after a click that navigates, wait for
    /// something on the new page ([`Browser::wait_for_text`]).
    pub fn click(&self, css: &str) {
        self.on_element(css, "to be clicked", |element| {
            self.call(
                "POST",
                &format!("/element/{element}/click"),
                Some(json!({})),
            )
        });
        self.wait_for_load(&format!("after clicking {css:?}"));
    }

    /// How many elements match `css` now (no waiting).
    pub fn count(&self, css: &str) -> usize {
        let found = self.must(
            &format!("for the elements matching {css:?}"),
            "POST",
            "/elements",
            Some(json!({"using": "css selector", "value": css})),
        );
        found
            .as_array()
            .unwrap_or_else(|| panic!("{css:?}: elements answer is not a list: {found}"))
            .len()
    }

    /// Writes a PNG of the viewport to `path`.
    pub fn screenshot(&self, path: &Path) {
        let png = string(self.must("for a screenshot", "GET", "/screenshot", None));
        let png = base64_decode(&png)
            .unwrap_or_else(|| panic!("screenshot for {}: not base64", path.display()));
        std::fs::write(path, png)
            .unwrap_or_else(|e| panic!("writing the screenshot {}: {e}", path.display()));
    }

    /// Runs `script` (a function body: `return …;`, with `args` as
    /// `arguments`) in the page and gives its result.
    pub fn execute(&self, script: &str, args: Value) -> Value {
        self.must(
            &format!("to run {script:?}"),
            "POST",
            "/execute/sync",
            Some(json!({"script": script, "args": args})),
        )
    }

    /// Polls `document.readyState` until it is `complete`; errors while a
    /// navigation swaps documents count as "not yet".
    fn wait_for_load(&self, what: &str) {
        let deadline = Instant::now() + PATIENCE;
        let mut last;
        loop {
            let body = json!({"script": "return document.readyState;", "args": []});
            match self.call("POST", "/execute/sync", Some(body)) {
                Ok(Value::String(state)) if state == "complete" => return,
                Ok(other) => last = format!("readyState {other}"),
                Err(refusal) => last = refusal.to_string(),
            }
            if Instant::now() > deadline {
                panic!("the page never finished loading {what}: {last}");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Finds the element `css` matches and runs `action` on its id,
    /// retrying both while the element is missing, stale, hidden or
    /// covered, for at most [`PATIENCE`]; panics saying `css`, `what` was
    /// wanted of it and WebDriver's last answer.
    fn on_element(
        &self,
        css: &str,
        what: &str,
        action: impl Fn(&str) -> Result<Value, Refusal>,
    ) -> Value {
        let deadline = Instant::now() + PATIENCE;
        loop {
            let found = self.call(
                "POST",
                "/element",
                Some(json!({"using": "css selector", "value": css})),
            );
            let refusal = match found.and_then(|element| action(&element_id(&element))) {
                Ok(value) => return value,
                Err(refusal) => refusal,
            };
            let passing = PASSING_ERRORS.contains(&refusal.error.as_str());
            if !passing || Instant::now() > deadline {
                let waited = if passing {
                    format!(" (tried for {PATIENCE:?})")
                } else {
                    String::new()
                };
                panic!(
                    "element {css:?} {what}, on {}: WebDriver answered {refusal}{waited}",
                    self.current_url_for_errors()
                );
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// The session's `path` (`/url` → `/session/<id>/url`).
    fn session_path(&self, path: &str) -> String {
        format!("/session/{}{path}", self.session)
    }

    /// A command on this session that must succeed: its value, or a panic
    /// saying `what` was asked and WebDriver's answer.
    fn must(&self, what: &str, method: &str, path: &str, body: Option<Value>) -> Value {
        self.call(method, path, body)
            .unwrap_or_else(|refusal| panic!("asked {what}: WebDriver answered {refusal}"))
    }

    /// One command on this session (`path` is relative to
    /// `/session/<id>`): its `value`, or the error it answered.
    fn call(&self, method: &str, path: &str, body: Option<Value>) -> Result<Value, Refusal> {
        call(
            &self.agent,
            self.addr,
            method,
            &self.session_path(path),
            body,
        )
    }

    /// The page's URL for error messages, or why there is none.
    fn current_url_for_errors(&self) -> String {
        match self.call("GET", "/url", None) {
            Ok(Value::String(url)) => url,
            Ok(other) => other.to_string(),
            Err(refusal) => format!("(no URL: {refusal})"),
        }
    }

    /// Polls chromedriver's /status until it says it is ready.
    fn wait_for_driver(&mut self) {
        let deadline = Instant::now() + PATIENCE;
        let mut last;
        loop {
            match call(&self.agent, self.addr, "GET", "/status", None) {
                Ok(status) if status["ready"] == Value::Bool(true) => return,
                Ok(status) => last = status.to_string(),
                Err(refusal) => last = refusal.to_string(),
            }
            if let Ok(Some(exit)) = self.driver.try_wait() {
                panic!(
                    "{CHROMEDRIVER} exited ({exit}) before it was ready; its log ends:\n{}",
                    self.log_tail()
                );
            }
            if Instant::now() > deadline {
                panic!(
                    "{CHROMEDRIVER} on port {} not ready after {PATIENCE:?}: {last}",
                    self.addr.port()
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// The last lines of chromedriver's log, for error messages.
    fn log_tail(&self) -> String {
        let log =
            std::fs::read_to_string(self.dir.path().join("chromedriver.log")).unwrap_or_default();
        let lines: Vec<&str> = log.lines().collect();
        lines[lines.len().saturating_sub(30)..].join("\n")
    }
}

impl Drop for Browser {
    /// Ends the session (which closes Chromium), then stops chromedriver;
    /// never panics, since it may run while a failed test unwinds.
    fn drop(&mut self) {
        if !self.session.is_empty() {
            let _ = self.call("DELETE", "", None);
        }
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

/// One WebDriver command to the chromedriver at `addr`: its `value`, or
/// the error it answered (or why there was no answer).
fn call(
    agent: &ureq::Agent,
    addr: SocketAddr,
    method: &str,
    path: &str,
    body: Option<Value>,
) -> Result<Value, Refusal> {
    let transport = |e: &dyn std::fmt::Display| Refusal {
        error: "transport".into(),
        message: format!("{method} {path}: {e}"),
    };
    let mut request = ureq::http::Request::builder()
        .method(method)
        .uri(format!("http://{addr}{path}"));
    let body = match body {
        Some(body) => {
            request = request.header("Content-Type", "application/json");
            body.to_string()
        }
        None => String::new(),
    };
    let mut response = agent
        .run(request.body(body).unwrap())
        .map_err(|e| transport(&e))?;
    let status = response.status();
    let text = response
        .body_mut()
        .with_config()
        .limit(64 * 1024 * 1024)
        .read_to_string()
        .map_err(|e| transport(&e))?;
    let answer: Value = serde_json::from_str(&text).map_err(|e| Refusal {
        error: format!("HTTP {status}"),
        message: format!("{method} {path}: not JSON ({e}): {text}"),
    })?;
    let value = answer.get("value").cloned().unwrap_or(Value::Null);
    if status.is_success() {
        return Ok(value);
    }
    Err(Refusal {
        error: value["error"]
            .as_str()
            .map(str::to_string)
            .unwrap_or_else(|| format!("HTTP {status}")),
        message: value["message"]
            .as_str()
            .map(str::to_string)
            .unwrap_or_else(|| answer.to_string()),
    })
}

/// The id in an element reference.
fn element_id(element: &Value) -> String {
    element[ELEMENT]
        .as_str()
        .unwrap_or_else(|| panic!("not an element reference: {element}"))
        .to_string()
}

fn string(value: Value) -> String {
    match value {
        Value::String(s) => s,
        other => panic!("WebDriver answered {other} where a string was due"),
    }
}

/// `s` escaped for a double-quoted CSS string.
fn css_string(s: &str) -> String {
    s.replace('\\', "\\\\").replace('"', "\\\"")
}

/// Standard base64 (padded) to bytes; `None` on anything else.
fn base64_decode(text: &str) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(text.len() / 4 * 3);
    let mut bits = 0u32;
    let mut count = 0;
    for byte in text.bytes().filter(|b| !b.is_ascii_whitespace()) {
        let sextet = match byte {
            b'A'..=b'Z' => byte - b'A',
            b'a'..=b'z' => byte - b'a' + 26,
            b'0'..=b'9' => byte - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            b'=' => break,
            _ => return None,
        };
        bits = bits << 6 | u32::from(sextet);
        count += 6;
        if count >= 8 {
            count -= 8;
            out.push((bits >> count) as u8);
            bits &= (1 << count) - 1;
        }
    }
    Some(out)
}
