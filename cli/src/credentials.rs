//! Credentials before the first call: the profile asked for exists, and the SDK's provider chain
//! yields credentials. What a person can act on (no credentials, an unknown profile, an SSO
//! session that ended) is one sentence with a hint; anything else one line with its root cause,
//! never the SDK's error dump.

use std::borrow::Cow;
use std::error::Error;
use std::sync::Mutex;

use anyhow::{Result, anyhow};
use aws_config::SdkConfig;
use aws_credential_types::Credentials;
use aws_credential_types::provider::error::CredentialsError;
use aws_credential_types::provider::{ProvideCredentials, SharedCredentialsProvider, future};
use aws_runtime::env_config::file::EnvConfigFiles;
use aws_types::os_shim_internal::{Env, Fs};
use noderole::types::{AwsError, ErrorKind};

/// The profile a person named, with `--profile` or `AWS_PROFILE`, as the hints repeat it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Named(pub Option<String>);

impl Named {
    fn flag(&self) -> String {
        self.0.as_ref().map(|p| format!(" --profile {p}")).unwrap_or_default()
    }

    fn of(&self) -> String {
        self.0
            .as_ref()
            .map(|p| format!(" of profile `{p}`"))
            .unwrap_or_default()
    }
}

/// Fails when the profile named by `--profile` (or `AWS_PROFILE`) is defined in neither AWS
/// file. The files are read with aws-config's own loader, so "defined" means what it means to
/// the SDK; without this check an unknown profile only shows as "no credentials".
pub async fn check_profile(flag: Option<&str>) -> Result<Named> {
    let env = Env::real();
    let chosen = flag.map(|p| Cow::Owned(p.to_owned()));
    let set = aws_config::profile::load(&Fs::real(), &env, &EnvConfigFiles::default(), chosen)
        .await
        .map_err(|e| {
            anyhow!(
                "the AWS configuration files could not be read: {}; fix the file it names, or point AWS_CONFIG_FILE and AWS_SHARED_CREDENTIALS_FILE at others",
                root_cause(&e)
            )
        })?;
    let name = set.selected_profile().to_owned();
    let by_env = flag.is_none() && env.get("AWS_PROFILE").is_ok_and(|p| !p.is_empty());
    // `default` may be absent: environment variables or an instance role stand in for it
    if (flag.is_none() && !by_env) || name == "default" {
        return Ok(Named(flag.map(str::to_owned)));
    }
    if set.get_profile(&name).is_some() {
        return Ok(Named(Some(name)));
    }
    let mut defined: Vec<&str> = set.profiles().collect();
    defined.sort_unstable();
    let files = format!(
        "{} or {}",
        file(&env, "AWS_CONFIG_FILE", "config"),
        file(&env, "AWS_SHARED_CREDENTIALS_FILE", "credentials")
    );
    let source = if by_env { "AWS_PROFILE" } else { "--profile" };
    let hint = if defined.is_empty() {
        format!(
            "no profile is defined there: create it with `aws configure sso --profile {name}` or `aws configure --profile {name}`"
        )
    } else {
        format!(
            "pick one of {} with --profile (`aws configure list-profiles` lists them)",
            defined.join(", ")
        )
    };
    Err(anyhow!(
        "profile `{name}` (from {source}) is not defined in {files}; {hint}"
    ))
}

/// The path a file is read from, as a person would type it.
fn file(env: &Env, variable: &str, name: &str) -> String {
    env.get(variable).unwrap_or_else(|_| format!("~/.aws/{name}"))
}

/// `sdk` with credentials resolved once now, so a missing or expired sign-in is reported before
/// any request, as one sentence. The credentials resolved here serve the first request; later
/// ones (renewals) ask the SDK's chain again.
pub async fn resolve(sdk: SdkConfig, named: &Named) -> Result<SdkConfig> {
    let Some(chain) = sdk.credentials_provider() else {
        return Err(anyhow!(explain(&CredentialsError::not_loaded_no_source(), named)));
    };
    let credentials = chain
        .provide_credentials()
        .await
        .map_err(|e| anyhow!(explain(&e, named)))?;
    let resolved = Resolved {
        first: Mutex::new(Some(credentials)),
        chain,
    };
    Ok(sdk
        .to_builder()
        .credentials_provider(SharedCredentialsProvider::new(resolved))
        .build())
}

/// The sentence for a credential chain that yielded nothing.
pub fn explain(e: &CredentialsError, named: &Named) -> String {
    let (flag, of) = (named.flag(), named.of());
    if sso_session_ended(e) {
        return format!(
            "the AWS SSO session{of} has expired or was never started; sign in with `aws sso login{flag}` and run the command again"
        );
    }
    match e {
        CredentialsError::CredentialsNotLoaded(_) => match &named.0 {
            Some(profile) => format!(
                "profile `{profile}` provides no AWS credentials; give it keys, an SSO session, a role or a credential_process (`aws configure{flag}`), or pick another profile with --profile"
            ),
            None => "no AWS credentials found (no environment variables, no profile, no SSO session, no instance role); sign in with `aws sso login` or `aws configure`, or pick a profile with --profile".to_owned(),
        },
        CredentialsError::ProviderTimedOut(t) => format!(
            "the AWS credentials{of} did not arrive within {} seconds; check the network (or the credential_process), then run the command again",
            t.timeout_duration().as_secs()
        ),
        _ => format!(
            "the AWS credentials{of} could not be loaded: {}; check the profile in ~/.aws/config, or pick another with --profile",
            root_cause(e)
        ),
    }
}

