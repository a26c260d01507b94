//! The shared conformance corpus and its checker.
//!
//! `tests/corpus/` at the workspace root holds a fixed dataset per service (`dataset/*.json`,
//! MongoDB extended JSON in the layout of `models.md`) and the cases (`cases/*.json`): each a
//! request in the proto3 JSON form of `wire.md` with its expected answer or error, written
//! from the spec. Every backend and every transport runs the same cases: it loads the dataset,
//! answers each request in its own way, turns the answer into an [`Outcome`] and hands it to
//! [`check`]. A [`Report`] counts and prints the results.

pub mod cost;
pub mod lifecycle;
pub mod scenario;

use serde::Deserialize;
use serde_json::Value;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// The corpus: the clock instant the cases assume, and all cases.
#[derive(Debug, Clone)]
pub struct Corpus {
    /// "Now" for `timediff_*` cases (ISO 8601).
    pub now: String,
    /// Every case of every file, in file order.
    pub cases: Vec<Case>,
    root: PathBuf,
}

/// `list` or `stat`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Method {
    /// `list`
    List,
    /// `stat`
    Stat,
}

/// One case.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Case {
    /// What the case shows.
    pub name: String,
    /// `inventory`, `spot_automation` or `power_scheduler`.
    pub service: String,
    /// The method called.
    pub method: Method,
    /// The whole request message, proto3 JSON.
    pub request: Value,
    /// Expected answer.
    #[serde(default)]
    pub expect: Option<Expect>,
    /// Expected error.
    #[serde(default)]
    pub error: Option<ExpectedError>,
    /// File the case comes from (filled in by the loader).
    #[serde(skip)]
    pub file: String,
}

/// What a successful answer must hold.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Expect {
    /// `total_count` (list; stat when paged).
    #[serde(default)]
    pub total_count: Option<u64>,
    /// list: the public ids of the results, in order.
    #[serde(default)]
    pub ids: Option<Vec<String>>,
    /// list: the only fields a result may carry (others absent or at their proto default).
    #[serde(default)]
    pub fields: Option<Vec<String>>,
    /// list: a pattern the first result must match (listed keys equal; others default).
    #[serde(default)]
    pub first: Option<Value>,
    /// stat: the result rows or values.
    #[serde(default)]
    pub results: Option<Vec<Value>>,
    /// stat: compare `results` as a multiset (the pipeline leaves the order open).
    #[serde(default)]
    pub unordered: bool,
}

/// What an error answer must hold.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExpectedError {
    /// gRPC code name (`INVALID_ARGUMENT`).
    pub code: String,
    /// SpaceONE error name (`ERROR_REQUIRED_PARAMETER`).
    pub name: String,
    /// Words the message must contain.
    #[serde(default)]
    pub contains: Vec<String>,
}

/// What a backend answered.
#[derive(Debug, Clone)]
pub enum Outcome {
    /// The response as JSON: `{"results": [...], "total_count": N}` (list), or the stat Struct.
    Response(Value),
    /// An error.
    Error {
        /// gRPC code name.
        code: String,
        /// SpaceONE error name.
        name: String,
        /// The message (details).
        message: String,
    },
}

impl Outcome {
    /// A service's answer (or error) as an outcome.
    pub fn of(result: Result<Value, spacejobs_core::Error>) -> Outcome {
        match result {
            Ok(response) => Outcome::Response(response),
            Err(e) => Outcome::Error {
                code: e.class().grpc_name().to_string(),
                name: e.code().to_string(),
                message: e.details(),
            },
        }
    }
}

/// The public id field of a service's documents.
pub fn id_field(service: &str) -> &'static str {
    if service == "inventory" {
        "job_task_id"
    } else {
        "job_id"
    }
}

impl Corpus {
    /// Loads the corpus from the workspace's `tests/corpus`.
    pub fn load() -> Corpus {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/corpus");
        Corpus::load_from(&root)
    }

