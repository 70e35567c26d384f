//! Test harness: a moto server per test binary, SDK clients pointed at it, an account seeder,
//! event builders from `events/`, and a notification inbox (an SQS queue on the topic).

use std::collections::HashMap;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, bail};
use aws_config::{Region, SdkConfig};
use aws_sdk_iam::config::Credentials;
use noderole::Remediator;

/// The function's remediator over the AWS adapters.
type AwsRemediator = Remediator<noderole::aws::Aws>;
use noderole::{Config, Report};
use serde_json::{Value, json};

pub use aws_proxy::{Options as ProxyOptions, Proxy, Seen};

pub const ACCOUNT: &str = "123456789012";
pub const REGION: &str = "us-east-1";
pub const SECOND_REGION: &str = "us-west-2";
pub const EC2_TRUST: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#;
pub const ACCOUNT_TRUST: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::123456789012:root"},"Action":"sts:AssumeRole"}]}"#;
pub const EKS_TRUST: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"eks.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#;

/// The repository root.
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// A moto server on a free loopback port; it exits with the test process.
pub struct Moto {
    pub endpoint: String,
    _child: Child,
}

impl Moto {
    /// The server shared by the tests of this binary (started on first use).
    pub fn shared() -> &'static Moto {
        static MOTO: OnceLock<Moto> = OnceLock::new();
        MOTO.get_or_init(|| Moto::start().expect("start moto server"))
    }

    pub fn start() -> Result<Moto> {
        let python = venv_python()?;
        let port = free_port()?;
        // moto watches its parent: when the test process exits (even killed), moto exits too.
        let launcher = "import os, sys, threading, time\n\
                        parent = os.getppid()\n\
                        def watch():\n    \
                            while os.getppid() == parent:\n        time.sleep(0.3)\n    \
                            os._exit(0)\n\
                        threading.Thread(target=watch, daemon=True).start()\n\
                        from moto.server import main\n\
                        main(sys.argv[1:])\n";
        let child = Command::new(&python)
            .args(["-c", launcher, "-H", "127.0.0.1", "-p", &port.to_string()])
            .env("MOTO_IAM_LOAD_MANAGED_POLICIES", "true")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .with_context(|| format!("spawning {}", python.display()))?;
        wait_for_port(port, "moto")?;
        Ok(Moto {
            endpoint: format!("http://127.0.0.1:{port}"),
            _child: child,
        })
    }

    /// SDK configuration for this server, with the product's retry and timeout settings.
    pub async fn sdk(&self) -> SdkConfig {
        sdk_for(&self.endpoint).await
    }
}

/// SDK configuration for an emulator (or a proxy in front of one) at `endpoint`, with the
/// product's retry and timeout settings.
pub async fn sdk_for(endpoint: &str) -> SdkConfig {
    noderole::aws::sdk_config_loader()
        .endpoint_url(endpoint)
        .region(Region::new(REGION))
        .credentials_provider(Credentials::new("testing", "testing", None, None, "tests"))
        .load()
        .await
}

/// The project's Python (the virtualenv made by `make tools`), or `MOTO_PYTHON`.
pub fn venv_python() -> Result<PathBuf> {
    if let Ok(p) = std::env::var("MOTO_PYTHON") {
        return Ok(PathBuf::from(p));
    }
    let python = repo_root().join(".venv/bin/python");
    if python.exists() {
        Ok(python)
    } else {
        Err(anyhow!(
            "{} is missing: run `make tools` (or `make test`)",
            python.display()
        ))
    }
}

