//! Incidents: the words an incident is recorded in (its kind, how it came
//! to light, the agencies it may be referred to), an incident as opened,
//! and what opening one, adding to it and closing it must give. `store`
//! keeps incidents; it judges nothing.

use ipnet::IpNet;
use serde::{Deserialize, Serialize};

use super::holds::check_period;
use super::reasons::{check_person, check_reason};

macro_rules! word_enum {
    ($(#[$doc:meta])* $name:ident { $($variant:ident = $text:literal),* $(,)? }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
        pub enum $name {
            $(#[serde(rename = $text)] $variant,)*
        }

        impl $name {
            pub const ALL: &[$name] = &[$($name::$variant,)*];

            pub fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $text,)*
                }
            }

            /// The value named `text`, or an error listing the real ones.
            pub fn parse(text: &str) -> Result<$name, String> {
                let wanted = text.trim().to_lowercase();
                $name::ALL
                    .iter()
                    .copied()
                    .find(|v| v.as_str() == wanted)
                    .ok_or_else(|| {
                        let all: Vec<&str> = $name::ALL.iter().map(|v| v.as_str()).collect();
                        format!("{text:?} is not one of: {}", all.join(", "))
                    })
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

word_enum! {
    /// What kind of incident (the national toolkit's types).
    IncidentKind {
        AccidentalInappropriate = "accidental-inappropriate",
        AccidentalIllegal = "accidental-illegal",
        DeliberateInappropriate = "deliberate-inappropriate",
        DeliberateIllegal = "deliberate-illegal",
        Misuse = "misuse",
        Bullying = "bullying",
    }
}

word_enum! {
    /// How the incident came to light.
    Identified {
        Alert = "alert",
        Report = "report",
        Staff = "staff",
    }
}

word_enum! {
    /// Where an incident was sent for investigation.
    Agency {
        Iwf = "iwf",
        Ceop = "ceop",
        Police = "police",
        Lado = "lado",
        SocialCare = "social-care",
        None = "none",
    }
}

/// An incident as the server opens it (involvement already worked out).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewIncident {
    pub kind: IncidentKind,
    pub summary: String,
    pub identified: Identified,
    pub involved: String,
    /// With `from_ms`, the log rows held as evidence.
    pub client: Option<IpNet>,
    pub from_ms: Option<i64>,
    pub to_ms: Option<i64>,
    pub alert: Option<i64>,
    pub by: String,
}

/// Checks an incident about to be opened at `now_ms`: the person, a
/// summary someone can act on later, and, with a client, the start of the
/// period whose rows are held, which must not end before it starts.
pub fn check_opening(new: &NewIncident, now_ms: i64) -> Result<(), String> {
    check_person(&new.by, "--by")?;
    check_reason(&new.summary, "--summary")?;
    match (&new.client, new.from_ms) {
        (Some(_), None) => {
            return Err(
                "--client needs --from: the start of the period whose log rows are kept as evidence"
                    .into(),
            );
        }
        (None, Some(_)) => {
            return Err("--from needs --client: whose log rows are kept as evidence".into());
        }
        _ => {}
    }
    if let Some(from_ms) = new.from_ms {
        check_period(from_ms, new.to_ms.unwrap_or(now_ms))?;
    }
    Ok(())
}

/// Checks an entry appended to an incident: the person, and for an action
/// taken (no `agency`) a text someone can act on later. A referral's text
/// may be empty: the agency says what was done.
pub fn check_entry(by: &str, text: &str, agency: Option<Agency>) -> Result<(), String> {
    check_person(by, "--by")?;
    if agency.is_none() {
        check_reason(text, "--text")?;
    }
    Ok(())
}

/// Checks the closing of an incident: the person and the conclusion.
pub fn check_closing(by: &str, conclusion: &str) -> Result<(), String> {
    check_person(by, "--by")?;
    check_reason(conclusion, "--conclusion")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn new(client: Option<&str>) -> NewIncident {
        NewIncident {
            kind: IncidentKind::DeliberateInappropriate,
            summary: "pupil searched for adult content repeatedly".into(),
            identified: Identified::Staff,
            involved: "Year 6 iPad 14 (10.1.0.14), group pupils".into(),
            client: client.map(|c| c.parse().unwrap()),
            from_ms: client.map(|_| 1_000),
            to_ms: client.map(|_| 5_000),
            alert: None,
            by: "Ms Khan".into(),
        }
    }

    #[test]
    fn opening_needs_a_person_a_summary_and_a_whole_period() {
        assert_eq!(check_opening(&new(Some("10.1.0.14/32")), 9_000), Ok(()));
        assert_eq!(check_opening(&new(None), 9_000), Ok(()));
        let nobody = NewIncident {
            by: "".into(),
            ..new(None)
        };
        assert!(
            check_opening(&nobody, 9_000)
                .unwrap_err()
                .starts_with("--by")
        );
        let vague = NewIncident {
            summary: "misuse".into(),
            ..new(None)
        };
        assert!(
            check_opening(&vague, 9_000)
                .unwrap_err()
                .starts_with("--summary")
        );
        let no_start = NewIncident {
            from_ms: None,
            ..new(Some("10.1.0.14/32"))
        };
        assert!(
            check_opening(&no_start, 9_000)
                .unwrap_err()
                .starts_with("--client needs --from")
        );
        let no_client = NewIncident {
            client: None,
            ..new(Some("10.1.0.14/32"))
        };
        assert!(
            check_opening(&no_client, 9_000)
                .unwrap_err()
                .starts_with("--from needs --client")
        );
        let backwards = NewIncident {
            to_ms: Some(500),
            ..new(Some("10.1.0.14/32"))
        };
        assert!(
            check_opening(&backwards, 9_000)
                .unwrap_err()
                .contains("before it starts")
        );
        // Without an end, the period runs to now.
        let open_ended = NewIncident {
            to_ms: None,
            ..new(Some("10.1.0.14/32"))
        };
        assert_eq!(check_opening(&open_ended, 9_000), Ok(()));
        assert!(
            check_opening(&open_ended, 500)
                .unwrap_err()
                .contains("before it starts")
        );
    }

    #[test]
    fn a_note_needs_words_a_referral_names_its_agency() {
        assert!(
            check_entry("Ms Khan", "ok", None)
                .unwrap_err()
                .contains("--text")
        );
        assert_eq!(
            check_entry("Ms Khan", "spoke to the pupil and their parents", None),
            Ok(())
        );
        assert_eq!(check_entry("Ms Khan", "", Some(Agency::Ceop)), Ok(()));
        assert!(
            check_entry("", "", Some(Agency::Ceop))
                .unwrap_err()
                .starts_with("--by")
        );
    }

    #[test]
    fn closing_needs_a_person_and_a_conclusion() {
        assert_eq!(check_closing("Ms Khan", "no further action needed"), Ok(()));
        assert!(
            check_closing("Ms Khan", "done")
                .unwrap_err()
                .starts_with("--conclusion")
        );
        assert!(
            check_closing("\u{7}", "no further action needed")
                .unwrap_err()
                .contains("control characters")
        );
    }

    #[test]
    fn words_parse_or_list_the_real_ones() {
        assert_eq!(
            IncidentKind::parse(" Bullying "),
            Ok(IncidentKind::Bullying)
        );
        assert!(
            IncidentKind::parse("gossip")
                .unwrap_err()
                .contains("bullying")
        );
        assert_eq!(Agency::parse("social-care"), Ok(Agency::SocialCare));
    }
}
