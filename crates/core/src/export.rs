//! Documents as JSON Lines for `export`: one document a line, in MongoDB's extended JSON as
//! `import` reads it back to the same BSON: relaxed (ObjectIds `{"$oid": "…"}`, 32-bit
//! integers and doubles as plain numbers), dates as the wire writes them
//! (`{"$date": "2022-06-17T08:00:00.680Z"}`, years 0000-9999), and 64-bit integers as
//! `{"$numberLong": "…"}`, which a plain number would turn into a 32-bit one on the way back.

use crate::error::{Error, Result};
use bson::{Bson, RawDocument};
use serde_json::{json, Map, Value};

/// How many documents an export asks its store for at a time.
pub const CHUNK: usize = 1000;

/// `value` as the extended JSON `import` reads back to it.
fn extended(value: Bson) -> Value {
    match value {
        Bson::Int64(n) => json!({"$numberLong": n.to_string()}),
        Bson::DateTime(at) => match spacejobs_query::time::iso_digits(at.timestamp_millis()) {
            Some(text) => json!({"$date": String::from_utf8_lossy(&text)}),
            None => Bson::DateTime(at).into_relaxed_extjson(),
        },
        Bson::Document(doc) => Value::Object(
            doc.into_iter()
                .map(|(k, v)| (k, extended(v)))
                .collect::<Map<String, Value>>(),
        ),
        Bson::Array(items) => Value::Array(items.into_iter().map(extended).collect()),
        other => other.into_relaxed_extjson(),
    }
}

/// One document as its export line (no line break).
pub fn json_line(raw: &RawDocument) -> Result<String> {
    let doc = bson::Document::try_from(raw)
        .map_err(|e| Error::Internal(format!("stored document unreadable: {e}")))?;
    serde_json::to_string(&extended(Bson::Document(doc)))
        .map_err(|e| Error::Internal(format!("a document as JSON: {e}")))
}

/// An export in progress: the documents of one service its caller may read, chunk by chunk.
pub struct Export<S: ?Sized> {
    service: crate::JobService<S>,
    filter: spacejobs_query::plan::Filter,
    cursor: Option<Bson>,
    done: bool,
}

impl<S: crate::Store + ?Sized> crate::JobService<S> {
    /// An export of this service's documents as `token`'s caller may read them: of `domain`,
    /// or of every domain when `None` and the caller is not bound to one (a caller bound to a
    /// domain reads only its own, and a project-bound one only its projects'). Authenticated
    /// like a `list`.
    pub async fn export(&self, domain: Option<&str>, token: Option<&str>) -> Result<Export<S>> {
        use spacejobs_query::plan::{Condition, Filter};
        let deadline = self.deadline(None);
        let call = crate::auth::CallInfo {
            service: self.service(),
            verb: "list",
            token,
            domain_id: domain.unwrap_or(""),
            project_id: None,
        };
        let mut request = crate::ListRequest::default();
        if let Some(domain) = domain {
            request
                .fields
                .insert("domain_id".into(), domain.to_string());
        }
        if let Some(caller) = self.authenticate(&call, &deadline).await? {
            caller.scope_list(&mut request);
        }
        let options = spacejobs_query::compile::Options::new(self.clock_now());
        let mut all: Vec<Condition> = match &request.query {
            Some(query) => spacejobs_query::compile::conditions(&query.filter, "filter", &options)?,
            None => Vec::new(),
        };
        if let Some(domain) = request.domain_id() {
            all.push(Condition::eq("domain_id", domain));
        }
        Ok(Export {
            service: self.clone(),
            filter: Filter::all(all),
            cursor: None,
            done: false,
        })
    }
}

impl<S: crate::Store + ?Sized> Export<S> {
    /// The next chunk's lines (each ending with a line break), or `None` once all are out.
    /// Each chunk is read within a request's deadline and written on the request pool.
    pub async fn next_lines(&mut self) -> Result<Option<String>> {
        if self.done {
            return Ok(None);
        }
        let deadline = self.service.deadline(None);
        let chunk = self
            .service
            .store()
            .export_chunk(
                self.service.service().collection(),
                &self.filter,
                self.cursor.take(),
                CHUNK,
                &deadline,
            )
            .await?;
        self.done = chunk.cursor.is_none();
        self.cursor = chunk.cursor;
        if chunk.documents.is_empty() {
            return Ok(None);
        }
        let documents = chunk.documents;
        let lines = spacejobs_exec::run_cpu(&deadline, move |_| {
            let mut text = String::new();
            for doc in &documents {
                text.push_str(&json_line(doc)?);
                text.push('\n');
            }
            Ok::<_, Error>(text)
        })
        .await?;
        Ok(Some(lines))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bson::doc;

    #[test]
    fn lines_keep_the_types_import_reads_back() {
        let at = bson::DateTime::from_millis(1_655_452_800_680);
        let oid = bson::oid::ObjectId::parse_str("0123456789abcdef01234567").expect("oid");
        let doc = doc! {"_id": oid, "n": 5, "big": 7_i64, "f": 1.0, "at": at, "s": "x\"y",
        "nested": {"k": [1_i64, {"z": null}]}};
        let raw = bson::RawDocumentBuf::try_from(&doc).expect("raw");
        let line = json_line(&raw).expect("line");
        assert_eq!(
            line,
            r#"{"_id":{"$oid":"0123456789abcdef01234567"},"n":5,"big":{"$numberLong":"7"},"f":1.0,"at":{"$date":"2022-06-17T08:00:00.680Z"},"s":"x\"y","nested":{"k":[{"$numberLong":"1"},{"z":null}]}}"#
        );
        let back = bson::Bson::try_from(serde_json::from_str::<Value>(&line).expect("JSON"))
            .expect("extended JSON");
        assert_eq!(back, Bson::Document(doc));
    }
}