/// Waits up to 30 s for `what` to accept connections on 127.0.0.1:`port`.
fn wait_for_port(port: u16, what: &str) -> Result<()> {
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let deadline = Instant::now() + Duration::from_secs(30);
    while TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_err() {
        if Instant::now() > deadline {
            bail!("{what} did not open port {port} within 30 s");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    Ok(())
}

pub fn free_port() -> Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// A name unique in this test process run.
pub fn unique(prefix: &str) -> String {
    static N: AtomicU32 = AtomicU32::new(0);
    format!(
        "{prefix}-{}-{}",
        std::process::id() % 100_000,
        N.fetch_add(1, Ordering::Relaxed)
    )
}

/// An account id unique in this test process run (for member accounts of the emulator).
pub fn unique_account() -> String {
    static N: AtomicU32 = AtomicU32::new(0);
    format!(
        "{:06}{:06}",
        std::process::id() % 1_000_000,
        N.fetch_add(1, Ordering::Relaxed) + 1
    )
}

pub fn aws_managed(name: &str) -> String {
    format!("arn:aws:iam::aws:policy/{name}")
}

/// Seeds and inspects the emulated account through the real SDK clients.
pub struct Account {
    pub sdk: SdkConfig,
    pub iam: aws_sdk_iam::Client,
    pub sns: aws_sdk_sns::Client,
    pub sqs: aws_sdk_sqs::Client,
}

impl Account {
    pub async fn new(moto: &Moto) -> Account {
        let sdk = moto.sdk().await;
        Account {
            iam: aws_sdk_iam::Client::new(&sdk),
            sns: aws_sdk_sns::Client::new(&sdk),
            sqs: aws_sdk_sqs::Client::new(&sdk),
            sdk,
        }
    }

    /// Another account of the same emulator. moto maps the credentials `AssumeRole` returns for
    /// a role in `account_id` onto that account's backends (the role need not exist).
    pub async fn in_account(moto: &Moto, account_id: &str) -> Account {
        let central = moto.sdk().await;
        let credentials = aws_sdk_sts::Client::new(&central)
            .assume_role()
            .role_arn(format!("arn:aws:iam::{account_id}:role/test-seeder"))
            .role_session_name("seed")
            .send()
            .await
            .expect("AssumeRole into the member account")
            .credentials
            .expect("credentials");
        let sdk = noderole::aws::sdk_config_loader()
            .endpoint_url(&moto.endpoint)
            .region(Region::new(REGION))
            .credentials_provider(Credentials::new(
                credentials.access_key_id,
                credentials.secret_access_key,
                Some(credentials.session_token),
                None,
                "member",
            ))
            .load()
            .await;
        Account {
            iam: aws_sdk_iam::Client::new(&sdk),
            sns: aws_sdk_sns::Client::new(&sdk),
            sqs: aws_sdk_sqs::Client::new(&sdk),
            sdk,
        }
    }

    pub fn eks(&self, region: &str) -> aws_sdk_eks::Client {
        aws_sdk_eks::Client::from_conf(
            aws_sdk_eks::config::Builder::from(&self.sdk)
                .region(Region::new(region.to_owned()))
                .build(),
        )
    }

    /// Creates a role (under `path`) and returns its ARN.
    pub async fn role(&self, name: &str, path: &str, trust: &str, managed: &[&str]) -> Result<String> {
        let out = self
            .iam
            .create_role()
            .role_name(name)
            .path(path)
            .assume_role_policy_document(trust)
            .send()
            .await?;
        for policy in managed {
            self.attach(name, &aws_managed(policy)).await?;
        }
        Ok(out.role.map(|r| r.arn).unwrap_or_default())
    }

    /// A node role with the worker, ECR and CNI policies, plus `extra` AWS-managed policies.
    pub async fn node_role(&self, name: &str, extra: &[&str]) -> Result<String> {
        let mut managed = vec![
            "AmazonEKSWorkerNodePolicy",
            "AmazonEC2ContainerRegistryReadOnly",
            "AmazonEKS_CNI_Policy",
        ];
        managed.extend_from_slice(extra);
        self.role(name, "/eks/nodes/", EC2_TRUST, &managed).await
    }

    pub async fn attach(&self, role: &str, policy_arn: &str) -> Result<()> {
        self.iam
            .attach_role_policy()
            .role_name(role)
            .policy_arn(policy_arn)
            .send()
            .await?;
        Ok(())
    }

    pub async fn put_inline(&self, role: &str, policy: &str, document: &str) -> Result<()> {
        self.iam
            .put_role_policy()
            .role_name(role)
            .policy_name(policy)
            .policy_document(document)
            .send()
            .await?;
        Ok(())
    }

    /// A customer-managed policy under `path`; returns its ARN.
    pub async fn customer_policy(&self, name: &str, path: &str, document: &str) -> Result<String> {
        let out = self
            .iam
            .create_policy()
            .policy_name(name)
            .path(path)
            .policy_document(document)
            .send()
            .await?;
        out.policy.and_then(|p| p.arn).context("policy arn")
    }

    /// Runs an `aws iam ...` command the product printed (restore, undo, migration) as the CLI
    /// would: words split by POSIX shell rules, the same request made through the SDK.
    pub async fn run_iam_command(&self, command: &str) -> Result<()> {
        let words = shell_words::split(command).with_context(|| format!("not shell-quoted: {command}"))?;
        let flag = |name: &str| -> Result<String> {
            let at = words
                .iter()
                .position(|w| w == name)
                .with_context(|| format!("{name} in {command}"))?;
            words
                .get(at + 1)
                .cloned()
                .with_context(|| format!("value of {name} in {command}"))
        };
        match words.iter().take(3).map(String::as_str).collect::<Vec<_>>()[..] {
            ["aws", "iam", "create-role"] => {
                self.iam
                    .create_role()
                    .role_name(flag("--role-name")?)
                    .assume_role_policy_document(flag("--assume-role-policy-document")?)
                    .send()
                    .await?;
            }
            ["aws", "iam", "attach-role-policy"] => self.attach(&flag("--role-name")?, &flag("--policy-arn")?).await?,
            ["aws", "iam", "put-role-policy"] => {
                self.put_inline(
                    &flag("--role-name")?,
                    &flag("--policy-name")?,
                    &flag("--policy-document")?,
                )
                .await?
            }
            _ => bail!("not an IAM command the tests replay: {command}"),
        }
        Ok(())
    }

    /// Attached managed policy ARNs, sorted.
    pub async fn attached(&self, role: &str) -> Result<Vec<String>> {
        let out = self.iam.list_attached_role_policies().role_name(role).send().await?;
        let mut arns: Vec<String> = out
            .attached_policies()
            .iter()
            .filter_map(|p| p.policy_arn.clone())
            .collect();
        arns.sort();
        Ok(arns)
    }

    /// Inline policy names, sorted.
    pub async fn inline(&self, role: &str) -> Result<Vec<String>> {
        let out = self.iam.list_role_policies().role_name(role).send().await?;
        let mut names = out.policy_names().to_vec();
        names.sort();
        Ok(names)
    }

    /// A cluster (with a service role) and managed node groups using `node_role_arn`.
    pub async fn cluster(&self, region: &str, cluster: &str, nodegroups: &[(&str, &str)]) -> Result<()> {
        static CLUSTER_ROLE: tokio::sync::OnceCell<String> = tokio::sync::OnceCell::const_new();
        let cluster_role = CLUSTER_ROLE
            .get_or_try_init(|| async {
                let name = unique("eks-cluster-role");
                self.role(&name, "/", EKS_TRUST, &["AmazonEKSClusterPolicy"]).await
            })
            .await?;
        let eks = self.eks(region);
        eks.create_cluster()
            .name(cluster)
            .role_arn(cluster_role)
            .resources_vpc_config(
                aws_sdk_eks::types::VpcConfigRequest::builder()
                    .subnet_ids("subnet-0a1b2c3d4e5f60001")
                    .subnet_ids("subnet-0a1b2c3d4e5f60002")
                    .build(),
            )
            .send()
            .await?;
        for (nodegroup, role_arn) in nodegroups {
            self.nodegroup(region, cluster, nodegroup, role_arn).await?;
        }
        Ok(())
    }

    pub async fn nodegroup(&self, region: &str, cluster: &str, nodegroup: &str, role_arn: &str) -> Result<()> {
        self.eks(region)
            .create_nodegroup()
            .cluster_name(cluster)
            .nodegroup_name(nodegroup)
            .node_role(role_arn)
            .subnets("subnet-0a1b2c3d4e5f60001")
            .send()
            .await?;
        Ok(())
    }

    /// A topic with an SQS queue subscribed to it (raw delivery off: the body is the SNS envelope).
    pub async fn inbox(&self) -> Result<Inbox> {
        let name = unique("guard");
        let topic_arn = self
            .sns
            .create_topic()
            .name(&name)
            .send()
            .await?
            .topic_arn
            .context("topic arn")?;
        let queue_url = self
            .sqs
            .create_queue()
            .queue_name(&name)
            .send()
            .await?
            .queue_url
            .context("queue url")?;
        let queue_arn = format!("arn:aws:sqs:{REGION}:{ACCOUNT}:{name}");
        self.sns
            .subscribe()
            .topic_arn(&topic_arn)
            .protocol("sqs")
            .endpoint(queue_arn)
            .send()
            .await?;
        Ok(Inbox {
            topic_arn,
            queue_url,
            sqs: self.sqs.clone(),
        })
    }
}

/// Notifications delivered to the security team's queue.
pub struct Inbox {
    pub topic_arn: String,
    pub queue_url: String,
    sqs: aws_sdk_sqs::Client,
}

/// One SNS notification as an SQS subscriber receives it.
#[derive(Debug, Clone)]
pub struct Received {
    pub subject: String,
    /// The `sqs` member of the `MessageStructure=json` message: the JSON Report.
    pub report: Value,
    pub attributes: HashMap<String, String>,
}

impl Received {
    /// The backup an inline policy gets in the topic before it is deleted (not a Report).
    pub fn is_backup(&self) -> bool {
        self.report["outcome"] == "inline_policy_backup"
    }
}

/// The notifications that are Reports, without the backups published before deletes.
pub fn reports(notes: &[Received]) -> Vec<&Received> {
    notes.iter().filter(|n| !n.is_backup()).collect()
}

impl Inbox {
    /// Waits up to `wait` for notifications, returning all that arrived (deleted from the queue).
    pub async fn drain(&self, wait: Duration) -> Result<Vec<Received>> {
        let deadline = Instant::now() + wait;
        let mut received = Vec::new();
        loop {
            let out = self
                .sqs
                .receive_message()
                .queue_url(&self.queue_url)
                .max_number_of_messages(10)
                .wait_time_seconds(1)
                .send()
                .await?;
            for message in out.messages() {
                let envelope: Value = serde_json::from_str(message.body().unwrap_or_default())?;
                received.push(parse_envelope(&envelope)?);
                if let Some(handle) = message.receipt_handle() {
                    self.sqs
                        .delete_message()
                        .queue_url(&self.queue_url)
                        .receipt_handle(handle)
                        .send()
                        .await?;
                }
            }
            if Instant::now() > deadline {
                return Ok(received);
            }
            if out.messages().is_empty() && !received.is_empty() {
                return Ok(received);
            }
        }
    }
}

fn parse_envelope(envelope: &Value) -> Result<Received> {
    let message = envelope["Message"].as_str().context("SNS envelope without Message")?;
    let attributes = envelope["MessageAttributes"]
        .as_object()
        .map(|m| {
            m.iter()
                .map(|(k, v)| (k.clone(), v["Value"].as_str().unwrap_or_default().to_owned()))
                .collect()
        })
        .unwrap_or_default();
    Ok(Received {
        subject: envelope["Subject"].as_str().unwrap_or_default().to_owned(),
        report: serde_json::from_str(message).with_context(|| format!("sqs message is not JSON: {message}"))?,
        attributes,
    })
}

/// Configuration as the function would read it, with `overrides` on top.
pub fn config(topic_arn: &str, overrides: &[(&str, &str)]) -> Config {
    let mut vars: HashMap<String, String> = HashMap::from([
        ("SNS_TOPIC_ARN".to_owned(), topic_arn.to_owned()),
        ("SCAN_REGIONS".to_owned(), format!("{REGION},{SECOND_REGION}")),
        ("MODE".to_owned(), "dry-run".to_owned()),
    ]);
    for (k, v) in overrides {
        vars.insert((*k).to_owned(), (*v).to_owned());
    }
    Config::from_lookup(|name| vars.get(name).cloned()).expect("valid test configuration")
}

/// The remediator wired to the emulator.
pub async fn remediator(account: &Account, config: Config) -> AwsRemediator {
    let (identity, adapters) = noderole::aws::adapters(&account.sdk, &config)
        .await
        .expect("the adapters build against moto");
    Remediator::new(config, identity, adapters)
}

/// An `events/` file.
pub fn event_file(name: &str) -> Value {
    let path = repo_root().join("events").join(name);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// `events/attach-admin-to-node-role.json` retargeted at `role` and `policy_arn`.
pub fn attach_event(role: &str, policy_arn: &str) -> Value {
    let mut event = event_file("attach-admin-to-node-role.json");
    event["detail"]["requestParameters"] = json!({"roleName": role, "policyArn": policy_arn});
    event
}

/// `events/put-inline-on-node-role.json` retargeted at `role` and `policy`.
pub fn put_event(role: &str, policy: &str, document: &str) -> Value {
    let mut event = event_file("put-inline-on-node-role.json");
    event["detail"]["requestParameters"] = json!({"roleName": role, "policyName": policy, "policyDocument": document});
    event
}

/// `events/create-nodegroup.json` retargeted.
pub fn create_nodegroup_event(region: &str, cluster: &str, nodegroup: &str, role_arn: &str) -> Value {
    let mut event = event_file("create-nodegroup.json");
    event["region"] = json!(region);
    event["detail"]["awsRegion"] = json!(region);
    event["detail"]["requestParameters"]["name"] = json!(cluster);
    event["detail"]["requestParameters"]["nodegroupName"] = json!(nodegroup);
    event["detail"]["requestParameters"]["nodeRole"] = json!(role_arn);
    event["detail"]["responseElements"]["nodegroup"]["clusterName"] = json!(cluster);
    event["detail"]["responseElements"]["nodegroup"]["nodegroupName"] = json!(nodegroup);
    event["detail"]["responseElements"]["nodegroup"]["nodeRole"] = json!(role_arn);
    event
}

/// The report as JSON, for assertions on the contract rather than on Rust types.
pub fn json_of(report: &Report) -> Value {
    serde_json::to_value(report).expect("report serializes")
}

/// `(action, policy, status)` of every action in a JSON report.
pub fn actions(report: &Value) -> Vec<(String, String, String)> {
    report["actions"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|a| {
                    (
                        a["action"].as_str().unwrap_or_default().to_owned(),
                        a["policy_name"].as_str().unwrap_or_default().to_owned(),
                        a["result"]["status"].as_str().unwrap_or_default().to_owned(),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

/// The real function binary under the Lambda runtime emulator: `cargo lambda watch
/// --only-lambda-apis` serves the runtime API and invokes, and the already-built
/// `node-role-remediator` binary runs against it. (Letting `watch` build the function itself
/// would wait forever on the build lock that `cargo test` holds.)
pub struct LambdaWatch {
    pub port: u16,
    /// The function's stdout and stderr.
    pub log: PathBuf,
    watch: Child,
    function: Child,
}

impl LambdaWatch {
    /// Starts the emulator and the function with `env` as its environment.
    pub fn start(env: &[(&str, &str)]) -> Result<LambdaWatch> {
        use std::os::unix::process::CommandExt;
        let binary = function_binary()?;
        let port = free_port()?;
        let watch = Command::new("cargo")
            .current_dir(repo_root())
            .env("PATH", path_with_venv())
            .args(["lambda", "watch", "--only-lambda-apis", "--invoke-address", "127.0.0.1"])
            .args(["--invoke-port", &port.to_string(), "--timeout", "120"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .process_group(0)
            .spawn()
            .context("spawning cargo lambda watch (run `make tools` for .venv/bin/cargo-lambda)")?;
        wait_for_port(port, "cargo lambda watch")?;
        // the function's log, kept beside the test binary for post-mortems
        let log_path = std::env::temp_dir().join(format!("node-role-remediator-{port}.log"));
        let log = std::fs::File::create(&log_path)?;
        let function = Command::new(&binary)
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("AWS_LAMBDA_RUNTIME_API", format!("http://127.0.0.1:{port}/.rt"))
            .env("AWS_LAMBDA_FUNCTION_NAME", "_")
            .env("AWS_LAMBDA_FUNCTION_VERSION", "1")
            .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "256")
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .process_group(0)
            .spawn()
            .with_context(|| format!("spawning {}", binary.display()))?;
        Ok(LambdaWatch {
            port,
            log: log_path,
            watch,
            function,
        })
    }

    /// The lines of the function's output that are CloudWatch EMF documents (JSON with `_aws`).
    pub fn emf_lines(&self) -> Result<Vec<Value>> {
        let text = std::fs::read_to_string(&self.log)?;
        Ok(text
            .lines()
            .filter_map(|line| serde_json::from_str::<Value>(line).ok())
            .filter(|doc| doc.get("_aws").is_some())
            .collect())
    }

    /// `cargo lambda invoke` with `event`; the Report on success, the error output otherwise.
    pub fn invoke(&self, event: &Value) -> Result<std::result::Result<Value, String>> {
        let data = TempFile::new("event.json", &event.to_string())?;
        let out = Command::new("timeout")
            .arg("120")
            .arg("cargo")
            .current_dir(repo_root())
            .env("PATH", path_with_venv())
            .args(["lambda", "invoke", "--invoke-address", "127.0.0.1"])
            .args(["--invoke-port", &self.port.to_string(), "--output-format", "json"])
            .arg("--data-file")
            .arg(&data.path)
            .stdin(Stdio::null())
            .output()
            .context("running cargo lambda invoke")?;
        if out.status.success() {
            Ok(Ok(serde_json::from_slice(&out.stdout).with_context(|| {
                format!("invoke output is not JSON: {}", String::from_utf8_lossy(&out.stdout))
            })?))
        } else {
            Ok(Err(format!(
                "{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            )))
        }
    }
}

impl Drop for LambdaWatch {
    fn drop(&mut self) {
        // each leads its own process group: end the groups, then reap the leaders
        for child in [&mut self.function, &mut self.watch] {
            let _ = Command::new("kill")
                .args(["-KILL", "--", &format!("-{}", child.id())])
                .status();
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// The `eks-node-role-guard` command built next to the test binaries.
pub fn cli_binary() -> Result<PathBuf> {
    built_binary("eks-node-role-guard")
}

/// What one run of the command printed, and its exit code.
#[derive(Debug)]
pub struct CliRun {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

/// Runs the command against `endpoint` with static test credentials and no other AWS
/// configuration (no profile files, no instance metadata: nothing leaves loopback).
pub fn run_cli(endpoint: &str, args: &[&str]) -> Result<CliRun> {
    run_cli_env(
        args,
        &[
            ("AWS_ENDPOINT_URL", endpoint),
            ("AWS_ACCESS_KEY_ID", "testing"),
            ("AWS_SECRET_ACCESS_KEY", "testing"),
        ],
    )
}

/// [`run_cli`] with exactly `env` on top of an empty AWS configuration.
pub fn run_cli_env(args: &[&str], env: &[(&str, &str)]) -> Result<CliRun> {
    let mut command = Command::new(cli_binary()?);
    command
        .args(args)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("AWS_REGION", REGION)
        .env("AWS_CONFIG_FILE", "/nonexistent/aws-config")
        .env("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent/aws-credentials")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .stdin(Stdio::null());
    for (key, value) in env {
        command.env(key, value);
    }
    let out = command.output().context("running eks-node-role-guard")?;
    Ok(CliRun {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    })
}

pub fn function_binary() -> Result<PathBuf> {
    built_binary("node-role-remediator")
}

/// `target/<profile>/<package>`, next to this test's own `deps/` directory.
fn built_binary(package: &str) -> Result<PathBuf> {
    let exe = std::env::current_exe()?;
    let profile_dir = exe
        .parent()
        .and_then(Path::parent)
        .context("test binary has no target directory")?;
    let binary = profile_dir.join(package);
    if binary.exists() {
        Ok(binary)
    } else {
        Err(anyhow!(
            "{} is missing: build it first (`cargo build -p {package}`; `make test` does)",
            binary.display()
        ))
    }
}

fn path_with_venv() -> String {
    let venv_bin = repo_root().join(".venv/bin");
    format!("{}:{}", venv_bin.display(), std::env::var("PATH").unwrap_or_default())
}

/// A file removed when dropped.
pub struct TempFile {
    pub path: PathBuf,
}

impl TempFile {
    pub fn new(name: &str, content: &str) -> Result<TempFile> {
        let path = std::env::temp_dir().join(unique("noderole")).join(name);
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        std::fs::write(&path, content)?;
        Ok(TempFile { path })
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        if let Some(dir) = self.path.parent() {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}
