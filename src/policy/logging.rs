//! What the query log keeps. A group's `log` level says which of its
//! queries are kept; a block of a mandatory category (illegal content) is
//! evidence, kept whatever the level. `store` writes what it is given.

use crate::config::LogLevel;

/// What the rule looks at in an answered query.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answered {
    /// With the group's block answer; `mandatory`: the block was of a
    /// mandatory category.
    Blocked { mandatory: bool },
    /// Any other way: allowed, rewritten, local, refused.
    Otherwise,
}

/// Whether the query log keeps a query of a group at `level` answered as
/// `answered`: `full` keeps every one, `blocked` the blocked ones only
/// (adults' browsing need not be kept), `none` nothing; a mandatory block
/// always.
pub fn keeps(level: LogLevel, answered: Answered) -> bool {
    match (level, answered) {
        (_, Answered::Blocked { mandatory: true }) => true,
        (LogLevel::Full, _) => true,
        (LogLevel::Blocked, Answered::Blocked { .. }) => true,
        (LogLevel::Blocked, Answered::Otherwise) => false,
        (LogLevel::None, _) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels_keep_what_they_say_and_mandatory_blocks_always() {
        let ordinary = Answered::Blocked { mandatory: false };
        let mandatory = Answered::Blocked { mandatory: true };
        for answered in [ordinary, mandatory, Answered::Otherwise] {
            assert!(keeps(LogLevel::Full, answered));
        }
        assert!(keeps(LogLevel::Blocked, ordinary));
        assert!(!keeps(LogLevel::Blocked, Answered::Otherwise));
        assert!(!keeps(LogLevel::None, ordinary));
        assert!(!keeps(LogLevel::None, Answered::Otherwise));
        assert!(keeps(LogLevel::None, mandatory), "evidence is kept");
        assert!(keeps(LogLevel::Blocked, mandatory));
    }
}
