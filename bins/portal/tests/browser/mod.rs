//! A headless Chromium driven through the Chrome DevTools Protocol over its debugging pipe
//! (`--remote-debugging-pipe`: JSON messages ended by a NUL byte, commands on file descriptor 3,
//! answers and events on 4), so that no WebSocket client or browser-download tool is needed.

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{Receiver, RecvTimeoutError, channel};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

/// How long one command may take, page loads and engine compilation included.
const COMMAND_TIMEOUT: Duration = Duration::from_secs(60);

pub struct Browser {
    process: Child,
    commands: ChildStdin,
    messages: Receiver<Value>,
    next_id: u64,
    /// The page's session: every command but the first two goes to it.
    session: Option<String>,
    profile: tempfile::TempDir,
}

impl Browser {
    /// Starts `chromium` headless with a fresh profile and opens an empty page, `width`×`height`.
    pub fn launch(chromium: &Path, width: u32, height: u32) -> Browser {
        let profile = tempfile::tempdir().expect("a profile directory");
        // The shell moves the pipes to the descriptors Chromium reads and writes the protocol on.
        let mut process = Command::new("sh")
            .args(["-c", r#"exec "$0" "$@" 3<&0 4>&1 0</dev/null 1>&2"#])
            .arg(chromium)
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--remote-debugging-pipe",
                // file:// pages may read the scripts beside them.
                "--allow-file-access-from-files",
            ])
            .arg(format!("--window-size={width},{height}"))
            .arg(format!("--user-data-dir={}", profile.path().display()))
            .arg("about:blank")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(profile.path().join("chromium.log")).expect("chromium's log file"))
            .spawn()
            .expect("starting chromium");
        let commands = process.stdin.take().expect("chromium's command pipe");
        let answers = process.stdout.take().expect("chromium's answer pipe");
        let (sender, messages) = channel();
        std::thread::spawn(move || {
            for message in BufReader::new(answers).split(0) {
                let Ok(message) = message else { break };
                let Ok(value) = serde_json::from_slice::<Value>(&message) else { continue };
                if sender.send(value).is_err() {
                    break;
                }
            }
        });
        let mut browser = Browser { process, commands, messages, next_id: 0, session: None, profile };
        let target = browser.call("Target.createTarget", json!({"url": "about:blank"}));
        let target_id = target["targetId"].as_str().expect("a target id").to_owned();
        let attached = browser.call("Target.attachToTarget", json!({"targetId": target_id, "flatten": true}));
        browser.session = Some(attached["sessionId"].as_str().expect("a session id").to_owned());
        browser.call(
            "Emulation.setDeviceMetricsOverride",
            json!({"width": width, "height": height, "deviceScaleFactor": 1, "mobile": false}),
        );
        browser
    }

    /// Sends one command and waits for its answer's `result`; panics on a protocol error.
    pub fn call(&mut self, method: &str, params: Value) -> Value {
        self.next_id += 1;
        let id = self.next_id;
        let mut message = json!({"id": id, "method": method, "params": params});
        if let Some(session) = &self.session {
            message["sessionId"] = json!(session);
        }
        let mut bytes = serde_json::to_vec(&message).expect("a command as JSON");
        bytes.push(0);
        self.commands.write_all(&bytes).expect("sending a command to chromium");
        self.commands.flush().expect("sending a command to chromium");
        let deadline = Instant::now() + COMMAND_TIMEOUT;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.messages.recv_timeout(left) {
                Ok(answer) if answer["id"] == json!(id) => {
                    assert!(answer.get("error").is_none(), "{method} failed: {}", answer["error"]);
                    return answer["result"].clone();
                }
                Ok(_event) => {}
                Err(RecvTimeoutError::Timeout) => {
                    panic!("{method}: no answer from chromium in {COMMAND_TIMEOUT:?}; it logged:\n{}", self.log())
                }
                Err(RecvTimeoutError::Disconnected) => panic!("{method}: chromium exited; it logged:\n{}", self.log()),
            }
        }
    }

    /// Opens `url` and waits until that page (not the one before it) has loaded.
    pub fn open(&mut self, url: &str) {
        let navigated = self.call("Page.navigate", json!({"url": url}));
        if let Some(error) = navigated.get("errorText") {
            panic!("opening {url}: {error}");
        }
        let loaded = format!("location.href === {} && document.readyState === 'complete'", json!(url));
        let deadline = Instant::now() + COMMAND_TIMEOUT;
        while self.evaluate(&loaded) != json!(true) {
            assert!(Instant::now() < deadline, "{url} did not load in {COMMAND_TIMEOUT:?}");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// The end of what Chromium wrote on its standard error, for failures.
    fn log(&self) -> String {
        let log = std::fs::read_to_string(self.profile.path().join("chromium.log")).unwrap_or_default();
        let lines: Vec<&str> = log.lines().collect();
        lines[lines.len().saturating_sub(20)..].join("\n")
    }

    /// The value of a JavaScript expression in the page, promises awaited; panics on an
    /// exception, with its text.
    pub fn evaluate(&mut self, expression: &str) -> Value {
        let result = self
            .call("Runtime.evaluate", json!({"expression": expression, "awaitPromise": true, "returnByValue": true}));
        if let Some(exception) = result.get("exceptionDetails") {
            panic!("{expression}\nthrew: {exception}");
        }
        result["result"]["value"].clone()
    }

    /// Types `text` into the element `selector` as a person would: focused, its contents
    /// selected and replaced, the page told by the input events a keyboard sends.
    pub fn type_into(&mut self, selector: &str, text: &str) {
        let selector = json!(selector);
        self.evaluate(&format!("(() => {{ const e = document.querySelector({selector}); e.focus(); e.select(); }})()"));
        self.call("Input.insertText", json!({"text": text}));
    }

    /// A PNG of the page as it is shown.
    pub fn screenshot(&mut self) -> Vec<u8> {
        use base64::Engine as _;
        let shot = self.call("Page.captureScreenshot", json!({"format": "png"}));
        let data = shot["data"].as_str().expect("screenshot data");
        base64::engine::general_purpose::STANDARD.decode(data).expect("a base64 PNG")
    }
}

impl Drop for Browser {
    /// Asks the browser to close (its helper processes go with it), then makes sure.
    fn drop(&mut self) {
        let close = json!({"id": u64::MAX, "method": "Browser.close", "params": {}});
        if let Ok(mut bytes) = serde_json::to_vec(&close) {
            bytes.push(0);
            let _ = self.commands.write_all(&bytes).and_then(|()| self.commands.flush());
        }
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline && matches!(self.process.try_wait(), Ok(None)) {
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.process.kill();
        let _ = self.process.wait();
    }
}
