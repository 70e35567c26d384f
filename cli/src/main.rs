//! `eks-node-role-guard`: see what enforce would do, from a laptop, before deploying anything.
//! A thin edge over `noderole` like the function: arguments and output formats here, every
//! verdict from the same core, over IAM clients that cannot write.

mod regions;
mod render;

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, Result, anyhow, bail};
use aws_config::Region;
use clap::{Args, Parser, Subcommand, ValueEnum};
use indicatif::{ProgressBar, ProgressStyle};
use noderole::Config;
use noderole::accounts::Guarded;
use noderole::audit::{Audited, Progress};
use noderole::aws::{EksClients, IamReader, OrgMembers, ReadOnlyMembers};
use noderole::findings::NoFindings;

#[derive(Parser)]
#[command(
    name = "eks-node-role-guard",
    version,
    about = "Read-only audit of EKS node IAM roles"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Check every node role: what enforce would remove, what it would keep, and why.
    Audit(AuditArgs),
    /// Why one role is or is not treated as a node role, and the verdict on each policy.
    Explain(ExplainArgs),
}

#[derive(Args)]
struct Scope {
    /// Regions searched for clusters, comma-separated (default: the profile's region).
    #[arg(long, value_delimiter = ',', conflicts_with = "all_regions")]
    regions: Vec<String>,
    /// Every region of the partition where EKS runs (regions not enabled are warnings).
    #[arg(long)]
    all_regions: bool,
    /// AWS-managed policies a node role may keep (as ALLOWED_POLICIES; default: the allowlist).
    #[arg(long, value_delimiter = ',')]
    allowed_policies: Vec<String>,
    /// Role names or ARNs never touched (as EXEMPT_ROLES).
    #[arg(long, value_delimiter = ',')]
    exempt_roles: Vec<String>,
    /// `keep`, `keep-if-needed` or `deny` for AmazonEKS_CNI_Policy (as CNI_POLICY).
    #[arg(long, default_value = "keep-if-needed")]
    cni_policy: String,
    /// `keep`, `keep-if-needed` or `deny` for the other known add-ons' policies (as ADDON_POLICIES).
    #[arg(long, default_value = "keep-if-needed")]
    addon_policies: String,
    /// Named profile from the AWS config files (SSO and credential_process profiles included).
    #[arg(long)]
    profile: Option<String>,
    /// A role to assume in each member account: audits many accounts the same way.
    #[arg(long, requires = "accounts")]
    member_role: Option<String>,
    /// With --member-role: `organization` (every ACTIVE account) or account ids, comma-separated.
    #[arg(long, requires = "member_role")]
    accounts: Option<String>,
}

#[derive(Args)]
struct AuditArgs {
    #[command(flatten)]
    scope: Scope,
    #[arg(long, value_enum, default_value_t = Format::Table)]
    format: Format,
    /// Write the report here instead of standard output.
    #[arg(long)]
    output: Option<PathBuf>,
    /// Exit 1 when a violation is found, 0 when clean. Always 2 on an error, a node role that
    /// could not be checked or an account that could not be entered.
    #[arg(long)]
    exit_code: bool,
}

#[derive(Args)]
struct ExplainArgs {
    /// The role's name.
    role: String,
    /// The account the role is in, with --member-role (default: the caller's).
    #[arg(long)]
    account: Option<String>,
    #[command(flatten)]
    scope: Scope,
    /// `table` for people, `json` for the explanation as data.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    format: Format,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Format {
    Table,
    Json,
    Markdown,
    Html,
    Asff,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        // Security Hub's model types nest deeply; the function's threads have the same stack.
        .thread_stack_size(8 * 1024 * 1024)
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => return fail(anyhow!(e)),
    };
    let outcome = runtime.block_on(async {
        match cli.command {
            Command::Audit(args) => audit(args).await,
            Command::Explain(args) => explain(args).await,
        }
    });
    match outcome {
        Ok(code) => code,
        Err(e) => fail(e),
    }
}

fn fail(e: anyhow::Error) -> ExitCode {
    eprintln!("error: {e:#}");
    ExitCode::from(2)
}

