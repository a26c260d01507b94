//! `import`: JSON Lines documents in the SpaceONE layout into a store. Every line is read
//! and checked first; a bad document stops the import with its line and field before
//! anything is written, then all documents go in at once.

use crate::{json_line, Error, Result};
use bson::raw::{RawBsonRef, RawDocument, RawDocumentBuf};
use bson::{Bson, Document};
use indicatif::{ProgressBar, ProgressStyle};
use rayon::prelude::*;
use spacejobs_core::{Service, Store};
use spacejobs_query::time::parse_iso;
use std::path::Path;

const DATE_FIELDS: [&str; 4] = ["created_at", "updated_at", "started_at", "finished_at"];

fn count_fields(service: Service) -> &'static [&'static str] {
    match service {
        Service::Inventory => &[
            "created_count",
            "updated_count",
            "failure_count",
            "deleted_count",
            "disconnected_count",
        ],
        _ => &["total_tasks", "remained_tasks"],
    }
}

/// Checks and normalizes one document: MongoDB extended JSON is read as such, ISO 8601
/// strings in date fields become dates, and it gets an ObjectId `_id` (first) unless it has
/// one.
pub fn parse_line(service: Service, line: &str, number: usize) -> Result<Document> {
    let bad = |field: &str, reason: String| {
        Error::Import(format!("line {number}: field '{field}': {reason}"))
    };
    let mut doc = json_line::document(line).map_err(|e| {
        if e == "expected a JSON object" {
            Error::Import(format!("line {number}: {e}"))
        } else {
            Error::Import(format!("line {number}: invalid JSON: {e}"))
        }
    })?;
    for field in [service.id_field(), "domain_id"] {
        match doc.get(field) {
            Some(Bson::String(s)) if !s.is_empty() => {}
            Some(other) => {
                return Err(bad(
                    field,
                    format!("expected a non-empty string, got {other}"),
                ))
            }
            None => return Err(bad(field, "required".into())),
        }
    }
    if let Some(status) = doc.get("status") {
        let names = &service.status_names()[1..];
        match status {
            Bson::String(s) if names.contains(&s.as_str()) => {}
            other => {
                return Err(bad(
                    "status",
                    format!("expected one of {}, got {other}", names.join(", ")),
                ))
            }
        }
    }
    for field in count_fields(service) {
        match doc.get(*field) {
            None | Some(Bson::Null | Bson::Int32(_)) => {}
            Some(Bson::Int64(n)) => {
                let n = i32::try_from(*n)
                    .map_err(|_| bad(field, format!("{n} does not fit a 32-bit count")))?;
                doc.insert(*field, n);
            }
            Some(other) => return Err(bad(field, format!("expected an integer, got {other}"))),
        }
    }
    for field in DATE_FIELDS {
        match doc.get(field) {
            None | Some(Bson::Null | Bson::DateTime(_)) => {}
            Some(Bson::String(s)) => {
                let dt = parse_iso(s)
                    .ok_or_else(|| bad(field, format!("'{s}' is not an ISO 8601 date")))?;
                doc.insert(field, bson::DateTime::from_chrono(dt));
            }
            Some(other) => return Err(bad(field, format!("expected a date, got {other}"))),
        }
    }
    match doc.get("errors") {
        None | Some(Bson::Null) => {}
        Some(Bson::Array(items)) if items.iter().all(|e| matches!(e, Bson::Document(_))) => {}
        Some(other) => {
            return Err(bad(
                "errors",
                format!("expected an array of objects, got {other}"),
            ))
        }
    }
    Ok(doc)
}

/// The lines of a file that hold a document, with their numbers (from 1).
pub type Lines<'a> = Vec<(usize, &'a str)>;

