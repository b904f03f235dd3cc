//! Who sees what. Client identification, groups, and [`decide`], a pure
//! function from a snapshot, a client's group and a name to a [`Decision`].
//! Every rule about filtering lives here and nowhere else.

pub mod alerts;
pub mod clients;
pub mod decide;
pub mod exemptions;
pub mod groups;
pub mod reasons;
pub mod safesearch;
pub mod schedule;
pub mod snapshot;

pub use clients::{Client, ClientTable};
pub use decide::{AllowReason, Block, BlockAnswer, BlockRule, Decision, decide, decide_str};
pub use exemptions::{
    Exemption, ExemptionKind, ExemptionScope, ExemptionSet, ExemptionStatus, NewExemption,
    check_approval, check_request,
};
pub use groups::Group;
pub use reasons::{check_person, check_reason};
pub use snapshot::Snapshot;
