//! eks-node-role-guard's Lambda: wiring only. Everything that decides and acts is in `noderole`.

use lambda_runtime::{Diagnostic, Error, LambdaEvent, service_fn};
use noderole::invocation::deadline::Budget;
use noderole::telling::emf;
use noderole::{Config, Remediator};
use serde_json::Value;

/// Worker-thread stacks: the Security Hub SDK's finding (de)serializers recurse deeply.
const THREAD_STACK: usize = 8 * 1024 * 1024;

fn main() -> Result<(), Error> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_stack_size(THREAD_STACK)
        .build()?
        .block_on(run())
}

async fn run() -> Result<(), Error> {
    lambda_runtime::tracing::init_default_subscriber();

    let config = Config::from_env().inspect_err(|e| tracing::error!(error = %e, "invalid configuration"))?;
    match &config.central {
        None => tracing::info!(mode = %config.mode, regions = ?config.scan_regions, "starting"),
        Some(central) => tracing::info!(
            mode = %config.mode,
            regions = ?config.scan_regions,
            member_role = %central.member_role,
            accounts = %central.accounts,
            "starting in organization mode"
        ),
    }
    let sdk = noderole::aws::load_sdk_config().await;
    let (identity, adapters) = noderole::aws::adapters(&sdk, &config)
        .await
        .inspect_err(|e| tracing::error!(error = %e, "cannot determine the function's own identity"))?;
    let remediator = Remediator::new(config, identity, adapters).with_metrics(emf::to_stdout);
    let remediator = &remediator;

    let timeout = remediator.config().function_timeout;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| async move {
        let budget = Budget::from_deadline_ms(event.context.deadline, timeout);
        remediator
            .handle_within(&event.payload, budget)
            .await
            .map_err(|e| Diagnostic {
                error_type: e.error_type().to_owned(),
                error_message: e.to_string(),
            })
    }))
    .await
}
