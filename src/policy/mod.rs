//! Who sees what. Client identification, groups, schedules, safe search,
//! the rules an exemption must meet, which blocks raise alerts and what
//! acknowledging one must give, what placing a legal hold or recording an
//! incident must give, what the query log keeps, the words a decision is
//! reported in, and [`decide`], a pure function from a snapshot, the
//! exemptions in force, a client and a name to a [`Decision`]. Every rule about who sees what lives here and
//! nowhere else; policy imports only `config` and `filter`.

pub mod alerts;
pub mod clients;
pub mod decide;
pub mod exemptions;
pub mod groups;
pub mod holds;
pub mod incidents;
pub mod leases;
pub mod logging;
pub mod neighbours;
pub mod people;
pub mod reasons;
pub mod report_schedule;
pub mod safesearch;
pub mod schedule;
pub mod snapshot;
pub mod wording;

pub use clients::{Client, ClientRule, ClientTable};
pub use decide::{AllowReason, Block, BlockAnswer, BlockRule, Decision, decide, decide_str};
pub use exemptions::{
    Exemption, ExemptionKind, ExemptionScope, ExemptionSet, ExemptionStatus, NewExemption,
    WithdrawalRefused, check_approval, check_request, check_withdrawal,
};
pub use groups::Group;
pub use holds::HoldRequest;
pub use incidents::{Agency, Identified, IncidentKind, NewIncident};
pub use neighbours::Neighbours;
pub use people::Role;
pub use reasons::{check_person, check_reason};
pub use snapshot::Snapshot;
pub use wording::{BlockWording, allow_rule, block_wording, rewrite_rule};
