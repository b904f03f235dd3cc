//! The console's pages as a browser without script sees them: an HTTPS
//! client that trusts only the certificate hedge made, keeps the session
//! cookie, sends forms with the CSRF token the last page carried, and
//! follows a form's 303 to the page it leads to.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use hickory_proto::rr::RecordType;

use super::{Hedge, PATIENCE, addresses, free_addr, local, query, udp_exchange_from};

pub const PASSWORD: &str = "correct horse battery staple 42";

pub fn config(upstream: SocketAddr, web: SocketAddr, web_extra: &str) -> String {
    format!(
        r#"[server]
listen = ["LISTEN"]
rate_limit_qps = 0

[upstream]
servers = ["{upstream}"]
timeout_ms = 1000
attempts = 1

[categories.gambling]
sources = ["gambling.txt"]

[categories.iwf]
sources = ["iwf.txt"]

[categories.pornography]
sources = ["adult.txt"]

[[groups]]
name = "pupils"
networks = ["127.0.0.2/32"]
block = ["gambling", "pornography"]

[[approvers]]
name = "H. Head"
role = "head teacher"
max_days = 7

[web]
listen = "{web}"
{web_extra}
"#
    )
}

pub const FILES: &[(&str, &str)] = &[
    ("gambling.txt", "bet.upstream.example\n"),
    ("iwf.txt", "abuse.upstream.example\n"),
    ("adult.txt", "adult.upstream.example\n"),
];

/// A hedge with the console on a free loopback port: group `pupils`
/// (127.0.0.2) blocks gambling and pornography, `H. Head` is on the
/// approvers' roster, `iwf` is a category nobody lifts.
pub async fn start(upstream: SocketAddr, web_extra: &str) -> (Hedge, SocketAddr) {
    let web = free_addr("127.0.0.1:0".parse().unwrap());
    let hedge = Hedge::start_with(&config(upstream, web, web_extra), FILES).await;
    hedge.wait_for_database().await;
    hedge
        .wait_for_log("approved exemption(s) not yet ended")
        .await;
    hedge.wait_for_log("web console on https://").await;
    (hedge, web)
}

/// The last byte of the pupils' address (127.0.0.2).
pub const PUPIL: u8 = 2;

/// The addresses hedge answers a pupil asking for `name`.
pub async fn a_for(hedge: &Hedge, name: &str) -> Vec<String> {
    let reply = udp_exchange_from(
        local(PUPIL),
        hedge.addr,
        &query(name, RecordType::A),
        PATIENCE,
    )
    .await
    .expect("an answer");
    addresses(&reply)
}

/// One page as received.
#[derive(Debug, Clone)]
pub struct Page {
    pub status: u16,
    /// Where the page was finally fetched from (after a form's 303).
    pub path: String,
    pub headers: ureq::http::HeaderMap,
    pub body: String,
}

impl Page {
    /// Whether the page's HTML holds `text` (as sent: `&amp;` for `&`).
    pub fn has(&self, text: &str) -> bool {
        self.body.contains(text)
    }

    /// The page's forms' CSRF token, if it has a form.
    pub fn csrf(&self) -> Option<String> {
        let start = self.body.find("name=\"csrf\" value=\"")? + 19;
        let end = self.body[start..].find('"')?;
        Some(self.body[start..start + end].to_string())
    }
}

/// A visitor to the console at `base`.
pub struct Visitor {
    agent: ureq::Agent,
    base: String,
    /// The cookies the console set, by name.
    cookies: RefCell<BTreeMap<String, String>>,
    csrf: RefCell<Option<String>>,
}

impl Visitor {
    /// A visitor to `hedge`'s console on `web`, trusting its certificate.
    pub fn new(hedge: &Hedge, web: SocketAddr) -> Visitor {
        let pem = std::fs::read(hedge.path("console-cert.pem")).unwrap();
        let certificate = ureq::tls::Certificate::from_pem(&pem).unwrap();
        let tls = ureq::tls::TlsConfig::builder()
            .root_certs(ureq::tls::RootCerts::Specific(Arc::new(vec![certificate])))
            .build();
        let agent = ureq::Agent::config_builder()
            .tls_config(tls)
            .http_status_as_error(false)
            .max_redirects(0)
            .timeout_global(Some(Duration::from_secs(20)))
            .build()
            .new_agent();
        Visitor {
            agent,
            base: format!("https://{web}"),
            cookies: RefCell::new(BTreeMap::new()),
            csrf: RefCell::new(None),
        }
    }

