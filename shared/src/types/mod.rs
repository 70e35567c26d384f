//! The floor: the data every stage passes on. Nothing here imports anything of the crate
//! outside `types` (a test in `crate::layers` holds that), so any module may use these.

pub mod addon;
pub mod arn;
mod binding;
mod door;
mod eks;
mod error;
mod exception;
mod finding;
mod iam;
mod identity;
mod instance;
mod migration;
mod mode;
mod notification;
mod report;
mod severity;
mod shell;
mod sweep;
mod trail;
mod verdict;

pub use addon::{AddonNeed, AddonNeeds, KNOWN_ADDONS, KnownAddon, VPC_CNI};
pub use binding::{IndexSource, NodeBinding, NodeFacts};
pub use door::{Door, DoorKind};
pub use eks::{AccessEntry, AddonCredentials, Nodegroup};
pub use error::{AwsError, AwsResult, ErrorKind};
pub use exception::{Excepted, Exception};
pub use finding::{Finding, FindingsStatus, GENERATOR_ID, ImportOutcome, OpenFinding, PRODUCT_NAME};
pub use iam::{AttachedPolicy, Change, InlinePolicy, Role, RoleState, decode_document};
pub use identity::Identity;
pub use instance::{
    CredentialSwap, Instance, InstanceProfile, Instances, NAMED_INSTANCES, NodeKind, ProfileAssociation, SharedRole,
    SwapFix,
};
pub use migration::{MIGRATIONS_HEADING, Migration};
pub use mode::Mode;
pub use notification::Notification;
pub use report::{
    ActionKind, ActionRecord, ActionResult, EventSummary, InlineBackup, NotificationStatus, Outcome, Report, RoleRef,
    SWEEP_EVENT,
};
pub use severity::Severity;
pub use shell::shell_quote;
pub use sweep::{AccountLine, ActionTotals, Totals};
pub use trail::{FieldSelector, IAM_EVENTS_REGION, Selector, TrailState};
pub use verdict::{Evaluation, Kept, Usage, Violation};
