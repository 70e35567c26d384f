//! `aws-proxy --upstream http://127.0.0.1:PORT [--latency-ms N] [--throttle FRACTION] [--seed N]
//! [--deny svc:Op,...]`: prints `http://127.0.0.1:PORT` once it listens, then proxies until killed.

use std::io::Write;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use aws_proxy::{Options, Proxy};

const USAGE: &str = "usage: aws-proxy --upstream http://127.0.0.1:PORT [--latency-ms N] [--throttle FRACTION] \
                     [--seed N] [--deny svc:Op,...]

Forwards every request to the upstream. --latency-ms sleeps before each request; --throttle answers that
fraction (0 to 1) of AWS requests with the protocol's throttling error, chosen with --seed (default 1);
--deny answers requests whose name starts with one of the prefixes (eks:, iam:DetachRolePolicy) with
access denied. Prints the proxy's endpoint on one line once it listens and runs until killed.
GET /__proxy/seen answers what it has seen as JSON; POST /__proxy/reset forgets it.";

#[derive(Debug, PartialEq)]
struct Args {
    upstream: String,
    options: Options,
}

fn parse(args: impl IntoIterator<Item = String>) -> Result<Args> {
    let mut upstream = None;
    let mut options = Options::default();
    let mut args = args.into_iter();
    while let Some(arg) = args.next() {
        let (flag, inline) = match arg.split_once('=') {
            Some((flag, value)) if flag.starts_with("--") => (flag.to_owned(), Some(value.to_owned())),
            _ => (arg, None),
        };
        if flag == "--help" || flag == "-h" {
            bail!("{USAGE}");
        }
        let value = match inline {
            Some(value) => value,
            None => args
                .next()
                .with_context(|| format!("{flag} needs a value\n\n{USAGE}"))?,
        };
        match flag.as_str() {
            "--upstream" => upstream = Some(value),
            "--latency-ms" => {
                let ms = value
                    .parse()
                    .with_context(|| format!("--latency-ms {value}: not a number"))?;
                options.latency = Duration::from_millis(ms);
            }
            "--throttle" => {
                let fraction: f64 = value
                    .parse()
                    .with_context(|| format!("--throttle {value}: not a number"))?;
                if !(0.0..=1.0).contains(&fraction) {
                    bail!("--throttle {value}: a fraction from 0 to 1");
                }
                options.fraction = fraction;
            }
            "--seed" => options.seed = value.parse().with_context(|| format!("--seed {value}: not a number"))?,
            "--deny" => options.deny.extend(
                value
                    .split(',')
                    .map(str::trim)
                    .filter(|prefix| !prefix.is_empty())
                    .map(str::to_owned),
            ),
            _ => bail!("unknown argument {flag}\n\n{USAGE}"),
        }
    }
    let upstream = upstream.with_context(|| format!("--upstream is required\n\n{USAGE}"))?;
    Ok(Args { upstream, options })
}

fn run() -> Result<()> {
    let args = parse(std::env::args().skip(1))?;
    let proxy = Proxy::with_options(&args.upstream, args.options)?;
    let mut stdout = std::io::stdout().lock();
    writeln!(stdout, "{}", proxy.endpoint)?;
    stdout.flush()?;
    drop(stdout);
    loop {
        std::thread::park();
    }
}

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("aws-proxy: {err:#}");
            ExitCode::from(2)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(line: &str) -> Result<Args> {
        parse(line.split_whitespace().map(str::to_owned))
    }

    #[test]
    fn every_option_is_read_in_both_spellings() {
        let parsed =
            args("--upstream http://127.0.0.1:5000 --latency-ms=50 --throttle 0.3 --seed=7 --deny eks:,iam:Detach")
                .unwrap();
        assert_eq!(parsed.upstream, "http://127.0.0.1:5000");
        assert_eq!(
            parsed.options,
            Options {
                fraction: 0.3,
                seed: 7,
                latency: Duration::from_millis(50),
                deny: vec!["eks:".to_owned(), "iam:Detach".to_owned()],
            }
        );
    }

    #[test]
    fn defaults_forward_everything() {
        let parsed = args("--upstream http://127.0.0.1:5000").unwrap();
        assert_eq!(parsed.options, Options::default());
    }

    #[test]
    fn bad_arguments_are_refused_with_a_reason() {
        let cases = [
            ("", "--upstream is required"),
            ("--upstream", "--upstream needs a value"),
            ("--upstream http://x --throttle 2", "a fraction from 0 to 1"),
            ("--upstream http://x --latency-ms soon", "not a number"),
            ("--upstream http://x --verbose 1", "unknown argument --verbose"),
        ];
        for (line, reason) in cases {
            let err = args(line).unwrap_err().to_string();
            assert!(err.contains(reason), "{line:?}: {err}");
        }
    }
}
