//! `export`: a store's documents of the service as JSON Lines in the SpaceONE layout, what
//! `import` reads back (see `spacejobs_core::export`), to a file or standard output.

use crate::{Error, Result};
use spacejobs_core::{JobService, Service, Store};
use std::io::Write;
use std::path::Path;
use std::sync::Arc;

/// Writes the documents of `service` (of `domain` only, when given) to `path` (`-` for
/// standard output); the number written.
pub async fn export_file(
    service: Service,
    store: Arc<dyn Store>,
    domain: Option<&str>,
    path: &Path,
) -> Result<usize> {
    let mut out: Box<dyn Write> = if path == Path::new("-") {
        Box::new(std::io::stdout().lock())
    } else {
        Box::new(
            std::fs::File::create(path)
                .map_err(|e| Error::Config(format!("{}: {e}", path.display())))?,
        )
    };
    let mut out = std::io::BufWriter::new(&mut out);
    let mut export = JobService::new(service, store).export(domain, None).await?;
    let mut count = 0;
    while let Some(lines) = export.next_lines().await? {
        count += lines.matches('\n').count();
        out.write_all(lines.as_bytes())
            .map_err(|e| Error::Config(format!("{}: {e}", path.display())))?;
    }
    out.flush()
        .map_err(|e| Error::Config(format!("{}: {e}", path.display())))?;
    Ok(count)
}
