//! The two commands, from parsed arguments to text and an exit code.

use std::io::IsTerminal;

use anyhow::{Result, anyhow, bail};

use crate::args::{AuditArgs, ExplainArgs, Format};
use crate::connect::{Connected, connect, flag_names};
use crate::exit::{self, Exit};
use crate::output::write;
use crate::progress::Bar;
use crate::render;
use crate::render::RunInfo;

/// `audit`: every node role of the audited accounts, in the chosen format.
pub async fn audit(args: AuditArgs) -> Result<Exit> {
    let Connected {
        config,
        audited,
        findings_scope,
        identity,
    } = connect(&args.scope).await?;
    let progress = Bar::new();
    let report = audited.audit(&config, &progress).await;
    progress.finish();
    if report.outcome == noderole::Outcome::Failed {
        bail!(
            "the audit could not run: {}",
            report.reason.as_deref().unwrap_or("unknown reason")
        );
    }
    // the one reading of the clock: every format says when the audit ran
    let run = RunInfo::new(&config, &identity, &report, chrono::Utc::now());
    let colour = args.output.is_none() && std::io::stdout().is_terminal();
    let text = match args.format {
        Format::Table => render::table(&report, colour, None),
        Format::Json => render::json(&report, &run)?,
        Format::Markdown => render::markdown(&report, &run),
        Format::Html => render::html(&report, &run)?,
        Format::Asff => render::asff(&report, &findings_scope, &run)?,
    };
    write(args.output.as_deref(), &text)?;
    for line in exit::audit_problems(&report) {
        eprintln!("{line}");
    }
    Ok(exit::of_audit(&report, args.exit_code))
}

/// `explain`: one role, why it is or is not a node role, and the verdict on each policy.
pub async fn explain(args: ExplainArgs) -> Result<Exit> {
    let Connected { config, audited, .. } = connect(&args.scope).await?;
    let explanation = audited
        .explain(&config, args.account.as_deref(), &args.role)
        .await
        .map_err(|e| anyhow!(flag_names(&e)))?;
    let text = match args.format {
        Format::Json => serde_json::to_string_pretty(&explanation)? + "\n",
        _ => render::explanation(&explanation),
    };
    write(None, &text)?;
    // regions or clusters not searched: "backs nothing" may only mean "not seen"
    for warning in &explanation.report.warnings {
        eprintln!("warning: {warning}");
    }
    Ok(exit::of_explanation(&explanation))
}