    /// Loads the corpus from a directory (panics with the file and reason on a bad file).
    pub fn load_from(root: &Path) -> Corpus {
        let meta: Value = read_json(&root.join("corpus.json"));
        let now = meta["now"].as_str().expect("corpus.json: now").to_string();
        let mut files: Vec<PathBuf> = std::fs::read_dir(root.join("cases"))
            .expect("tests/corpus/cases")
            .map(|e| e.expect("dir entry").path())
            .filter(|p| p.extension().is_some_and(|e| e == "json"))
            .collect();
        files.sort();
        let mut cases = Vec::new();
        for file in files {
            let name = file
                .file_name()
                .map(|n| n.to_string_lossy().to_string())
                .unwrap_or_default();
            let parsed: Vec<Case> = serde_json::from_value(read_json(&file))
                .unwrap_or_else(|e| panic!("{}: {e}", file.display()));
            for mut case in parsed {
                assert!(
                    case.expect.is_some() != case.error.is_some(),
                    "{name}: case '{}' needs exactly one of expect and error",
                    case.name
                );
                case.file = name.clone();
                cases.push(case);
            }
        }
        Corpus {
            now,
            cases,
            root: root.to_path_buf(),
        }
    }

    /// The dataset of a service: documents in MongoDB extended JSON, in insertion order.
    pub fn dataset(&self, service: &str) -> Vec<Value> {
        match read_json(&self.root.join("dataset").join(format!("{service}.json"))) {
            Value::Array(docs) => docs,
            other => panic!("dataset {service}: expected an array, got {other}"),
        }
    }
}

impl Corpus {
    /// The dataset of a service as BSON documents (extended JSON read as such: `$date`,
    /// `$oid`), in insertion order.
    pub fn documents(&self, service: &str) -> Vec<bson::Document> {
        self.dataset(service)
            .into_iter()
            .map(|v| match bson::Bson::try_from(v) {
                Ok(bson::Bson::Document(d)) => d,
                other => panic!("dataset {service}: not a document: {other:?}"),
            })
            .collect()
    }
}

fn read_json(path: &Path) -> Value {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Checks an outcome against a case; `Err` says what differs.
pub fn check(case: &Case, outcome: &Outcome) -> Result<(), String> {
    match (outcome, &case.error, &case.expect) {
        (
            Outcome::Error {
                code,
                name,
                message,
            },
            Some(want),
            _,
        ) => {
            if code != &want.code || name != &want.name {
                return Err(format!(
                    "error {code}/{name} ({message}), want {}/{}",
                    want.code, want.name
                ));
            }
            for word in &want.contains {
                if !message.contains(word.as_str()) {
                    return Err(format!("error message '{message}' lacks '{word}'"));
                }
            }
            Ok(())
        }
        (
            Outcome::Error {
                code,
                name,
                message,
            },
            None,
            _,
        ) => Err(format!("unexpected error {code}/{name}: {message}")),
        (Outcome::Response(r), Some(want), _) => Err(format!(
            "expected error {}/{}, got response {r}",
            want.code, want.name
        )),
        (Outcome::Response(response), None, Some(expect)) => match case.method {
            Method::List => check_list(&case.service, expect, response),
            Method::Stat => check_stat(expect, response),
        },
        (Outcome::Response(_), None, None) => Err("case has neither expect nor error".into()),
    }
}

fn results(response: &Value) -> Result<&Vec<Value>, String> {
    response
        .get("results")
        .and_then(Value::as_array)
        .ok_or_else(|| format!("no results array in {response}"))
}

fn total_count(response: &Value) -> Option<u64> {
    response
        .get("total_count")
        .and_then(|v| v.as_u64().or_else(|| v.as_f64().map(|f| f as u64)))
}

fn check_list(service: &str, expect: &Expect, response: &Value) -> Result<(), String> {
    let rows = results(response)?;
    if let Some(n) = expect.total_count {
        if total_count(response) != Some(n) {
            return Err(format!("total_count {:?}, want {n}", total_count(response)));
        }
    }
    let id = id_field(service);
    if let Some(ids) = &expect.ids {
        let got: Vec<&str> = rows
            .iter()
            .map(|r| r.get(id).and_then(Value::as_str).unwrap_or("?"))
            .collect();
        if got != *ids {
            return Err(format!("ids {got:?}, want {ids:?}"));
        }
    }
    if let Some(fields) = &expect.fields {
        for row in rows {
            let object = row.as_object().ok_or("result is not an object")?;
            for (key, value) in object {
                if key != "_id" && !fields.contains(key) && !is_default(value) {
                    return Err(format!(
                        "result carries field '{key}' = {value}, allowed {fields:?}"
                    ));
                }
            }
            if let Some(missing) = fields.iter().find(|f| *f == id && !object.contains_key(*f)) {
                return Err(format!("result lacks '{missing}'"));
            }
        }
    }
    if let Some(pattern) = &expect.first {
        let first = rows.first().ok_or("no first result")?;
        matches_pattern(pattern, first).map_err(|e| format!("first result {first}: {e}"))?;
    }
    Ok(())
}

fn check_stat(expect: &Expect, response: &Value) -> Result<(), String> {
    let rows = results(response)?;
    match (expect.total_count, total_count(response)) {
        (Some(want), got) if got != Some(want) => {
            return Err(format!("total_count {got:?}, want {want}"))
        }
        (None, Some(got)) => return Err(format!("unexpected total_count {got}")),
        _ => {}
    }
    let Some(want) = &expect.results else {
        return Ok(());
    };
    let mismatch = || {
        format!(
            "results {}, want {}",
            Value::Array(rows.clone()),
            Value::Array(want.clone())
        )
    };
    if rows.len() != want.len() {
        return Err(mismatch());
    }
    if expect.unordered {
        let mut left: Vec<&Value> = rows.iter().collect();
        for w in want {
            let pos = left
                .iter()
                .position(|r| json_equal(w, r))
                .ok_or_else(mismatch)?;
            left.remove(pos);
        }
    } else if !rows.iter().zip(want).all(|(r, w)| json_equal(w, r)) {
        return Err(mismatch());
    }
    Ok(())
}

/// JSON equality where numbers compare by value (3 == 3.0, tiny float noise ignored).
pub fn json_equal(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => {
            let (x, y) = (
                x.as_f64().unwrap_or(f64::NAN),
                y.as_f64().unwrap_or(f64::NAN),
            );
            x == y || (x - y).abs() <= 1e-9 * x.abs().max(y.abs())
        }
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(p, q)| json_equal(p, q))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len()
                && x.iter()
                    .all(|(k, v)| y.get(k).is_some_and(|w| json_equal(v, w)))
        }
        _ => a == b,
    }
}