    fn send(&self, method: &str, path: &str, form: Option<String>) -> Page {
        let mut request = ureq::http::Request::builder()
            .method(method)
            .uri(format!("{}{path}", self.base));
        let cookies = self.cookies.borrow();
        if !cookies.is_empty() {
            let header: Vec<String> = cookies.iter().map(|(n, v)| format!("{n}={v}")).collect();
            request = request.header("Cookie", header.join("; "));
        }
        drop(cookies);
        let body = match form {
            Some(form) => {
                request = request.header("Content-Type", "application/x-www-form-urlencoded");
                form
            }
            None => String::new(),
        };
        let mut response = self
            .agent
            .run(request.body(body).unwrap())
            .unwrap_or_else(|error| panic!("{method} {path}: {error}"));
        let headers = response.headers().clone();
        for value in headers.get_all("set-cookie") {
            let value = value.to_str().unwrap();
            let pair = value.split(';').next().unwrap().trim();
            let (name, cookie) = pair.split_once('=').unwrap();
            if value.contains("Max-Age=0") {
                self.cookies.borrow_mut().remove(name);
            } else {
                self.cookies
                    .borrow_mut()
                    .insert(name.to_string(), cookie.to_string());
            }
        }
        let page = Page {
            status: response.status().as_u16(),
            path: path.to_string(),
            headers,
            body: response.body_mut().read_to_string().unwrap_or_default(),
        };
        if let Some(csrf) = page.csrf() {
            *self.csrf.borrow_mut() = Some(csrf);
        }
        if page.status == 303 {
            let to = page.headers["location"].to_str().unwrap().to_string();
            return self.get(&to);
        }
        page
    }

    /// The page at `path`.
    pub fn get(&self, path: &str) -> Page {
        self.send("GET", path, None)
    }

    /// Sends a form to `path` with `fields` and the CSRF token of the last
    /// page that had one; follows a 303 to the page it leads to.
    pub fn post(&self, path: &str, fields: &[(&str, &str)]) -> Page {
        let csrf = self.csrf.borrow().clone().unwrap_or_default();
        let mut all: Vec<(&str, &str)> = vec![("csrf", csrf.as_str())];
        all.extend_from_slice(fields);
        self.post_exactly(path, &all)
    }

    /// Sends exactly `fields` (no CSRF token added).
    pub fn post_exactly(&self, path: &str, fields: &[(&str, &str)]) -> Page {
        let form = serde_urlencoded::to_string(fields).unwrap();
        self.send("POST", path, Some(form))
    }

    /// Sends a form of someone not signed in (signing in, enrolling) to
    /// `path` with `fields` and the form token a sign-in page set (the
    /// sign-in page is fetched first when none has been).
    pub fn post_anonymous(&self, path: &str, fields: &[(&str, &str)]) -> Page {
        if !self.cookies.borrow().contains_key("__Host-hedge-form") {
            let page = self.get("/sign-in");
            assert_eq!(page.status, 200, "{}", page.body);
        }
        let token = self.cookies.borrow()["__Host-hedge-form"].clone();
        let mut all: Vec<(&str, &str)> = vec![("csrf", token.as_str())];
        all.extend_from_slice(fields);
        self.post_exactly(path, &all)
    }

    /// Sets the password of the person with enrolment `code` to [`PASSWORD`].
    pub fn enrol(&self, code: &str) -> Page {
        self.post_anonymous(
            "/enrol",
            &[("code", code), ("password", PASSWORD), ("again", PASSWORD)],
        )
    }

    /// Signs in as `name` with [`PASSWORD`]; panics unless it worked.
    pub fn sign_in(&self, name: &str) -> Page {
        let page = self.post_anonymous("/sign-in", &[("name", name), ("password", PASSWORD)]);
        assert_eq!(page.path, "/", "signing in as {name}: {}", page.body);
        page
    }

    /// A person added with `roles` (not mapped to an OS account), enrolled
    /// and signed in.
    pub fn signed_in(hedge: &Hedge, web: SocketAddr, name: &str, roles: &[&str]) -> Visitor {
        let visitor = Visitor::new(hedge, web);
        let code = hedge.person_unmapped(name, roles);
        let enrolled = visitor.enrol(&code);
        assert!(enrolled.has("Your password is set"), "{}", enrolled.body);
        visitor.sign_in(name);
        visitor
    }
}
