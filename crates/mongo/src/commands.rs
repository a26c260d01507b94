//! The commands a [`crate::MongoStore`] sends for a plan, as the documents the server
//! receives: what `list` and `stat` run, and what `explain` shows and asks the server to
//! explain. The store builds its calls from the same values, so the two cannot drift apart.

use crate::error::storage_error;
use crate::filter::filter;
use crate::pipeline;
use bson::{doc, Bson, Document};
use serde_json::{json, Value};
use spacejobs_core::Deadline;
use spacejobs_query::{ListPlan, Plan};

/// The parts of the `find` of a list page.
#[derive(Debug, Clone, PartialEq)]
pub struct Find {
    /// The query filter.
    pub filter: Document,
    /// The order, with the `_id` (insertion order) tiebreak.
    pub sort: Document,
    /// Documents skipped.
    pub skip: u64,
    /// Documents returned at most.
    pub limit: Option<i64>,
    /// The inclusion projection, when not whole documents.
    pub projection: Option<Document>,
}

impl Find {
    /// The `find` of `plan`'s page (a plan without `unwind`).
    pub fn of(plan: &ListPlan) -> Self {
        Find {
            filter: filter(&plan.filter),
            sort: pipeline::sort(&plan.sort, &["_id"]),
            skip: plan.slice.skip,
            limit: plan
                .slice
                .limit
                .map(|l| i64::try_from(l).unwrap_or(i64::MAX)),
            projection: plan.projection.as_deref().map(pipeline::projection),
        }
    }

    /// The `find` command document on `collection`.
    pub fn command(&self, collection: &str) -> Document {
        let mut command = doc! {
            "find": collection,
            "filter": self.filter.clone(),
            "sort": self.sort.clone(),
            "skip": i64::try_from(self.skip).unwrap_or(i64::MAX),
        };
        if let Some(limit) = self.limit {
            command.insert("limit", limit);
        }
        if let Some(projection) = &self.projection {
            command.insert("projection", projection.clone());
        }
        command
    }
}

/// The pipeline the driver's `count_documents` runs for `filter`.
pub fn count_pipeline(filter: Document) -> Vec<Document> {
    vec![
        doc! {"$match": filter},
        doc! {"$group": {"_id": 1, "n": {"$sum": 1}}},
    ]
}

/// An `aggregate` command document.
fn aggregate(collection: &str, pipeline: Vec<Document>) -> Document {
    doc! {"aggregate": collection, "pipeline": pipeline, "cursor": {}}
}

/// The commands answering `plan` on `collection`, in the order they are sent (`maxTimeMS`,
/// the request's remaining time, is added to each when it runs).
pub fn commands(collection: &str, plan: &Plan) -> Vec<Document> {
    match plan {
        Plan::List(plan) if plan.unwind.is_some() => {
            vec![aggregate(collection, pipeline::unwind_list(plan))]
        }
        Plan::List(plan) => {
            let mut commands = vec![aggregate(collection, count_pipeline(filter(&plan.filter)))];
            if !plan.count_only {
                commands.push(Find::of(plan).command(collection));
            }
            commands
        }
        Plan::Stat(plan) => vec![aggregate(collection, pipeline::stat(plan))],
    }
}

/// `{"store": "mongodb", "database", "collection", "commands", "server_explain"}`: the
/// commands of `plan` as relaxed extended JSON (what mongosh takes) and, for each, the
/// server's own `explain` at `queryPlanner` verbosity (or the error it gave).
pub async fn explain(
    database: &mongodb::Database,
    collection: &str,
    plan: &Plan,
    deadline: &Deadline,
) -> spacejobs_core::Result<Value> {
    let commands = commands(collection, plan);
    let mut server = Vec::with_capacity(commands.len());
    for command in &commands {
        deadline.check()?;
        let asked = doc! {"explain": command.clone(), "verbosity": "queryPlanner"};
        let answer = tokio::time::timeout(deadline.remaining(), database.run_command(asked))
            .await
            .map_err(|_| deadline.exceeded())?;
        server.push(match answer {
            Ok(explained) => Bson::Document(explained).into_relaxed_extjson(),
            Err(e) => json!({"error": storage_error(e).to_string()}),
        });
    }
    Ok(json!({
        "store": "mongodb",
        "database": database.name(),
        "collection": collection,
        "commands": commands
            .into_iter()
            .map(|c| Bson::Document(c).into_relaxed_extjson())
            .collect::<Vec<_>>(),
        "server_explain": server,
    }))
}