/// True when a document read straight as bytes needs no change and passes every check of
/// [`parse_line`] (which reads the others, to change them or to say what is wrong). One pass
/// over the fields.
fn normalized(service: Service, raw: &RawDocument) -> bool {
    let names = &service.status_names()[1..];
    let counts = count_fields(service);
    let mut named = 0;
    for element in raw {
        let Ok((key, value)) = element else {
            return false;
        };
        let key = key.as_str();
        let fine = if key == service.id_field() || key == "domain_id" {
            named += 1;
            matches!(value, RawBsonRef::String(s) if !s.is_empty())
        } else if key == "status" {
            matches!(value, RawBsonRef::String(s) if names.contains(&s))
        } else if counts.contains(&key) {
            matches!(value, RawBsonRef::Null | RawBsonRef::Int32(_))
        } else if DATE_FIELDS.contains(&key) {
            matches!(value, RawBsonRef::Null | RawBsonRef::DateTime(_))
        } else if key == "errors" {
            match value {
                RawBsonRef::Null => true,
                RawBsonRef::Array(items) => items
                    .into_iter()
                    .all(|e| matches!(e, Ok(RawBsonRef::Document(_)))),
                _ => false,
            }
        } else {
            true
        };
        if !fine {
            return false;
        }
    }
    named == 2
}

/// [`parse_line`] as BSON bytes: written while reading when the line needs no change, else
/// through [`parse_line`].
pub fn parse_line_raw(service: Service, line: &str, number: usize) -> Result<RawDocumentBuf> {
    if let Some(Ok(raw)) = json_line::raw_document(line) {
        if normalized(service, &raw) {
            return Ok(raw);
        }
    }
    let doc = parse_line(service, line, number)?;
    RawDocumentBuf::try_from(&doc).map_err(|e| Error::Import(format!("line {number}: {e}")))
}

/// Reads and checks every line of `text`: the documents (as BSON bytes), and the lines they
/// came from. Lines are parsed in parallel (rayon); the first bad line, in file order, is
/// reported, and so is a public id given twice.
pub fn parse_all<'a>(
    service: Service,
    text: &'a str,
    progress: &ProgressBar,
) -> Result<(Vec<RawDocumentBuf>, Lines<'a>)> {
    let lines: Lines<'a> = text
        .lines()
        .enumerate()
        .filter(|(_, line)| !line.trim().is_empty())
        .map(|(i, line)| (i + 1, line))
        .collect();
    progress.inc(lines.len() as u64);
    let docs = lines
        .par_iter()
        .map(|(number, line)| parse_line_raw(service, line, *number))
        .collect::<Vec<Result<RawDocumentBuf>>>()
        .into_iter()
        .collect::<Result<Vec<RawDocumentBuf>>>()?;
    let mut first_line = hashbrown::HashMap::with_capacity(docs.len());
    for ((number, _), doc) in lines.iter().zip(&docs) {
        let id = doc.get_str(service.id_field()).unwrap_or_default();
        if let Some(first) = first_line.insert(id, *number) {
            return Err(Error::Import(format!(
                "line {number}: field '{}': '{id}' appears twice (first on line {first})",
                service.id_field()
            )));
        }
    }
    drop(first_line);
    Ok((docs, lines))
}

/// The number of the line whose document has public id `id`.
fn line_of(service: Service, lines: &Lines<'_>, id: &str) -> usize {
    let quoted = format!("\"{id}\"");
    lines
        .iter()
        .filter(|(_, line)| line.contains(&quoted))
        .find(|(number, line)| {
            parse_line(service, line, *number)
                .is_ok_and(|doc| doc.get_str(service.id_field()).is_ok_and(|own| own == id))
        })
        .map_or(0, |(number, _)| *number)
}

/// The file's text, or the first line that is not UTF-8, named by its number.
fn utf8(bytes: &[u8]) -> Result<&str> {
    std::str::from_utf8(bytes).map_err(|e| {
        let before = &bytes[..e.valid_up_to()];
        let line = before.iter().filter(|b| **b == b'\n').count() + 1;
        let column = before.len()
            - before
                .iter()
                .rposition(|b| *b == b'\n')
                .map_or(0, |at| at + 1);
        Error::Import(format!(
            "line {line}: not UTF-8 text (at byte {} of the line)",
            column + 1
        ))
    })
}

