//! Safe search: which names a search engine answers on, and the safe
//! endpoint hedge points them at (`lists/safesearch.toml`).

use hickory_proto::rr::{LowerName, Name};

use crate::config::{Engine, SafeSearch, YoutubeMode};

impl SafeSearch {
    /// The engine and safe endpoint for `name`, if it is a search engine's
    /// name that safe search rewrites.
    pub fn rewrite(&self, name: &LowerName, youtube: YoutubeMode) -> Option<(&Engine, &Name)> {
        let text = name.to_string();
        self.rewrite_str(text.trim_end_matches('.'), youtube)
    }

    pub fn rewrite_str(&self, name: &str, youtube: YoutubeMode) -> Option<(&Engine, &Name)> {
        let index = self
            .exact
            .get(name)
            .copied()
            .or_else(|| self.by_pattern(name))?;
        let engine = &self.engines[index];
        let target = if engine.id == "youtube" {
            match youtube {
                YoutubeMode::Off => return None,
                YoutubeMode::Moderate => engine.moderate_target.as_ref().unwrap_or(&engine.target),
                YoutubeMode::Strict => &engine.target,
            }
        } else {
            &engine.target
        };
        Some((engine, target))
    }

    /// `www.google.*` matches www.google.<tld>, www.google.co.<cc> and
    /// www.google.com.<cc>.
    fn by_pattern(&self, name: &str) -> Option<usize> {
        let labels: Vec<&str> = name.split('.').collect();
        self.engines.iter().position(|engine| {
            engine.patterns.iter().any(|prefix| {
                labels.len() > prefix.len()
                    && labels.iter().zip(prefix).all(|(a, b)| a == b)
                    && match &labels[prefix.len()..] {
                        [_tld] => true,
                        [second, _cc] => *second == "co" || *second == "com",
                        _ => false,
                    }
            })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table() -> SafeSearch {
        crate::config::built_in_safe_search()
    }

    fn target(name: &str, youtube: YoutubeMode) -> Option<String> {
        table()
            .rewrite_str(name, youtube)
            .map(|(_, t)| t.to_string())
    }

    #[test]
    fn google_country_domains() {
        for name in [
            "www.google.com",
            "www.google.co.uk",
            "www.google.de",
            "www.google.com.au",
            "google.com",
        ] {
            assert_eq!(
                target(name, YoutubeMode::Strict).as_deref(),
                Some("forcesafesearch.google.com."),
                "{name}"
            );
        }
        for name in [
            "mail.google.com",
            "www.google.evil.example.com",
            "maps.google.co.uk",
            "www.google.org.uk.example",
        ] {
            assert_eq!(target(name, YoutubeMode::Strict), None, "{name}");
        }
    }

    #[test]
    fn youtube_strict_moderate_off() {
        for name in [
            "www.youtube.com",
            "m.youtube.com",
            "youtubei.googleapis.com",
            "youtube.googleapis.com",
            "www.youtube-nocookie.com",
        ] {
            assert_eq!(
                target(name, YoutubeMode::Strict).as_deref(),
                Some("restrict.youtube.com."),
                "{name}"
            );
            assert_eq!(
                target(name, YoutubeMode::Moderate).as_deref(),
                Some("restrictmoderate.youtube.com."),
                "{name}"
            );
            assert_eq!(target(name, YoutubeMode::Off), None, "{name}");
        }
    }

    #[test]
    fn other_engines() {
        assert_eq!(
            target("www.bing.com", YoutubeMode::Off).as_deref(),
            Some("strict.bing.com.")
        );
        assert_eq!(
            target("duckduckgo.com", YoutubeMode::Off).as_deref(),
            Some("safe.duckduckgo.com.")
        );
        assert_eq!(
            target("yandex.ru", YoutubeMode::Off).as_deref(),
            Some("familysearch.yandex.ru.")
        );
        assert_eq!(target("www.example.com", YoutubeMode::Strict), None);
        for engine in table().engines() {
            assert!(
                engine.source.starts_with("https://"),
                "{} cites its source",
                engine.id
            );
        }
    }
}