/// A value a proto field holds when unset: null, "", 0, false, [] or {}.
pub fn is_default(value: &Value) -> bool {
    match value {
        Value::Null => true,
        Value::Bool(b) => !b,
        Value::Number(n) => n.as_f64() == Some(0.0),
        Value::String(s) => s.is_empty(),
        Value::Array(a) => a.is_empty(),
        Value::Object(o) => o.is_empty(),
    }
}

/// `actual` matches `pattern`: every key of a pattern object is equal (recursively; a
/// `null` in the pattern also accepts a proto default such as `""`, since the wire sends
/// unset fields as defaults); keys the pattern does not list are not checked (use
/// `fields` for that). Arrays match element by element.
pub fn matches_pattern(pattern: &Value, actual: &Value) -> Result<(), String> {
    match (pattern, actual) {
        (Value::Object(p), Value::Object(a)) => {
            for (k, v) in p {
                let got = a.get(k).unwrap_or(&Value::Null);
                matches_pattern(v, got).map_err(|e| format!("{k}: {e}"))?;
            }
            Ok(())
        }
        (Value::Array(p), Value::Array(a)) if p.len() == a.len() => p
            .iter()
            .zip(a)
            .enumerate()
            .try_for_each(|(i, (x, y))| matches_pattern(x, y).map_err(|e| format!("[{i}] {e}"))),
        (Value::Null, other) if is_default(other) => Ok(()),
        _ if json_equal(pattern, actual) => Ok(()),
        _ => Err(format!("{actual}, want {pattern}")),
    }
}

/// Counts results and fails with every mismatch listed.
#[derive(Debug, Default)]
pub struct Report {
    label: String,
    passed: usize,
    failures: Vec<String>,
}

impl Report {
    /// A report for one backend or transport (`memory`, `mongodb`, `grpc`…).
    pub fn new(label: &str) -> Self {
        Report {
            label: label.to_string(),
            ..Report::default()
        }
    }

    /// Checks one case's outcome and records the result.
    pub fn record(&mut self, case: &Case, outcome: &Outcome) {
        match check(case, outcome) {
            Ok(()) => self.passed += 1,
            Err(e) => self
                .failures
                .push(format!("[{}] {}: {e}", case.file, case.name)),
        }
    }

    /// Prints `N passed, N failed` and panics when anything failed.
    pub fn finish(self) {
        let mut text = String::new();
        for failure in &self.failures {
            let _ = writeln!(text, "  FAILED {failure}");
        }
        println!(
            "conformance ({}): {} cases\n{text}{} passed, {} failed",
            self.label,
            self.passed + self.failures.len(),
            self.passed,
            self.failures.len()
        );
        assert!(
            self.failures.is_empty(),
            "{} conformance case(s) failed:\n{text}",
            self.failures.len()
        );
    }
}