async fn audit(args: AuditArgs) -> Result<ExitCode> {
    let Connected {
        config,
        audited,
        findings_scope,
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
    let colour = args.output.is_none() && std::io::stdout().is_terminal();
    let text = match args.format {
        Format::Table => render::table(&report, colour),
        Format::Json => render::json(&report)?,
        Format::Markdown => render::markdown(&report),
        Format::Html => render::html(&report)?,
        Format::Asff => render::asff(&report, &findings_scope)?,
    };
    write(args.output.as_deref(), &text)?;
    for warning in &report.warnings {
        eprintln!("warning: {warning}");
    }
    for line in report.accounts.iter().filter(|a| a.reason.is_some()) {
        eprintln!(
            "error: account {} not audited: {}",
            line.account,
            line.reason.as_deref().unwrap_or_default()
        );
    }
    for role in report.roles.iter().filter(|r| r.outcome == noderole::Outcome::Failed) {
        eprintln!(
            "error: node role {} in account {} not checked: {}",
            role.role.as_ref().map_or("?", |r| r.name.as_str()),
            role.account.as_deref().unwrap_or("?"),
            role.reason.as_deref().unwrap_or("unknown reason")
        );
    }
    // An incomplete audit is never "clean": what was not checked may carry anything.
    if render::unchecked(&report) > 0 {
        return Ok(ExitCode::from(2));
    }
    let violations = report.roles.iter().any(|r| !r.violations.is_empty());
    Ok(if args.exit_code && violations {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

async fn explain(args: ExplainArgs) -> Result<ExitCode> {
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
    Ok(if explanation.report.outcome == noderole::Outcome::Failed {
        ExitCode::from(2)
    } else {
        ExitCode::SUCCESS
    })
}

fn write(path: Option<&std::path::Path>, text: &str) -> Result<()> {
    match path {
        Some(path) => write_whole(path, text).with_context(|| format!("writing {}", path.display())),
        None => {
            let mut out = std::io::stdout().lock();
            out.write_all(text.as_bytes())?;
            Ok(out.flush()?)
        }
    }
}

/// Writes `text` beside `path` and renames it over `path`: an earlier report is replaced whole
/// or not at all.
fn write_whole(path: &std::path::Path, text: &str) -> std::io::Result<()> {
    let mut partial = path.as_os_str().to_owned();
    partial.push(format!(".{}.partial", std::process::id()));
    let partial = PathBuf::from(partial);
    let written = std::fs::File::create(&partial).and_then(|mut file| {
        file.write_all(text.as_bytes())?;
        file.sync_all()
    });
    match written.and_then(|()| std::fs::rename(&partial, path)) {
        Ok(()) => Ok(()),
        Err(e) => {
            let _ = std::fs::remove_file(&partial);
            Err(e)
        }
    }
}

type Audit = Audited<IamReader, EksClients, ReadOnlyMembers>;

/// What every command starts from.
struct Connected {
    config: Config,
    audited: Audit,
    /// Region and partition of the ASFF findings: the profile's region, where
    /// `aws securityhub batch-import-findings` imports them.
    findings_scope: render::FindingsScope,
}

/// Credentials, identity, configuration and the audited accounts: every error here is one a
/// person can act on.
async fn connect(scope: &Scope) -> Result<Connected> {
    let mut loader = noderole::aws::sdk_config_loader();
    if let Some(profile) = &scope.profile {
        loader = loader.profile_name(profile);
    }
    let sdk = loader.load().await;
    let regions = match (scope.all_regions, scope.regions.is_empty(), sdk.region()) {
        (true, _, _) => regions::of_partition(sdk.region().map(Region::as_ref)),
        // trimmed, blanks dropped and each region once by the configuration, as SCAN_REGIONS is
        (false, false, _) => scope.regions.clone(),
        (false, true, Some(region)) => vec![region.to_string()],
        (false, true, None) => bail!(
            "no region: pass --regions (or --all-regions), or set a region in the profile (AWS_REGION, region = ... in ~/.aws/config)"
        ),
    };
    let mut vars: Vec<(&str, String)> = vec![
        ("SCAN_REGIONS", regions.join(",")),
        ("CNI_POLICY", scope.cni_policy.clone()),
        ("ADDON_POLICIES", scope.addon_policies.clone()),
        ("ALLOWED_POLICIES", scope.allowed_policies.join(",")),
        ("EXEMPT_ROLES", scope.exempt_roles.join(",")),
        ("INDEX_TTL_SECONDS", "900".to_owned()),
    ];
    if let (Some(role), Some(accounts)) = (&scope.member_role, &scope.accounts) {
        vars.push(("MEMBER_ROLE_NAME", role.clone()));
        vars.push(("ACCOUNTS", accounts.clone()));
    }
    let config = Config::for_audit(|name| vars.iter().find(|(n, _)| *n == name).map(|(_, v)| v.clone()))
        .map_err(|e| anyhow!(flag_names(&e.to_string())))?;
    regions::check(&config.scan_regions)?;
    // Clients need a region even when every cluster region is explicit.
    let sdk = match (sdk.region(), config.scan_regions.first()) {
        (None, Some(first)) => sdk.to_builder().region(Region::new(first.clone())).build(),
        _ => sdk,
    };
    let identity = noderole::aws::caller_identity(&sdk).await.map_err(|e| {
        anyhow!(
            "no usable AWS credentials ({e}); sign in (aws sso login, aws configure) or pick a profile with --profile"
        )
    })?;

    // No role is exempt as "the caller's own": run from a node with its instance profile, the
    // caller is the very node role the audit must judge. The function's exemption of its own
    // execution role concerns a role with a Lambda trust policy, never a node role.
    let home = Guarded::home(
        &identity.account,
        None,
        IamReader::new(&sdk),
        EksClients::new(&sdk, &config.scan_regions),
        NoFindings,
        Duration::from_secs(900),
    );
    let members = config.central.clone().map(|central| {
        noderole::accounts::Accounts::new(
            ReadOnlyMembers(OrgMembers::new(&sdk, &config.scan_regions)),
            central,
            &identity.partition,
            &identity.account,
            Duration::from_secs(900),
        )
    });
    let findings_scope = render::FindingsScope {
        region: sdk.region().map(Region::to_string).unwrap_or_default(),
        partition: identity.partition,
    };
    Ok(Connected {
        config,
        audited: Audited { home, members },
        findings_scope,
    })
}

/// Configuration errors name the function's variables; on the command line they are flags.
fn flag_names(message: &str) -> String {
    [
        ("SCAN_REGIONS", "--regions"),
        ("ALLOWED_POLICIES", "--allowed-policies"),
        ("EXEMPT_ROLES", "--exempt-roles"),
        ("CNI_POLICY", "--cni-policy"),
        ("ADDON_POLICIES", "--addon-policies"),
        ("MEMBER_ROLE_NAME", "--member-role"),
        ("ACCOUNTS", "--accounts"),
    ]
    .iter()
    .fold(message.to_owned(), |text, (variable, flag)| {
        text.replace(variable, flag)
    })
}

/// A progress bar on standard error when it is a terminal; nothing otherwise.
struct Bar(Option<ProgressBar>);

impl Bar {
    fn new() -> Self {
        if !std::io::stderr().is_terminal() {
            return Bar(None);
        }
        let bar = ProgressBar::new_spinner();
        bar.enable_steady_tick(Duration::from_millis(120));
        Bar(Some(bar))
    }

    fn finish(&self) {
        if let Some(bar) = &self.0 {
            bar.finish_and_clear();
        }
    }
}

impl Progress for Bar {
    fn discovering(&self, account: &str) {
        if let Some(bar) = &self.0 {
            bar.set_message(format!(
                "account {account}: finding clusters, node groups and access entries"
            ));
        }
    }

    fn found(&self, account: &str, regions: usize, clusters: usize, roles: usize) {
        if let Some(bar) = &self.0 {
            // a spinner has no length to add to until it is given one
            bar.set_length(bar.length().unwrap_or(0) + roles as u64);
            if let Ok(style) = ProgressStyle::with_template("{spinner} {msg} [{bar:30}] {pos}/{len} node roles") {
                bar.set_style(style);
            }
            bar.set_message(format!(
                "account {account}: {regions} region(s), {clusters} cluster(s) with nodes; checking"
            ));
        }
    }

    fn checked(&self, _account: &str, _role: &str) {
        if let Some(bar) = &self.0 {
            bar.inc(1);
        }
    }
}
