//! Multi-document transactions, where the server has them. A replica set or a sharded
//! cluster (told by `hello`: a `setName`, or `msg: "isdbgrid"`) runs a write batch, an
//! insert of up to [`MOST_IN_TRANSACTION`] documents and a job created with its tasks as one
//! transaction: readers never see part of it and a process killed halfway leaves nothing. A
//! transaction that fails with MongoDB's `TransientTransactionError` label (a write conflict,
//! an election) runs again from the start, a commit whose result is unknown is sent again,
//! each a bounded number of times. A standalone server has no transactions: there every
//! document's change is atomic on its own (see [`spacejobs_core::Store::write`]).

use futures_util::future::BoxFuture;
use mongodb::error::{
    Error, Result, TRANSIENT_TRANSACTION_ERROR, UNKNOWN_TRANSACTION_COMMIT_RESULT,
};
use mongodb::{Client, ClientSession, Database};

/// Documents one transaction inserts at most; a larger insert is a series of transactions.
pub const MOST_IN_TRANSACTION: usize = 10_000;

/// Times a transaction runs again after a transient error, and a commit is sent again.
const ATTEMPTS: usize = 8;

/// True when the server behind `database` runs multi-document transactions.
pub(crate) async fn available(database: &Database) -> Result<bool> {
    let hello = database.run_command(bson::doc! {"hello": 1}).await?;
    Ok(hello.contains_key("setName") || hello.get_str("msg").is_ok_and(|m| m == "isdbgrid"))
}

/// What a transaction's body decided.
pub(crate) enum Outcome<T> {
    /// Commit, then answer this.
    Commit(T),
    /// Abort (nothing is written), then answer this.
    Abort(T),
}

/// The work of a transaction: run again from the start after a transient error.
pub(crate) trait Work: Sync {
    /// What it answers.
    type Answer: Send;
    /// Its steps, each given `session`.
    fn run<'s>(
        &'s self,
        session: &'s mut ClientSession,
    ) -> BoxFuture<'s, Result<Outcome<Self::Answer>>>;
}

/// Runs `work` in a transaction on a session of `client`, committing or aborting as it
/// says, with the retries of the module's documentation.
pub(crate) async fn run<W: Work>(client: &Client, work: &W) -> Result<W::Answer> {
    let mut attempt = 0;
    loop {
        attempt += 1;
        let mut session = client.start_session().await?;
        session.start_transaction().await?;
        let outcome = work.run(&mut session).await;
        match outcome {
            Ok(Outcome::Commit(answer)) => match commit(&mut session).await {
                Ok(()) => return Ok(answer),
                Err(e) if transient(&e) && attempt < ATTEMPTS => continue,
                Err(e) => return Err(e),
            },
            Ok(Outcome::Abort(answer)) => {
                let _ = session.abort_transaction().await;
                return Ok(answer);
            }
            Err(e) => {
                let _ = session.abort_transaction().await;
                if transient(&e) && attempt < ATTEMPTS {
                    continue;
                }
                return Err(e);
            }
        }
    }
}

fn transient(e: &Error) -> bool {
    e.contains_label(TRANSIENT_TRANSACTION_ERROR)
}

/// Commits, sending the commit again while its result is unknown.
async fn commit(session: &mut ClientSession) -> Result<()> {
    let mut attempt = 0;
    loop {
        attempt += 1;
        match session.commit_transaction().await {
            Err(e) if e.contains_label(UNKNOWN_TRANSACTION_COMMIT_RESULT) && attempt < ATTEMPTS => {
                continue
            }
            other => return other,
        }
    }
}
