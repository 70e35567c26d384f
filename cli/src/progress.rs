//! The audit's progress on standard error: a spinner, then a bar over the node roles found.

use std::io::IsTerminal;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};
use noderole::running::sweep::Progress;

/// A progress bar on standard error when it is a terminal; nothing otherwise.
pub struct Bar(Option<ProgressBar>);

impl Bar {
    pub fn new() -> Self {
        if !std::io::stderr().is_terminal() {
            return Bar(None);
        }
        let bar = ProgressBar::new_spinner();
        bar.enable_steady_tick(Duration::from_millis(120));
        Bar(Some(bar))
    }

    pub fn finish(&self) {
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