/// Imports a file (`-` for standard input); returns the number of documents.
pub async fn import_file(service: Service, store: &dyn Store, path: &Path) -> Result<usize> {
    import_file_with(service, store, path, false)
        .await
        .map(|(n, _)| n)
}

/// [`import_file`], skipping (when `skip_existing`) the documents whose public id is already
/// stored: how an import cut short (a large one on MongoDB is a series of transactions of
/// 10,000 documents) is resumed. Returns the documents imported and skipped.
pub async fn import_file_with(
    service: Service,
    store: &dyn Store,
    path: &Path,
    skip_existing: bool,
) -> Result<(usize, usize)> {
    let progress = ProgressBar::new_spinner();
    progress.set_style(
        ProgressStyle::with_template("{spinner} {pos} lines read {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_spinner()),
    );
    let bytes = if path == Path::new("-") {
        let mut bytes = Vec::new();
        std::io::Read::read_to_end(&mut std::io::stdin().lock(), &mut bytes).map(|_| bytes)
    } else {
        std::fs::read(path)
    }
    .map_err(|e| Error::Import(format!("{}: {e}", path.display())))?;
    let text = utf8(&bytes)?;
    let (mut docs, lines) = parse_all(service, text, &progress)?;
    let skipped = if skip_existing {
        progress.set_message("skipping what is stored");
        drop_stored(service, store, &mut docs).await?
    } else {
        0
    };
    progress.set_message("writing");
    let n = docs.len();
    store
        .insert_raw(service.collection(), docs)
        .await
        .map_err(|e| match &e {
            spacejobs_core::Error::NotUnique { value, .. } => Error::Import(format!(
                "line {}: {}; nothing was imported",
                line_of(service, &lines, value),
                e.details()
            )),
            _ => Error::Core(e),
        })?;
    progress.finish_with_message(format!("{n} documents imported"));
    Ok((n, skipped))
}

/// Removes from `docs` those whose public id is stored already; how many.
async fn drop_stored(
    service: Service,
    store: &dyn Store,
    docs: &mut Vec<RawDocumentBuf>,
) -> Result<usize> {
    let collection = service.collection();
    let Some(field) = spacejobs_core::store::public_id_field(collection) else {
        return Ok(0);
    };
    let id_of = |doc: &RawDocumentBuf| doc.get_str(field).ok().map(str::to_string);
    let ids: Vec<String> = docs.iter().filter_map(id_of).collect();
    let mut stored = std::collections::HashSet::new();
    let deadline = spacejobs_core::Deadline::after(std::time::Duration::from_secs(600));
    for chunk in ids.chunks(1000) {
        let filter =
            spacejobs_query::plan::Filter::all([spacejobs_query::plan::Condition::one_of(
                field,
                chunk.iter().map(String::as_str),
            )]);
        for doc in store.find(collection, &filter, &deadline).await? {
            if let Ok(id) = doc.get_str(field) {
                stored.insert(id.to_string());
            }
        }
    }
    let before = docs.len();
    docs.retain(|doc| id_of(doc).is_none_or(|id| !stored.contains(&id)));
    Ok(before - docs.len())
}

#[cfg(test)]
mod tests {
    use super::*;
    use spacejobs_engine::MemoryStore;

    fn error_of(line: &str) -> String {
        parse_line(Service::Inventory, line, 7)
            .expect_err("a bad line")
            .to_string()
    }

    #[test]
    fn bad_documents_name_the_line_and_field() {
        let cases = [
            (
                r#"{"job_task_id": "job-task-0123456789ab"}"#,
                "field 'domain_id'",
            ),
            (
                r#"{"job_task_id": 5, "domain_id": "d"}"#,
                "field 'job_task_id'",
            ),
            (
                r#"{"job_task_id": "t", "domain_id": "d", "status": "DONE"}"#,
                "field 'status'",
            ),
            (
                r#"{"job_task_id": "t", "domain_id": "d", "created_count": "many"}"#,
                "field 'created_count'",
            ),
            (
                r#"{"job_task_id": "t", "domain_id": "d", "created_at": "yesterday"}"#,
                "field 'created_at'",
            ),
            (
                r#"{"job_task_id": "t", "domain_id": "d", "errors": ["boom"]}"#,
                "field 'errors'",
            ),
            (r#"[1, 2]"#, "expected a JSON object"),
            (r#"{"job_task_id": "t", "#, "invalid JSON"),
        ];
        for (line, words) in cases {
            let message = error_of(line);
            assert!(message.starts_with("line 7:"), "{message}");
            assert!(
                message.contains(words),
                "{line}: '{message}' lacks '{words}'"
            );
        }
    }

    #[test]
    fn bytes_written_while_reading_equal_the_checked_document() {
        let lines = [
            // Read as bytes straight away.
            r#"{"job_task_id": "t1", "domain_id": "d", "status": "FAILURE", "created_count": 3, "created_at": {"$date": "2022-06-17T08:00:00.680Z"}, "errors": [{"error_code": "E"}], "extra": {"a": [1]}}"#,
            // Each needs parse_line: an ISO date string, a 64-bit count, an own _id.
            r#"{"job_task_id": "t2", "domain_id": "d", "created_at": "2022-06-17T08:00:00Z"}"#,
            r#"{"job_task_id": "t3", "domain_id": "d", "created_count": {"$numberLong": "5"}}"#,
            r#"{"_id": {"$oid": "0123456789abcdef01234567"}, "job_task_id": "t4", "domain_id": "d"}"#,
        ];
        for (i, line) in lines.iter().enumerate() {
            let raw = parse_line_raw(Service::Inventory, line, i + 1).expect("valid");
            let mut from_bytes = Document::try_from(raw).expect("well-formed");
            let mut checked = parse_line(Service::Inventory, line, i + 1).expect("valid");
            assert_eq!(from_bytes.keys().next().map(String::as_str), Some("_id"));
            if i < 3 {
                from_bytes.remove("_id");
                checked.remove("_id");
            }
            assert_eq!(from_bytes, checked, "{line}");
        }
        let bad = parse_line_raw(
            Service::Inventory,
            r#"{"job_task_id": "t", "domain_id": ""}"#,
            9,
        );
        assert!(bad
            .expect_err("empty domain")
            .to_string()
            .contains("line 9: field 'domain_id'"));
    }

    #[test]
    fn dates_may_be_iso_strings_or_extended_json() {
        let doc = parse_line(
            Service::SpotAutomation,
            r#"{"job_id": "job-0123456789ab", "domain_id": "d", "created_at": "2022-06-17T08:00:00.680Z", "updated_at": {"$date": "2022-06-17T08:00:00.680Z"}, "total_tasks": 2}"#,
            1,
        )
        .expect("valid");
        assert_eq!(doc.get("created_at"), doc.get("updated_at"));
        assert!(matches!(doc.get("created_at"), Some(Bson::DateTime(_))));
    }

    #[tokio::test]
    async fn a_bad_line_imports_nothing() {
        let dir = std::env::temp_dir().join(format!("spacejobs-import-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let file = dir.join("tasks.jsonl");
        std::fs::write(
            &file,
            "{\"job_task_id\": \"job-task-000000000001\", \"domain_id\": \"d\"}\n\n{\"job_task_id\": \"job-task-000000000002\", \"domain_id\": \"d\", \"status\": \"DONE\"}\n",
        )
        .expect("write");
        let store = MemoryStore::new();
        let err = import_file(Service::Inventory, &store, &file)
            .await
            .expect_err("line 3 is bad");
        assert!(err.to_string().contains("line 3: field 'status'"), "{err}");
        let plan = spacejobs_query::compile::list(&Default::default(), &[], chrono::Utc::now())
            .expect("plan");
        assert_eq!(
            store
                .list("job_task", &plan, &Default::default())
                .await
                .expect("list")
                .total_count,
            0,
            "nothing half-imported"
        );
        let _ = std::fs::remove_dir_all(&dir);
    }
}