/// The sentence for a caller whose credentials STS refused or could not be asked about.
pub fn identity_failed(e: &AwsError, named: &Named) -> String {
    let of = named.of();
    match (e.kind, e.code.as_deref()) {
        (ErrorKind::Transient, None) => format!(
            "AWS STS could not be reached: {}; check the network, HTTPS_PROXY and AWS_ENDPOINT_URL",
            last_part(&e.message)
        ),
        (_, Some(code)) if code.contains("Expired") => format!(
            "the AWS credentials{of} have expired ({code}); sign in again (`aws sso login{}`, or new keys) and run the command again",
            named.flag()
        ),
        (_, code) => format!(
            "the AWS credentials{of} were refused by STS ({}: {}); sign in again, or pick another profile with --profile",
            code.unwrap_or("error"),
            last_part(&e.message)
        ),
    }
}

/// Whether the chain failed because the SSO sign-in is over (or never happened): aws-config's
/// token provider says "the SSO token has expired and cannot be refreshed" or "failed to load
/// the cached SSO token"; a cached token SSO no longer accepts comes back from
/// `GetRoleCredentials` as `UnauthorizedException`. These types are private to aws-config, so
/// their messages are what can be recognised.
fn sso_session_ended(e: &CredentialsError) -> bool {
    sources(e).any(|e| {
        let text = e.to_string();
        text.contains("SSO token has expired")
            || text.contains("failed to load the cached SSO token")
            || text.contains(".aws/sso/cache/")
            || text.starts_with("UnauthorizedException")
    })
}

fn sources<'a>(e: &'a (dyn Error + 'static)) -> impl Iterator<Item = &'a (dyn Error + 'static)> {
    std::iter::successors(Some(e), |e: &&'a (dyn Error + 'static)| (*e).source())
}

/// The innermost error's message, on one line.
fn root_cause(e: &(dyn Error + 'static)) -> String {
    let root = sources(e).last().unwrap_or(e);
    root.to_string().split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The last `: `-separated part of an error chain: its root cause.
fn last_part(chain: &str) -> &str {
    chain.rsplit(": ").next().unwrap_or(chain).trim()
}

/// Credentials resolved up front, handed out once, then the chain: a credential_process or an
/// SSO call runs once per run, not once for the check and again for the first request.
#[derive(Debug)]
struct Resolved {
    first: Mutex<Option<Credentials>>,
    chain: SharedCredentialsProvider,
}

impl ProvideCredentials for Resolved {
    fn provide_credentials<'a>(&'a self) -> future::ProvideCredentials<'a>
    where
        Self: 'a,
    {
        match self.first.lock().ok().and_then(|mut first| first.take()) {
            Some(credentials) => future::ProvideCredentials::ready(Ok(credentials)),
            None => self.chain.provide_credentials(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn named(profile: &str) -> Named {
        Named(Some(profile.to_owned()))
    }

    #[test]
    fn no_credentials_is_one_sentence_with_a_hint() {
        let text = explain(&CredentialsError::not_loaded("no providers in chain"), &Named(None));
        assert!(text.starts_with("no AWS credentials found"), "{text}");
        assert!(text.contains("aws sso login"), "{text}");
        assert!(!text.contains('\n'), "{text}");
    }

    #[test]
    fn an_expired_sso_token_asks_for_a_sign_in_to_that_profile() {
        // as aws-config nests it: the profile provider, the SSO provider, the token provider
        let expired = CredentialsError::provider_error(CredentialsError::provider_error(
            "the SSO token has expired and cannot be refreshed",
        ));
        let text = explain(&expired, &named("dev"));
        assert!(text.contains("SSO session of profile `dev` has expired"), "{text}");
        assert!(text.contains("aws sso login --profile dev"), "{text}");
    }

    #[test]
    fn other_failures_name_their_root_cause_on_one_line() {
        let e = CredentialsError::provider_error(CredentialsError::invalid_configuration(
            "credential_process exited\nwith status 1",
        ));
        let text = explain(&e, &named("ops"));
        assert!(text.contains("credential_process exited with status 1"), "{text}");
        assert!(!text.contains('\n'), "{text}");
    }

    #[test]
    fn sts_answers_become_sentences() {
        let unreachable = AwsError {
            operation: "sts:GetCallerIdentity",
            kind: ErrorKind::Transient,
            code: None,
            message: "dispatch failure: io error: tcp connect error: Connection refused (os error 111)".to_owned(),
        };
        assert_eq!(
            identity_failed(&unreachable, &Named(None)),
            "AWS STS could not be reached: Connection refused (os error 111); check the network, HTTPS_PROXY and AWS_ENDPOINT_URL"
        );
        let expired = AwsError {
            kind: ErrorKind::Rejected,
            code: Some("ExpiredToken".to_owned()),
            message: "The security token included in the request is expired".to_owned(),
            ..unreachable
        };
        assert!(identity_failed(&expired, &named("dev")).contains("have expired (ExpiredToken)"));
    }
}
